"""One account's export: live numbers → value table → factoring → YAML text, checked by the loader.

Contract of ``export_account``: the returned text, loaded by ``reconciler.loader.load``, selects
every patchable number the account has with at least one writable managed value, and resolves it
to exactly its live value of each managed field that can be written in YAML; it selects no other
number (not the ones the carrier will not let us change, listed in a comment). A value that cannot
be written (a null: YAML has no way to say "set to null"; or a value the settings model refuses)
leaves that field unmanaged on that number, and is counted in a comment; so does a value the
carrier could not read (``Carrier.unreadable``, e.g. a Telnyx messaging profile that reads
``UNAVAILABLE``): it is not a value, never written, and plan never plans from it. A number the
account holds under several ids is one entry that manages only the fields its ids agree on. Secret
fields are never written as values: as ``${VAR}`` references when the loader expands them in
settings, else left unmanaged with a comment.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .. import carriers
from ..carriers import field_paths
from ..errors import ConfigError, ReconcilerError
from ..loader import load
from ..models import LiveNumber, flatten, unflatten
from ..planner import freeze
from ..wording import did_you_mean
from .document import (
    Entry,
    Profile,
    block,
    content_lines,
    document,
    profile_names,
    value_lines,
)
from .factoring import Factoring, factor
from .table import UNSET, Table, setting_lines

_NO = object()


@dataclass
class Exported:
    """One account's export: the YAML text and what it holds."""

    account: str
    carrier: str
    text: str
    fields: list[str]
    numbers: int
    managed: int
    not_patchable: list[tuple[str, str]]
    profiles: int
    entries: int
    lines: int
    flat_lines: int
    """Content lines of the same state written as one block per number."""
    model_lines: int = 0
    """Lines of profiles and entries as the factoring's cost model counts them."""
    secret_unmanaged: list[str] = field(default_factory=list)
    unwritable: dict[str, int] = field(default_factory=dict)
    """Field → numbers whose live value is null (YAML cannot set a null: left unmanaged)."""
    refused: dict[str, int] = field(default_factory=dict)
    """Field → numbers whose live value (not null) the settings model refuses, e.g. out of
    range or not a URL (left unmanaged on them)."""
    unreadable: dict[str, int] = field(default_factory=dict)
    """Field → numbers whose live value is the carrier's "could not tell" marker
    (``Carrier.unreadable``): left unmanaged on them, never written as a value."""
    duplicates: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    """E.164 numbers the account holds under several ids, with the ids. One entry selects
    them all, so only the fields they agree on are managed there (plan does the same: every
    id is matched by the number's selector)."""
    variables: dict[str, int] = field(default_factory=dict)
    """Environment variable → numbers whose secret it stands for (never the value)."""
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)
    """Environment variable → the live secret it stands for. In memory only (the self-check and
    tests load the YAML with it); never written to a file or printed."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent: ``table`` (values), ``factor``, ``render``, ``verify`` (the loader check)."""
    path: Path | None = None


# --------------------------------------------------------------------------------------------
# Fields


def choose_fields(carrier: str, spec: str | None) -> list[str]:
    """``--fields`` (comma-separated paths; a nested group like ``voice.call_forwarding`` means
    all of its fields) → managed paths in declaration order; default: every settable field."""
    paths = field_paths(carrier)
    if not spec:
        return paths
    chosen: set[str] = set()
    for raw in spec.split(","):
        name = raw.strip()
        if not name:
            continue
        hits = [p for p in paths if p == name or p.startswith(name + ".")]
        if not hits:
            also = did_you_mean(name, paths) or f"; {carrier} fields: {', '.join(paths)}"
            raise ConfigError(f"--fields: unknown {carrier} field {name!r}{also}")
        chosen.update(hits)
    return [p for p in paths if p in chosen]


