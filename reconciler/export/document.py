"""The exported file's text: scalars, settings blocks, profile names, the document.

The writer is the cost model's ruler: ``value_lines`` measures a value with the same function
that writes it, so the line counts the factoring minimises are the lines in the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from ..models import unflatten
from ..render.common import plural

if TYPE_CHECKING:
    from .account import Exported

MARK = "# Exported by reconciler export"
"""First words of every exported file: an existing file without them is never overwritten."""


@lru_cache(maxsize=65536)
def _plain(text: str, flow: bool) -> bool:
    """Whether ``text`` reads back as itself when written unquoted."""
    if not text or text != text.strip() or text[0] in "!&*%@`|>'\"{}[],#?:-":
        return False
    probe = f"k: [{text}]" if flow else f"k: {text}"
    try:
        loaded = yaml.safe_load(probe)
    except yaml.YAMLError:
        return False
    return loaded == {"k": [text] if flow else text}


def scalar(value: Any, *, flow: bool = False) -> str:
    """One YAML scalar; strings unquoted when they read back unchanged, else JSON-quoted
    (a JSON string is a valid YAML double-quoted scalar)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if _plain(text, flow):
        return text
    # JSON escapes are YAML double-quoted escapes; characters YAML does not allow in a stream
    # (C1 controls, DEL, U+FFFE/F) or reads as line breaks (NEL, U+2028/9) are escaped too.
    return _UNPRINTABLE.sub(_escape, json.dumps(text, ensure_ascii=False))


_UNPRINTABLE = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def block(mapping: Mapping[str, Any], indent: int = 0) -> list[str]:
    """A mapping as block YAML lines; lists of scalars in flow style (one line), lists of
    mappings as ``- `` items."""
    pad = " " * indent
    out: list[str] = []
    for key, value in mapping.items():
        name = scalar(key)
        if isinstance(value, Mapping):
            out.append(f"{pad}{name}:")
            out.extend(block(value, indent + 2))
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            out.append(f"{pad}{name}:")
            for item in value:
                lines = block(item, indent + 4)
                lines[0] = f"{pad}  - {lines[0].lstrip()}"
                out.extend(lines)
        elif isinstance(value, list):
            out.append(f"{pad}{name}: [{', '.join(scalar(v, flow=True) for v in value)}]")
        else:
            out.append(f"{pad}{name}: {scalar(value)}")
    return out


def value_lines(path: str, value: Any) -> int:
    """Lines one field takes in a settings block, not counting its parents' headers."""
    return len(block({path.rsplit(".", 1)[-1]: value}))


def content_lines(text: str) -> int:
    """Lines that carry YAML (not blank, not only a comment): the size the factoring minimises."""
    return sum(
        1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


# --------------------------------------------------------------------------------------------
# Profile names

_WORDS = {"recording": "rec", "transcription": "transcribe", "forwarding": "fwd"}
_QUIET = {"enabled", "call", "inbound", "listing", "id", "url", "voice", "method", "deletion"}
_QUIET |= {"threshold", "gateway", "details"}
_OPAQUE = re.compile(r"^(?:[0-9]{8,}|[0-9a-f]{8}-[0-9a-f-]{20,})$", re.IGNORECASE)
MAX_NAME = 48


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:24].strip("-")


def _short(path: str) -> str:
    words = [_WORDS.get(w, w) for w in path.rsplit(".", 1)[-1].split("_") if w not in _QUIET]
    return "-".join(words) or _slug(path.rsplit(".", 1)[-1])


def _text_token(path: str, text: str) -> str:
    if text == "":
        return f"no-{_short(path)}"
    if _OPAQUE.match(text):
        return f"{_short(path)}-{text[-4:].lower()}"
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        tail = [p for p in parts.path.split("/") if p][-2:]
        return _slug("-".join(tail) or parts.hostname or text)
    if text.startswith(("sip:", "sips:")) and "@" in text:
        return _slug(text.split("@", 1)[1].split(".", 1)[0])
    if text.startswith("+") and text[1:].isdigit():
        return f"to-{text[1:]}"
    slug = _slug(text)
    return (
        slug
        if any(c in text for c in "-_.@/0123456789") or len(slug) > 8
        else f"{_short(path)}-{slug}"
    )


def token(path: str, value: Any) -> str:
    """A few readable characters for one setting: ``sms-on``, ``pbx-detroit``,
    ``support-chicago``.
    """
    if isinstance(value, bool):
        return f"{_short(path)}-{'on' if value else 'off'}"
    if isinstance(value, int):
        return f"{_short(path)}-{value}"
    if isinstance(value, str):
        return _text_token(path, value)
    if isinstance(value, list):
        if not value:
            return f"no-{_short(path)}"
        first = value[0]
        if isinstance(first, Mapping):
            text = next((v for v in first.values() if isinstance(v, str)), "")
            head = _text_token(path, text) if text else _short(path)
            return head if len(value) == 1 else f"{head}-and-{len(value) - 1}-more"
        return "-".join(_slug(str(v)) for v in value[:3])
    return _short(path)


def _rank(value: Any) -> int:
    if isinstance(value, list):
        return 0
    if isinstance(value, bool):
        return 1
    return 2 if isinstance(value, str) else 3


