"""Carrier descriptions: everything the core knows about a carrier, stated once per carrier.

A provider package builds one ``Carrier`` next to its provider class and calls ``register``; the
core (config, models, loader, schema, planner, render) asks the registry and never lists carriers
itself, the way octoDNS providers declare ``SUPPORTS`` and the manager asks. Adding a carrier is
one provider module (settings model + provider + ``register``) and, optionally, one simulator
package; no core module changes. The built-in carriers (Wavix, Telnyx) are registered when
``reconciler.providers`` is first imported, which ``registry()`` does on first use.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from .config import ProviderConfig
    from .providers.base import Provider

MASK = "(sensitive)"
"""What every output shows instead of a secret field's value."""

Canonical = Callable[[Any], Any]
"""Turns a declared or read value of one field into its canonical form."""


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
    """

    name: str
    settings_model: type[BaseModel]
    config_model: type[ProviderConfig]
    provider: type[Provider]
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
    """Dotted module path of the carrier's sandbox simulator package, if it has one."""
    written: Mapping[str, Canonical] = field(default_factory=dict)
    """Optional, per flat field path: the canonical value as a person writes it in YAML (e.g. a
    Wavix transport by name, ``sip_uri``, not its code); used by ``export``."""

    @cached_property
    def field_paths(self) -> tuple[str, ...]:
        """Every settable flat field path, in declaration order."""
        from .models import model_paths

        return tuple(model_paths(self.settings_model))

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


_REGISTRY: dict[str, Carrier] = {}


def register(carrier: Carrier) -> Carrier:
    """Make a carrier known to the core (re-registering a name replaces it)."""
    _REGISTRY[carrier.name] = carrier
    return carrier


def unregister(name: str) -> None:
    """Forget a carrier (tests that register a fake one clean up with this)."""
    _REGISTRY.pop(name, None)


def registry() -> Mapping[str, Carrier]:
    """Every known carrier by name; the built-in ones are loaded on first use."""
    importlib.import_module("reconciler.providers")
    return _REGISTRY


def get(name: str) -> Carrier:
    """The carrier called ``name``; KeyError when none is registered."""
    return registry()[name]


def names() -> tuple[str, ...]:
    return tuple(sorted(registry()))


__all__ = ["MASK", "Carrier", "format_plain", "get", "names", "register", "registry", "unregister"]