@lru_cache(maxsize=8)
def loader_expands_env(carrier: str, path: str) -> bool:
    """Whether the loader expands ``${VAR}`` in the value of settings field ``path`` (probed on
    the real loader, so export follows it when it learns to)."""
    doc = {
        "providers": {"probe": {"type": carrier, "sandbox": True}},
        "profiles": {"probe": unflatten({path: "${RECONCILER_EXPORT_PROBE}"})},
        "numbers": [{"provider": "probe", "number": "+1*", "profile": "probe"}],
    }
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "probe.yaml"
        file.write_text(yaml.safe_dump(doc), encoding="utf-8")
        try:
            state = load(file, env={"RECONCILER_EXPORT_PROBE": "4417"})
        except ConfigError:
            return False
    got = state.resolver("probe").desired("+13135550100") or {}
    return got.get(path) == "4417"


# --------------------------------------------------------------------------------------------
# Values


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _present(carrier: str, path: str, value: Any) -> Any:
    """The value as a person writes it (``Carrier.written``, e.g. Wavix transports by name)."""
    form = carriers.get(carrier).written.get(path)
    return form(value) if form is not None else value


def writable(carrier: str, path: str, value: Any) -> Any:
    """The YAML value that the settings model reads back as ``value``, or ``_NO``."""
    if value is None:
        return _NO
    candidate = _present(carrier, path, _drop_none(value))
    try:
        parsed = carriers.get(carrier).settings_model.model_validate(unflatten({path: candidate}))
    except (ValidationError, ValueError, TypeError):
        return _NO
    return candidate if flatten(parsed, carriers.get(carrier)) == {path: value} else _NO


class _Values:
    """Per field: live value → id, and id → YAML value and lines (id 0: not writable)."""

    def __init__(self, carrier: str, account: str, fields: Sequence[str], secrets: set[str]):
        self.carrier, self.account, self.fields, self.secrets = carrier, account, fields, secrets
        self.ids: list[dict[Any, int]] = [{} for _ in fields]
        self.yaml: list[list[Any]] = [[None] for _ in fields]
        self.lines: list[list[int]] = [[0] for _ in fields]
        self.canonical: list[list[Any]] = [[None] for _ in fields]
        self.env: dict[str, str] = {}
        """Secret references → values, for the in-process check only (never written)."""

    def id(self, f: int, value: Any) -> int:
        key = freeze(value)
        vid = self.ids[f].get(key)
        if vid is None:
            path = self.fields[f]
            if path in self.secrets:
                out = (
                    _NO if not isinstance(value, str) or value == "" else self._reference(f, value)
                )
            else:
                out = writable(self.carrier, path, value)
            if out is _NO:
                vid = UNSET
            else:
                vid = len(self.yaml[f])
                self.yaml[f].append(out)
                self.canonical[f].append(value)
                self.lines[f].append(value_lines(path, out))
            self.ids[f][key] = vid
        return vid

    def _reference(self, f: int, value: str) -> str:
        leaf = self.fields[f].rsplit(".", 1)[-1]
        stem = "".join(c if c.isalnum() else "_" for c in f"{self.account}_{leaf}").upper()
        name = f"{stem}_{len(self.yaml[f])}"
        self.env[name] = value
        return "${" + name + "}"


def _parents(fields: Sequence[str]) -> list[int]:
    bit: dict[str, int] = {}
    masks = []
    for path in fields:
        mask = 0
        parts = path.split(".")
        for i in range(1, len(parts)):
            mask |= 1 << bit.setdefault(".".join(parts[:i]), len(bit))
        masks.append(mask)
    return masks


# --------------------------------------------------------------------------------------------
# One account