def profile_names(
    profiles: Sequence[Mapping[str, Any]], order: Sequence[str], taken: Iterable[str] = ()
) -> list[str]:
    """Readable, unique names from each profile's dominant settings.

    Fields that tell the profiles apart come first (lists, then switches, then text, then
    numbers; ``order`` breaks ties), then the rest. A name is its profile's first two tokens;
    names that collide (or are taken) each add the token of the first field that tells them
    apart; names still equal get ``-2``, ``-3`` in profile order. Deterministic: the same
    profiles give the same names.
    """
    taken = set(taken)
    where = {p: i for i, p in enumerate(order)}

    def key(path: str) -> tuple[int, int, int]:
        seen = {token(path, p[path]) if path in p else None for p in profiles}
        sample = next(p[path] for p in profiles if path in p)
        return (0 if len(seen) > 1 else 1, _rank(sample), where.get(path, len(where)))

    fields = sorted({f for p in profiles for f in p}, key=key)
    tokens = [{f: token(f, p[f]) for f in fields if f in p} for p in profiles]
    parts = [list(t.values())[:2] for t in tokens]
    for _ in range(len(fields)):
        names = [_name(p) for p in parts]
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            groups.setdefault(name, []).append(i)
        grew = False
        for name, members in groups.items():
            if len(members) == 1 and name not in taken:
                continue
            # the first field whose token tells the colliding profiles apart, not yet in the name
            for f in fields:
                seen = {tokens[i].get(f, f"no-{_short(f)}") for i in members}
                if len(seen) > 1 or (len(members) == 1 and f in tokens[members[0]]):
                    new = [tokens[i].get(f, f"no-{_short(f)}") for i in members]
                    if all(t not in parts[i] for i, t in zip(members, new, strict=True)):
                        for i, t in zip(members, new, strict=True):
                            parts[i].append(t)
                        grew = True
                        break
        if not grew:
            break
    out: list[str] = []
    for name in (_name(p) for p in parts):
        unique, n = name, 1
        while unique in out or unique in taken:
            n += 1
            unique = f"{name}-{n}"
        out.append(unique)
    return out


def _name(parts: Sequence[str]) -> str:
    name = "-".join(p for p in parts if p)[:MAX_NAME].strip("-") or "profile"
    return name if name[0].isalpha() else f"p-{name}"


# --------------------------------------------------------------------------------------------
# The document


@dataclass
class Profile:
    name: str
    settings: dict[str, Any]
    """Flat path → YAML value, in field order."""
    numbers: int


@dataclass
class Entry:
    selector: str
    covers: int
    profile: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def _wrap(prefix: str, items: Sequence[str], width: int = 100) -> list[str]:
    lines, line = [], prefix
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if len(line) + len(piece) + 1 > width and line.strip() != "#":
            lines.append(line.rstrip())
            line = "#  "
        line += " " + piece
    lines.append(line.rstrip())
    return lines


def document(
    out: Exported,
    provider: Mapping[str, Any] | None,
    profiles: Sequence[Profile],
    entries: Sequence[Entry],
    now: datetime,
) -> str:
    """The exported file: header comments, providers (unless another file declares the
    account), profiles (most used first), numbers (in number order), closing comments."""
    body: list[str] = []
    if provider is not None:
        body += ["", *block({"providers": {out.account: dict(provider)}})]
    if profiles:
        body += ["", "profiles:"]
        for p in profiles:
            body.append(f"  {scalar(p.name)}:  # {plural(p.numbers, 'number')}")
            body += block(unflatten(p.settings), 4)
    body += ["", "numbers:" if entries else "numbers: []"]
    for e in entries:
        body.append(f"  - provider: {scalar(out.account)}")
        note = f"  # {plural(e.covers, 'number')}" if e.selector.endswith("*") else ""
        body.append(f"    number: {json.dumps(e.selector)}{note}")
        if e.profile is not None:
            body.append(f"    profile: {scalar(e.profile)}")
        if e.settings:
            body += ["    settings:", *block(unflatten(e.settings), 6)]
    lines = content_lines("\n".join(body))

    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = [f"{MARK} from account {out.account} ({out.carrier}) at {stamp}."]
    head += _wrap(f"# Managed fields ({len(out.fields)}):", out.fields)
    for path in out.secret_unmanaged:
        head.append(
            f"# Not managed: {path} (secret; export writes secrets only as ${{VAR}} references "
            "and the loader does not expand them in settings yet)."
        )
    if out.variables:
        head.append("# Secrets are environment variables; export them before plan/apply:")
        head += [f"#   {name}  ({plural(n, 'number')})" for name, n in out.variables.items()]
    patch = (
        f"; {len(out.not_patchable)} not patchable (listed at the end)" if out.not_patchable else ""
    )
    entry_word = "entry" if len(entries) == 1 else "entries"
    head.append(
        f"# {plural(out.numbers, 'number')}: {out.managed} managed by {len(entries)} {entry_word}"
        f" and {plural(len(profiles), 'profile')}{patch}."
    )
    head.append(f"# {lines} lines; one block per number would be {out.flat_lines}.")
    head.append(
        "# Profile names come from their settings: rename one by replacing it in this file."
    )

    tail: list[str] = []
    if out.not_patchable:
        tail += ["", "# Not managed: the carrier does not allow changing these numbers now:"]
        tail += _wrap("#  ", [f"{e} ({status})" for e, status in out.not_patchable])
    if out.unwritable:
        tail += ["", "# Left unmanaged where the live value is null (YAML cannot set null):"]
        tail += [f"#   {path} on {plural(n, 'number')}" for path, n in out.unwritable.items()]
    if out.refused:
        tail += ["", "# Left unmanaged where the settings model refuses the live value:"]
        tail += [f"#   {path} on {plural(n, 'number')}" for path, n in out.refused.items()]
    if out.unreadable:
        tail += ["", "# Left out where the carrier could not read the value (not managed there):"]
        tail += [f"#   {path} on {plural(n, 'number')}" for path, n in out.unreadable.items()]
    if out.duplicates:
        tail += ["", "# Held under several ids (only the fields they agree on are managed):"]
        tail += [f"#   {e164}: ids {', '.join(ids)}" for e164, ids in out.duplicates]
    return "\n".join(head + body + tail) + "\n"
