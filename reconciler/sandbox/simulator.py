"""What a carrier's simulator package offers the sandbox (the contract; docs/architecture.md).

A simulator is a package named by its carrier record (``Carrier.simulator``, e.g.
``"reconciler.sandbox.wavix"``) exposing:

* ``MOUNT`` (its path prefix in the sandbox app), ``make_app(store)`` (its ASGI routes),
  ``SCHEMA`` (SQL run on open) and ``TABLES`` (emptied by ``sandbox reset``), ``seed(store)``
  (the documented deterministic account) and ``DEFAULT_KEY`` (a full-access key);
* ``seed_synthetic(store, count, *, prefix, first_line, settings)`` and ``SYNTHETIC`` (a
  ``SyntheticShape``) for ``reconciler sandbox seed`` and the benchmarks;
* ``DRIFT`` (a ``PortalEdits``) for ``reconciler sandbox drift``;
* optionally a ``knobs`` submodule with ``KNOBS`` (``sandbox/knobs.py``).

The sandbox core (``__init__``, ``synthetic``, ``drift``, ``knobs``) reaches simulators only
through the carrier registry and these names, never by a carrier's name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Mutation = Callable[[Any], Any]
"""How someone changes one field's value by hand (old value → new value)."""


@dataclass(frozen=True)
class SyntheticShape:
    """A carrier's synthetic settings: flat desired values as the YAML writes them, how a drifted
    number is wrong, and how flat values become the simulator's stored shape."""

    profile: Callable[[int], dict[str, Any]]
    """Profile index → its flat desired settings."""
    override_field: str
    override_value: Callable[[int], Any]
    """Override index (0..99) → the value of ``override_field``; never a profile's value."""
    wrong: Mapping[str, Mutation]
    """Per field, how a drifted number's live value differs from the desired one."""
    live: Callable[[dict[str, Any]], dict[str, Any]]
    """Flat desired-form values → ``seed_synthetic``'s ``settings``."""
    numbers_table: str
    """The table holding the simulator's numbers (counted before a seed replaces them)."""


@dataclass(frozen=True)
class PortalEdits:
    """Out-of-band edits, as someone in the carrier's portal would make them: which numbers can
    be edited, which fields and how, and where one number is read and patched."""

    mutations: Mapping[str, Mutation]
    """Field → how a portal user changes its value (fields safe to flip: booleans, URLs...)."""
    numbers: Callable[[sqlite3.Connection], Iterable[tuple[str, str]]]
    """(id, E.164) of every editable number, in a stable order."""
    path: Callable[[str], str]
    """One number's path under ``MOUNT`` (GET reads it, PATCH changes it)."""
    unwrap: Callable[[Any], dict[str, Any]]
    """The GET body → the number's fields."""


__all__ = ["Mutation", "PortalEdits", "SyntheticShape"]