def export_account(
    account: str,
    carrier: str,
    provider: dict[str, Any] | None,
    live: Iterable[LiveNumber],
    fields: Sequence[str],
    *,
    now: datetime | None = None,
    taken: Iterable[str] = (),
    verify: bool = True,
    secret_refs: bool | None = None,
) -> Exported:
    """Factor one account's live state into YAML (see the module docstring for the contract).

    ``provider``: the account's ``providers:`` entry to write (None: another file declares it;
    it is only used to check the text). ``taken``: profile names already used elsewhere.
    ``secret_refs``: write secret fields as ``${VAR}`` (default: when the loader expands them).
    """
    started = time.perf_counter()
    secrets = set(fields) & carriers.get(carrier).secret_fields
    unmanaged_secrets = sorted(
        p
        for p in secrets
        if not (secret_refs if secret_refs is not None else loader_expands_env(carrier, p))
    )
    fields = [p for p in fields if p not in unmanaged_secrets]
    values = _Values(carrier, account, fields, secrets - set(unmanaged_secrets))
    numbers: list[tuple[str, tuple[int, ...] | None]] = []
    not_patchable: list[tuple[str, str]] = []
    unwritable: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    unreadable: Counter[str] = Counter()
    blind = [
        (f, marker)
        for f, path in enumerate(fields)
        if (marker := carriers.get(carrier).unreadable.get(path, _NO)) is not _NO
    ]
    rule = carriers.get(carrier).check
    ordered = sorted(live, key=lambda n: (n.e164, n.id))
    ids: dict[str, list[str]] = {}
    for n in ordered:
        ids.setdefault(n.e164, []).append(n.id)
    for n in ordered:
        if not n.patchable:
            not_patchable.append((n.e164, n.status))
            sig: tuple[int, ...] | None = None
        else:
            get = n.settings.get
            sig = tuple(values.id(f, get(path)) for f, path in enumerate(fields))
            for f, v in enumerate(sig):
                if v == UNSET:
                    (unwritable if get(fields[f]) is None else refused)[fields[f]] += 1
            unknown = [f for f, marker in blind if get(fields[f]) == marker]
            if unknown:  # what the carrier could not read is not a value: leave it out
                sig = tuple(UNSET if f in unknown else v for f, v in enumerate(sig))
                unreadable.update(fields[f] for f in unknown)
            if rule is not None:  # a live state the config's own rule refuses: leave it out
                sig = _within_rule(rule, fields, sig, get, refused)
        if numbers and numbers[-1][0] == n.e164:  # another id of the same number
            numbers[-1] = (n.e164, _agreed(numbers[-1][1], sig))
        else:
            numbers.append((n.e164, sig))
    duplicates = [(e164, tuple(found)) for e164, found in ids.items() if len(found) > 1]
    table = Table(values.lines, _parents(fields), numbers)
    clock = time.perf_counter()
    timings = {"table": clock - started}
    result = factor(table)
    timings["factor"] = time.perf_counter() - clock
    clock = time.perf_counter()
    flat = sum(
        3 + setting_lines(table, {f: v for f, v in enumerate(s) if v})
        for _, s in numbers
        if s is not None and any(s)
    )
    flat += 1  # "numbers:"
    if provider is not None:  # the flat file would declare the account too
        flat += len(block({"providers": {account: provider}}))
    names = profile_names(
        [{fields[f]: values.yaml[f][v] for f, v in sorted(p.items())} for p in result.profiles],
        fields,
        taken,
    )
    variables: Counter[str] = Counter()
    for _, values_of in numbers:
        for f, v in enumerate(values_of or ()):
            if v and fields[f] in secrets and fields[f] not in unmanaged_secrets:
                variables[values.yaml[f][v][2:-1]] += 1
    out = Exported(
        account=account,
        carrier=carrier,
        text="",
        fields=list(fields),
        numbers=len(numbers),
        managed=sum(1 for _, s in numbers if s is not None and any(s)),
        not_patchable=not_patchable,
        profiles=len(result.profiles),
        entries=len(result.rules),
        lines=0,
        flat_lines=flat,
        model_lines=result.size(table),
        secret_unmanaged=unmanaged_secrets,
        unwritable=dict(sorted(unwritable.items())),
        refused=dict(sorted(refused.items())),
        unreadable=dict(sorted(unreadable.items())),
        duplicates=duplicates,
        variables=dict(sorted(variables.items())),
        secret_env=dict(values.env),
    )
    out.text = _render(out, provider, result, names, values, now or datetime.now(UTC))
    timings["render"] = time.perf_counter() - clock
    clock = time.perf_counter()
    out.lines = content_lines(out.text)
    if verify:
        check(
            out.text, account, carrier, provider, live_expected(fields, values, numbers), values.env
        )
    timings["verify"] = time.perf_counter() - clock
    out.timings = timings
    return out


