"""Carrier descriptions: everything the core knows about a carrier, stated once per carrier.

A carrier is one ``Carrier`` record: its settings and account models, how values are compared
and shown, and its capabilities (``job_based``, ``max_concurrent_calls``, ``async_fields``,
``retry_policy``). The provider class and the sandbox simulator are *named* in it
(``"module:attr"``, ``"module"``) and imported on first use, so reading the record (``validate``,
``schema``, the loader) imports no HTTP client and no provider.

The records are found through the ``reconciler.carriers`` entry-point group
(``importlib.metadata``): each entry point names a ``Carrier`` object, e.g.
``wavix = "reconciler.providers.wavix.carrier:CARRIER"``. The built-in carriers are declared so in
pyproject.toml; when the distribution's metadata is missing (a source tree run without
installing) the provider packages beside this module are scanned for a ``carrier`` module. A
carrier whose entry point fails to load is kept aside with the reason (``broken()``): an account
of that type gets a configuration error naming the entry point and the exception, and every other
carrier works. The core (config, loader, schema, planner, render, runner) asks this registry and
never lists carriers or imports ``reconciler.providers`` itself. Tests replace the registry with
``using(...)``. docs/architecture.md says how to write a carrier package.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import ReconcilerError

if TYPE_CHECKING:
    import random

    from .config import ProviderConfig
    from .seam import Provider

log = logging.getLogger(__name__)

GROUP = "reconciler.carriers"
"""The entry-point group a carrier package declares its ``Carrier`` in."""

MASK = "(sensitive)"
"""What every output shows instead of a secret field's value."""

Canonical = Callable[[Any], Any]
"""Turns a declared or read value of one field into its canonical form."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a provider's HTTP client tries one request. ``attempts`` counts every try;
    ``total_s`` bounds the waiting between them; one wait is at most ``cap_s`` unless the carrier
    asked for longer (up to ``total_s``)."""

    attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 8.0
    total_s: float = 120.0
    statuses: frozenset[int] = frozenset({408, 409, 429})
    """Retryable besides every 5xx."""

    def retryable(self, status: int) -> bool:
        return status in self.statuses or status >= 500

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^(attempt-1))]."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Operation:
    """One kind of bulk call a carrier offers (Telnyx: update jobs, messaging orders, emergency
    jobs). Every settable field belongs to exactly one operation; a number whose required change
    spans several operations gets one call in each, grouped per operation.

    ``fields``: flat paths or dotted prefixes (ending in ``.``); the carrier's first operation
    takes every field no other one claims, so a carrier with one operation lists none.
    ``batch_option``: the account option (a ``config_model`` attribute) that sets its call size
    limit; None: ``max_ids_per_call``. ``always_sent``: fields every call of the operation
    carries (taken from the desired settings: Telnyx emergency jobs need ``emergency_enabled``
    even when only the address changes). ``adoptable``: a call whose answer was lost can be found
    at the carrier afterwards (a jobs list); otherwise only the journal guards it.
    """

    name: str
    label: str
    """How one call is named in output, e.g. ``POST /messaging_numbers_bulk_updates``."""
    default_max_batch: int
    hard_max_batch: int
    fields: tuple[str, ...] = ()
    job_based: bool = False
    batch_option: str | None = None
    always_sent: tuple[str, ...] = ()
    adoptable: bool = True

    def owns(self, path: str) -> bool:
        return any(path == f or (f.endswith(".") and path.startswith(f)) for f in self.fields)


class CarrierLoadError(ReconcilerError):
    """A carrier's entry point, provider or simulator could not be imported (the message names
    what and why; never a traceback)."""


