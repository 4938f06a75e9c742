"""The knob registry: every sandbox knob's name, meaning, default and validator.

A knob is a named JSON value persisted in the store (``SandboxStore.set_knob``) that changes how a
simulator behaves (latency, async delays, faults, rate limits). The store keeps any JSON; this
module decides what is *allowed*, so ``reconciler sandbox knob NAME VALUE`` refuses a bad value
with a clear message instead of the next plan failing with a traceback inside the simulator.

Where knobs come from: the shared ones are declared here (``SHARED``); each simulator package
(``SIMULATORS`` in ``sandbox/__init__``) declares its own in a ``knobs`` submodule exposing
``KNOBS: tuple[Knob, ...]`` (``sandbox/wavix/knobs.py``, ``sandbox/telnyx/knobs.py``). A new
simulator adds its ``knobs`` module and nothing here changes. Names are ``<carrier>.<name>``.

Validators take the decoded JSON value and return the value to store (possibly normalised), or
raise ``ValueError`` whose text says what is expected; ``check`` turns that into a ``KnobError``.
``None`` (JSON ``null``) always means "remove the knob" and is never validated.

Simulators read knobs through ``value``, which validates too: ``store.set_knob`` takes any JSON,
so a value that slipped past the CLI is ignored with a warning instead of failing a request.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ReconcilerError
from ..wording import did_you_mean
from .store import SandboxStore

log = logging.getLogger(__name__)

Validator = Callable[[Any], Any]


class KnobError(ReconcilerError, ValueError):
    """An unknown knob name or a value its validator refuses (exit 1, no traceback)."""


@dataclass(frozen=True)
class Knob:
    """One knob: ``name``, what it does (``help``), its default when unset, its validator."""

    name: str
    help: str
    check: Validator
    default: Any = None
    secret: bool = False
    """Its value is never printed (API keys the sandbox accepts)."""


_WARNED: set[tuple[str, str]] = set()


def value(store: SandboxStore, knob: Knob) -> Any:
    """``knob``'s value as its validator normalises it, or its default when unset or invalid."""
    raw = store.knob(knob.name)
    if raw is None:
        return knob.default
    try:
        return knob.check(raw)
    except ValueError as exc:
        shown = "(not shown: the knob holds keys)" if knob.secret else json.dumps(raw)
        if (knob.name, shown) not in _WARNED:  # once, not on every request that reads it
            _WARNED.add((knob.name, shown))
            log.warning("sandbox knob %s = %s ignored: %s", knob.name, shown, exc)
        return knob.default


# ---- validators (each returns the value to store or raises ValueError saying what is expected)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def number(*, minimum: float = 0.0, maximum: float = math.inf) -> Validator:
    """A finite JSON number in [minimum, maximum] (an int stays an int)."""

    def check(value: Any) -> float | int:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not minimum <= value <= maximum:
            hi = "" if maximum == math.inf else f" and at most {maximum:g}"
            raise ValueError(f"expected a number of at least {minimum:g}{hi}")
        return value  # type: ignore[no-any-return]

    return check


def integer(*, minimum: int = 0, maximum: int | None = None) -> Validator:
    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"expected an integer of at least {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"expected an integer of at most {maximum}")
        return value

    return check


def one_of(*choices: Any) -> Validator:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or value not in choices:
            raise ValueError("expected one of " + ", ".join(json.dumps(c) for c in choices))
        return value

    return check


def list_of(item: Validator, *, what: str = "a list") -> Validator:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"expected {what}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v))
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
        return out

    return check


def string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


# ---- the registry

SHARED: tuple[Knob, ...] = (
    Knob(
        "latency_ms",
        "Every HTTP request waits this long (store clock) before it is handled.",
        number(maximum=600_000),
        0,
    ),
    Knob(
        "connection_close_every",
        "N > 0: every Nth HTTP answer says Connection: close (a served sandbox then closes that "
        "keep-alive connection, as some carriers' load balancers do); 0: never.",
        integer(),
        0,
    ),
    Knob(
        "request_log",
        "true: every request is logged in table sandbox_requests (method, path, status, ids "
        "written, job created, fault injected) for tests (sandbox/requestlog.py).",
        boolean,
        False,
    ),
)


def registry() -> dict[str, Knob]:
    """Every known knob by name: the shared ones and each simulator package's ``knobs.KNOBS``."""
    from . import SIMULATORS  # the package imports this module's users; import late

    out = {k.name: k for k in SHARED}
    for sim in SIMULATORS.values():
        try:
            module = importlib.import_module(f"{sim.__name__}.knobs")
        except ModuleNotFoundError as exc:
            if exc.name != f"{sim.__name__}.knobs":
                raise
            continue  # a simulator without knobs of its own
        for knob in module.KNOBS:
            out[knob.name] = knob
    return out


def lookup(name: str, known: Mapping[str, Knob] | None = None) -> Knob:
    """The knob called ``name``; ``KnobError`` with "did you mean" for an unknown name."""
    known = registry() if known is None else known
    if name in known:
        return known[name]
    hint = _did_you_mean(name, list(known))
    raise KnobError(
        f"unknown sandbox knob {name!r}{hint} (`reconciler sandbox knob` lists them all)"
    )


def _did_you_mean(name: str, names: list[str]) -> str:
    """The "did you mean a or b?" hint (``wording.did_you_mean``, up to three names); or ""."""
    return did_you_mean(name, names, most=3, quote=False)


def check(name: str, value: Any) -> Any:
    """The value to store for knob ``name`` (``None`` removes it), or ``KnobError``."""
    knob = lookup(name)
    if value is None:
        return None
    try:
        return knob.check(value)
    except ValueError as exc:
        shown = "(not shown: the knob holds keys)" if knob.secret else json.dumps(value)[:80]
        raise KnobError(f"bad value {shown} for knob {name}: {exc}") from None


def parse(text: str) -> Any:
    """A knob value as typed on the command line: JSON, or else the text as a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def describe(knobs: Iterable[Knob], values: Mapping[str, Any]) -> list[str]:
    """One line per knob: name, current value (or default), what it does."""
    lines = []
    for knob in sorted(knobs, key=lambda k: k.name):
        if knob.name in values and knob.secret:
            shown = "= (set; not shown)"
        elif knob.name in values:
            shown = f"= {json.dumps(values[knob.name])}"
        else:
            shown = f"(default {json.dumps(knob.default)})"
        lines.append(f"{knob.name} {shown}\n    {knob.help}")
    return lines
