"""How problems are worded: pydantic errors in our words, on the right line; and the rules
every message shares, written once: "did you mean" (``suggest``, ``did_you_mean``, ``unknown``)
and plurals (``plural``).

Every message names the path and what to do; none carries a secret (carrier secret fields such
as Telnyx ``external_pin``, ``SecretStr`` options such as ``api_key``) and none echoes more than
about 80 characters of a value.
"""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from .carriers import mask
from .models import submodel
from .yamltree import LDict, LList, show

SECRET = "(sensitive)"
"""What a message shows instead of a secret value."""


def pydantic_issues(
    node: LDict, exc: ValidationError, what: str, model: type[BaseModel], carrier: str | None
) -> Iterator[tuple[int | None, str]]:
    """(line, message) for each error of ``exc``, raised validating ``node`` with ``model``."""
    seen: set[tuple[int | None, str]] = set()
    for error in exc.errors():
        loc = tuple(error["loc"])
        path, msg = describe(error, model, carrier)
        line = line_of(node, loc)
        named = error["msg"].removeprefix("Value error, ").split(":", 1)[0]
        target = _node_at(node, loc)
        if isinstance(target, LDict) and named in target.lines:
            line = target.lines[named]  # a model-level check that names its key
        text = f"{what}: {path}: {msg}" if path else f"{what}: {msg}"
        if (line, text) not in seen:
            seen.add((line, text))
            yield line, text


def describe(error: Any, model: type[BaseModel], carrier: str | None) -> tuple[str, str]:
    """(dotted path, message) of one pydantic error, in our words, secrets and long values cut."""
    loc = tuple(error["loc"])
    path = ".".join(str(p) for p in loc)
    msg = error["msg"].removeprefix("Value error, ")
    etype, value = error["type"], error.get("input")
    if _is_secret(model, loc, carrier):
        if isinstance(value, str | int | float) and str(value) and not isinstance(value, bool):
            msg = msg.replace(repr(value), SECRET).replace(str(value), SECRET)
        if etype == "string_type":
            msg = "expected a string (the value is secret and not shown); quote it"
    elif etype == "extra_forbidden":
        noun = f"{carrier} setting" if carrier else "key"
        msg = unknown(noun, loc[-1], _fields_at(model, loc[:-1]))
        path = ".".join(str(p) for p in loc[:-1])
    elif etype == "string_type" and isinstance(value, int) and not isinstance(value, bool):
        msg = (
            f"expected a string, got the number {show(value)}; quote it "
            "(YAML reads unquoted digits as an integer)"
        )
    elif etype == "invalid_key":
        msg = f"the key {show(loc[-1])} must be text (a setting name)"
        path = ".".join(str(p) for p in loc[:-1])
    elif etype == "missing":
        msg = f"missing required key {loc[-1]!r}"
        path = ".".join(str(p) for p in loc[:-1])
    elif isinstance(value, str):
        msg = clipped(msg, value)
    return path, msg


def _is_secret(model: type[BaseModel], loc: tuple[Any, ...], carrier: str | None) -> bool:
    """A carrier secret field (Telnyx ``external_pin``) or a ``SecretStr`` option (``api_key``)."""
    path = ".".join(p for p in loc if isinstance(p, str))
    if carrier is not None and mask(carrier, path, None) is not None:
        return True
    info = model.model_fields.get(loc[0]) if loc and isinstance(loc[0], str) else None
    annotation = info.annotation if info is not None else None
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


def clipped(message: str, value: str) -> str:
    """``message`` with a long echoed ``value`` cut short."""
    return message.replace(repr(value), show(value)) if len(value) > 60 else message


def kind(value: Any) -> str:
    """What YAML made of a value, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    if isinstance(value, LDict | dict):
        return "a mapping"
    if isinstance(value, LList | list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime.date):
        return "a date"
    return f"a {type(value).__name__}"


def quotable(value: Any) -> bool:
    """A scalar YAML typed from text the user meant as a name: quoting it gives the name."""
    return isinstance(value, bool | int | float | datetime.date)


def _node_at(node: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(node, LDict | LList):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        else:
            return None
    return node


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            if isinstance(part, int):
                continue
            return []
        current = submodel(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 call``, ``2 calls`` (``words`` for an irregular plural)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


CLOSE = 0.6
"""How alike (``difflib`` ratio) a known name must be to a typo to be suggested."""


def suggest(key: Any, known: Iterable[Any], *, most: int = 1) -> list[str]:
    """The known names a typo of ``key`` most likely meant, best first, at most ``most``: names
    that begin with it (a key of four characters or more), then names at least ``CLOSE`` alike,
    the most alike first, within 0.1 of the best."""
    text = str(key)[:100]
    names = [str(k) for k in known]
    ratio = {n: difflib.SequenceMatcher(None, text, n).ratio() for n in names}
    begins = [n for n in names if len(text) >= 4 and n.startswith(text) and n != text]
    close = sorted((n for n in names if ratio[n] >= CLOSE), key=lambda n: -ratio[n])
    best = max((ratio[n] for n in close), default=0.0)
    found = dict.fromkeys([*begins, *(n for n in close if ratio[n] >= best - 0.1)])
    return list(found)[:most]


def did_you_mean(key: Any, known: Iterable[Any], *, most: int = 1, quote: bool = True) -> str:
    """``"; did you mean 'x'?"`` (``quote=False``: ``x or y``), or "" when nothing is close."""
    names = suggest(key, known, most=most)
    if not names:
        return ""
    return f"; did you mean {' or '.join(repr(n) if quote else n for n in names)}?"


def unknown(noun: str, key: Any, known: Any) -> str:
    """``unknown {noun} {key}``, then "did you mean" or the known names (bounded)."""
    known = [str(k) for k in known]
    word = show(key)
    hint = did_you_mean(key, known)
    if hint:
        return f"unknown {noun} {word}{hint}"
    if len(known) > 12:
        listed = ", ".join(known[:10])
        return f"unknown {noun} {word}; expected one of: {listed} … and {len(known) - 10} more"
    if known:
        return f"unknown {noun} {word}; expected one of: {', '.join(known)}"
    return f"unknown {noun} {word}"


def line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest node on ``loc`` that the YAML tree knows."""
    line = getattr(node, "line", None)
    for part in loc:
        if isinstance(node, LDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line