@dataclass(frozen=True, eq=False)
class Carrier:
    """One carrier, as the core sees it.

    ``settings_model``: the pydantic model of the settings a number's YAML may declare (nested
    models become dotted field paths). ``canonical``: per flat field path, the function that
    brings a value to its normal form (list fields: sorted, deduplicated...); fields not listed
    are compared as they are. Both the YAML side (``models.flatten``) and the provider's decoder
    call these same functions, so there is one normal form per value.
    ``config_model``: the account options (``providers:`` entry), a ``ProviderConfig`` subclass.
    ``routing_fields``: flat paths (or dotted prefixes ending in ``.``) whose change reroutes
    calls; safety rails count them separately.
    ``provider``: the provider class, named ``"package.module:Class"`` (imported on first use by
    ``provider_class``; a class itself is accepted too, for tests).
    """

    name: str
    settings_model: type[BaseModel]
    config_model: type[ProviderConfig]
    provider: str | type[Provider]
    default_base_url: str
    key_env: str
    """The environment variable the docs and messages suggest for the API key."""
    call_label: str
    """How one bulk call is named in output, e.g. ``PATCH /v1/numbers``."""
    default_max_batch: int
    hard_max_batch: int
    secret_fields: frozenset[str] = frozenset()
    canonical: Mapping[str, Canonical] = field(default_factory=dict)
    routing_fields: tuple[str, ...] = ()
    whole_objects: tuple[str, ...] = ()
    """Dotted prefixes (ending in ``.``) of nested objects the carrier must receive whole: a call
    that changes one subfield sends them all, unmanaged ones with their live values (the planner
    fills them in), so merge and replace semantics alike leave them as they were."""
    format_item: Callable[[str, Any], str | None] | None = None
    """Optional: how one item of a list field is shown (e.g. a Wavix destination); None → JSON."""
    simulator: str | None = None
    """Dotted module path of the carrier's sandbox simulator package, if it has one (imported on
    first use by ``simulator_module``; docs/architecture.md lists what it offers)."""
    sandbox_key: str | None = None
    """The simulator's full-access API key, and ``sandbox_mount`` the path it is served under
    (``sandbox serve``): what an account with ``sandbox: true`` and a ``base_url`` needs, known
    without importing the simulator (its web framework) into a client talking to a served
    sandbox. None: read from the simulator package (``DEFAULT_KEY``, ``MOUNT``)."""
    sandbox_mount: str | None = None
    job_based: bool = False
    """Calls are carrier jobs that outlive the request (created, then polled): the applier looks
    for a job an interrupted run created before sending again (``Provider.find_job``)."""
    max_concurrent_calls: int = 4
    """Bulk calls of one account in flight at once (Telnyx: the account's cap on open jobs)."""
    async_fields: frozenset[str] = frozenset()
    """Fields the carrier applies after the call answers: verify may wait longer for them
    (``verify_wait_s``) and reports them "not visible yet" rather than "still differs"."""
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    """How hard the provider's HTTP client retries one request."""
    order: int = 100
    """Where the carrier comes in listings (lower first, then by name): the sandbox's
    simulators, ``sandbox seed``'s default carrier."""
    written: Mapping[str, Canonical] = field(default_factory=dict)
    """Optional, per flat field path: the canonical value as a person writes it in YAML (e.g. a
    Wavix transport by name, ``sip_uri``, not its code); used by ``export``."""
    operations: tuple[Operation, ...] = ()
    """The carrier's kinds of bulk call, the primary one first (``Operation``). Empty: one
    operation made of ``call_label``, the batch limits and ``job_based``."""
    unreadable: Mapping[str, Any] = field(default_factory=dict)
    """Per flat field path, the live value that means "the carrier could not tell" (Telnyx: a
    messaging profile lookup that failed): never planned from, counted in the plan instead."""
    check: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None
    """Optional rule on one number's merged desired settings (every entry that selects it, the
    most specific last): (field to blame, message) per problem; the loader reports each at the
    file:line of the entry that set that field."""

    @cached_property
    def field_paths(self) -> tuple[str, ...]:
        """Every settable flat field path, in declaration order."""
        from .models import model_paths

        return tuple(model_paths(self.settings_model))

    @cached_property
    def provider_class(self) -> type[Provider]:
        """The provider class, imported on first use (``CarrierLoadError`` if it cannot be)."""
        if not isinstance(self.provider, str):
            return self.provider
        return _resolve(self.provider, f"carrier {self.name}: provider {self.provider}")  # type: ignore[no-any-return]

    @cached_property
    def simulator_module(self) -> ModuleType | None:
        """The sandbox simulator package, imported on first use (None: the carrier has none)."""
        if self.simulator is None:
            return None
        what = f"carrier {self.name}: simulator {self.simulator}"
        try:
            return importlib.import_module(self.simulator)
        except Exception as exc:
            raise CarrierLoadError(f"{what} could not be imported: {_why(exc)}") from None

    @cached_property
    def ops(self) -> tuple[Operation, ...]:
        """Every operation, the primary first (one made of the record's own fields if none)."""
        if self.operations:
            return self.operations
        return (
            Operation(
                self.name,
                self.call_label,
                self.default_max_batch,
                self.hard_max_batch,
                job_based=self.job_based,
            ),
        )

    @property
    def primary(self) -> Operation:
        return self.ops[0]

    @cached_property
    def _op_of(self) -> dict[str, Operation]:
        return {
            p: next((op for op in self.ops[1:] if op.owns(p)), self.ops[0])
            for p in self.field_paths
        }

    def operation_of(self, path: str) -> Operation:
        """The operation whose calls set ``path`` (the primary one for a path no other owns)."""
        return self._op_of.get(path) or self.ops[0]

    def operation(self, name: str | None) -> Operation:
        """The operation called ``name`` (None: the primary one); KeyError when unknown."""
        if name is None:
            return self.ops[0]
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(name)

    def is_secret(self, path: str) -> bool:
        return path in self.secret_fields

    def is_routing(self, path: str) -> bool:
        return any(
            path == r or (r.endswith(".") and path.startswith(r)) for r in self.routing_fields
        )

    def mask(self, path: str, value: Any) -> Any:
        return MASK if path in self.secret_fields else value

    def format_value(self, path: str, value: Any) -> str:
        """A canonical value for output: short, unambiguous, secrets masked."""
        if path in self.secret_fields:
            return MASK
        return format_plain(
            value, lambda item: self.format_item(path, item) if self.format_item else None
        )