def _agreed(one: tuple[int, ...] | None, other: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The signature one entry can give two ids of one number: the values they agree on (a
    field where they differ is left unmanaged); None (no rule may select it) if either is."""
    if one is None or other is None:
        return None
    return tuple(a if a == b else UNSET for a, b in zip(one, other, strict=True))


def _render(
    out: Exported,
    provider: dict[str, Any] | None,
    result: Factoring,
    names: list[str],
    values: _Values,
    now: datetime,
) -> str:
    def settings(assigned: dict[int, int]) -> dict[str, Any]:
        return {out.fields[f]: values.yaml[f][v] for f, v in sorted(assigned.items())}

    profiles = [
        Profile(names[k], settings(p), result.profile_numbers[k])
        for k, p in enumerate(result.profiles)
    ]
    profiles.sort(key=lambda p: (-p.numbers, p.name))
    entries = [
        Entry(
            r.selector,
            r.covers,
            names[r.profile] if r.profile is not None else None,
            settings(r.inline),
        )
        for r in result.rules
    ]
    return document(out, provider, profiles, entries, now)


def live_expected(
    fields: Sequence[str], values: _Values, numbers: Sequence[tuple[str, tuple[int, ...] | None]]
) -> dict[str, dict[str, Any] | None]:
    """What the loader must resolve each number to: its writable managed values (canonical)."""
    out: dict[str, dict[str, Any] | None] = {}
    for e164, sig in numbers:
        want = {fields[f]: values.canonical[f][v] for f, v in enumerate(sig or ()) if v}
        out[e164] = want or None
    return out


def check(
    text: str,
    account: str,
    carrier: str,
    provider: dict[str, Any] | None,
    expected: dict[str, dict[str, Any] | None],
    env: dict[str, str],
) -> None:
    """Load ``text`` with the real loader and resolve every number; raise if any differs."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "export.yaml").write_text(text, encoding="utf-8")
        if provider is None:
            doc = {"providers": {account: {"type": carrier, "sandbox": True}}}
            (Path(tmp) / "providers.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
        try:
            state = load(tmp, env=env)
        except ConfigError as exc:
            raise ReconcilerError(
                f"export of {account}: the YAML does not load (a bug): {exc}"
            ) from exc
    resolver = state.resolver(account)
    for e164, want in expected.items():
        if resolver.desired(e164) != want:
            raise ReconcilerError(
                f"export of {account}: {e164} would not resolve to its live settings (a bug)"
            )


def _within_rule(
    rule: Callable[[Mapping[str, Any]], list[tuple[str, str]]],
    fields: Sequence[str],
    sig: tuple[int, ...],
    get: Callable[[str], Any],
    refused: Counter[str],
) -> tuple[int, ...]:
    """``sig`` without the fields the carrier's rule on one number's settings blames
    (``Carrier.check``; e.g. a Telnyx number the carrier shows with E911 disabled and an address
    still set, which a config may not declare): the YAML export writes must load. Each field
    left out counts in ``refused`` (reported, not managed on that number)."""
    for _ in fields:  # each round leaves at least one field out, or ends
        written = {path: get(path) for f, path in enumerate(fields) if sig[f] != UNSET}
        blamed = {path for path, _ in rule(written)} & written.keys()
        if not blamed:
            return sig
        refused.update(blamed)
        sig = tuple(UNSET if fields[f] in blamed else v for f, v in enumerate(sig))
    return sig
