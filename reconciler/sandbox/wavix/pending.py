"""Wavix's asynchronous changes: what a bulk PATCH applies later, and applying it when due.

The docs say destinations and ``sms_relay_url`` of a bulk update are "applied asynchronously".
They wait in ``wavix_pending`` for ``wavix.async_delay_s`` seconds of store-clock time (default
1.0; 0 applies them at once; ``{"destinations": s, "sms_relay_url": s}`` sets each field's own
delay) and are applied lazily at the start of every request. Nothing bounds the delay: the
carrier documents none, and a test of a slow carrier sets it past the client's verify wait.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..http import dumps
from ..store import SandboxStore
from .knobs import DEFAULT_ASYNC_DELAY_S, value
from .number import ASYNC_FIELDS
from .tables import DestinationIds, write_changes

__all__ = ["ASYNC_FIELDS", "DEFAULT_ASYNC_DELAY_S", "apply_due", "async_delays", "schedule"]


def async_delays(store: SandboxStore) -> dict[str, float]:
    """Seconds before each asynchronous field lands (knob ``wavix.async_delay_s``)."""
    knob = value(store, "wavix.async_delay_s")
    if isinstance(knob, dict):
        return {f: float(knob.get(f, DEFAULT_ASYNC_DELAY_S)) for f in ASYNC_FIELDS}
    return dict.fromkeys(ASYNC_FIELDS, float(knob))


def schedule(
    conn: Any, ids: Iterable[int], later: Mapping[str, Any], due: Mapping[str, float]
) -> None:
    """Queue ``later`` (request-named fields) for every number in ``ids``, each field at its
    ``due`` time; a newer change to the same field replaces a queued one."""
    conn.executemany(
        "INSERT OR REPLACE INTO wavix_pending (number_id, field, value, due) VALUES (?, ?, ?, ?)",
        [(i, f, dumps(v), due[f]) for i in ids for f, v in later.items()],
    )


def supersede(conn: Any, number_id: int, fields: Iterable[str]) -> None:
    """A synchronous write supersedes an older pending one for the same field."""
    conn.executemany(
        "DELETE FROM wavix_pending WHERE number_id = ? AND field = ?",
        [(number_id, f) for f in fields if f in ASYNC_FIELDS],
    )


def apply_due(store: SandboxStore) -> None:
    """Apply every pending asynchronous change whose time has come."""
    now = store.clock.now()
    with store.lock:
        query = "SELECT 1 FROM wavix_pending WHERE due <= ? LIMIT 1"
        if store.conn.execute(query, (now,)).fetchone() is None:
            return
    with store.transaction() as conn:
        due = conn.execute(
            "SELECT number_id, field, value FROM wavix_pending WHERE due <= ? ORDER BY number_id",
            (now,),
        ).fetchall()
        changes: dict[int, dict[str, Any]] = {}
        for number_id, field, value in due:
            changes.setdefault(number_id, {})[field] = json.loads(value)
        ids = DestinationIds(conn)
        write_changes(conn, changes, ids)
        ids.save()
        conn.execute("DELETE FROM wavix_pending WHERE due <= ?", (now,))