def format_plain(value: Any, item: Callable[[Any], str | None] = lambda _: None) -> str:
    """JSON-like text of a canonical value; ``item`` may render list items its own way."""
    if isinstance(value, list):
        return "[" + ", ".join(item(v) or format_plain(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _resolve(target: str, what: str) -> Any:
    """``"package.module:attr"`` → the object (``CarrierLoadError`` naming ``what`` if not)."""
    module, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
    except Exception as exc:
        raise CarrierLoadError(f"{what} could not be imported: {_why(exc)}") from None
    return obj


@dataclass
class _Registry:
    carriers: dict[str, Carrier] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)


_current: _Registry | None = None


def _entry_points() -> list[tuple[str, str]]:
    """(name, "module:attr") of every ``reconciler.carriers`` entry point, else the built-ins
    found beside this module (a source tree whose distribution metadata is not installed)."""
    found = sorted({(ep.name, ep.value) for ep in entry_points(group=GROUP)})
    builtin = f"{__package__}.providers."
    if not any(value.startswith(builtin) for _, value in found):
        import pkgutil  # only for a source tree without metadata

        here = Path(__file__).parent / "providers"
        declared = {name for name, _ in found}
        found += [
            (info.name, f"{builtin}{info.name}.carrier:CARRIER")
            for info in pkgutil.iter_modules([str(here)])
            if info.ispkg
            and info.name not in declared
            and (here / info.name / "carrier.py").is_file()
        ]
    return found


def _discover() -> _Registry:
    out = _Registry()
    for name, target in _entry_points():
        what = f"entry point {name} = {target!r} (group {GROUP})"
        try:
            carrier = _resolve(target, what)
        except CarrierLoadError as exc:
            out.broken[name] = str(exc)
            log.warning("%s", exc)
            continue
        if not isinstance(carrier, Carrier):
            out.broken[name] = f"{what} is a {type(carrier).__name__}, not a reconciler Carrier"
        elif carrier.name != name:
            out.broken[name] = f"{what} describes carrier {carrier.name!r}, not {name!r}"
        elif name in out.carriers:
            out.broken[name] = f"{what}: carrier {name!r} is declared twice"
        else:
            out.carriers[name] = carrier
            continue
        log.warning("%s", out.broken[name])
    out.carriers = _ordered(out.carriers.values())
    return out


def _ordered(found: Iterable[Carrier]) -> dict[str, Carrier]:
    return {c.name: c for c in sorted(found, key=lambda c: (c.order, c.name))}


def _registry() -> _Registry:
    global _current
    if _current is None:
        _current = _discover()
    return _current


def registry() -> Mapping[str, Carrier]:
    """Every loaded carrier by name, ordered by ``Carrier.order`` then name (discovered once, on
    first use); ``names()`` is the sorted list for messages."""
    return _registry().carriers


def broken() -> Mapping[str, str]:
    """Carriers whose entry point did not load: name → what failed and why."""
    return _registry().broken


def get(name: str) -> Carrier:
    """The carrier called ``name``; KeyError when none is loaded."""
    return registry()[name]


def names() -> tuple[str, ...]:
    return tuple(sorted(registry()))


def field_paths(carrier: str) -> list[str]:
    """Every settable flat field path of a carrier, in declaration order."""
    return list(get(carrier).field_paths)


def mask(carrier: str, path: str, value: Any) -> Any:
    """``value``, or the mask when ``path`` is one of the carrier's secret fields."""
    return get(carrier).mask(path, value)


@contextmanager
def using(*carriers: Carrier) -> Iterator[Mapping[str, Carrier]]:
    """Within the block the registry is exactly ``carriers``; with none given, what discovery
    finds now (entry points read again: a test that put a distribution on ``sys.path`` sees
    it). The registry before the block comes back after it. The test seam."""
    global _current
    before = _current
    if carriers:
        _current = _Registry(_ordered(carriers))
    else:
        importlib.invalidate_caches()
        _current = _discover()
    try:
        yield _current.carriers
    finally:
        _current = before


def open_account(
    name: str,
    config: ProviderConfig,
    source: str,
    *,
    sandbox: Any = None,
    transport: Any = None,
    clock: Any = None,
    budgets: dict[Any, Any] | None = None,
) -> Provider:
    """The provider of a configured account, built by its carrier's provider class
    (``Provider.open``: key, base URL, the embedded sandbox, a budget shared per key)."""
    return config.carrier.provider_class.open(
        name, config, source, sandbox=sandbox, transport=transport, clock=clock, budgets=budgets
    )


__all__ = [
    "GROUP",
    "MASK",
    "Carrier",
    "CarrierLoadError",
    "Operation",
    "RetryPolicy",
    "broken",
    "format_plain",
    "get",
    "field_paths",
    "mask",
    "names",
    "open_account",
    "registry",
    "using",
]
