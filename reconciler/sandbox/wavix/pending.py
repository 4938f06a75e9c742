"""Wavix's asynchronous changes: what a bulk PATCH applies later, and applying it when due.

The docs say destinations and ``sms_relay_url`` of a bulk update are "applied asynchronously".
They wait in ``wavix_pending`` for ``wavix.async_delay_s`` seconds of store-clock time (default
1.0; 0 applies them at once) and are applied lazily at the start of every request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..http import dumps
from ..store import SandboxStore
from .tables import DestinationIds, write_changes

DEFAULT_ASYNC_DELAY_S = 1.0
ASYNC_FIELDS = ("destinations", "sms_relay_url")
"""Request fields the bulk PATCH applies later (the docs: "applied asynchronously")."""


def async_delay(store: SandboxStore) -> float:
    return float(store.knob("wavix.async_delay_s", DEFAULT_ASYNC_DELAY_S))


def schedule(conn: Any, ids: Iterable[int], later: Mapping[str, Any], due: float) -> None:
    """Queue ``later`` (request-named fields) for every number in ``ids``; a newer change to
    the same field replaces a queued one."""
    conn.executemany(
        "INSERT OR REPLACE INTO wavix_pending (number_id, field, value, due) VALUES (?, ?, ?, ?)",
        [(i, f, dumps(v), due) for i in ids for f, v in later.items()],
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
