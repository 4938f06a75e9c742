"""The Wavix tables: schema and the SQL every writer shares.

One row per number holds the whole response ``Number`` as JSON text, so a page is served by
concatenating stored strings (no per-row decoding). ``wavix_counters`` holds the destination id
sequence and cached listing statistics (count, min and max id), which every load drops.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..http import dumps
from ..store import SandboxStore
from .number import response_destinations

SCHEMA = """
CREATE TABLE IF NOT EXISTS wavix_numbers (
    id      INTEGER PRIMARY KEY,
    number  TEXT NOT NULL UNIQUE,
    label   TEXT,
    city_id INTEGER,
    body    TEXT NOT NULL          -- the response Number object, JSON
);
CREATE INDEX IF NOT EXISTS wavix_numbers_label ON wavix_numbers (label);
CREATE TABLE IF NOT EXISTS wavix_pending (
    number_id INTEGER NOT NULL,
    field     TEXT NOT NULL,       -- request name: destinations | sms_relay_url
    value     TEXT NOT NULL,       -- request value, JSON
    due       REAL NOT NULL,       -- store.clock time at which it applies
    PRIMARY KEY (number_id, field)
);
CREATE INDEX IF NOT EXISTS wavix_pending_due ON wavix_pending (due);
CREATE TABLE IF NOT EXISTS wavix_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
TABLES = ["wavix_numbers", "wavix_pending", "wavix_counters"]

FIRST_DESTINATION_ID = 310_000_000_001
"""Destination ids are 64-bit too (12 digits here)."""

Row = tuple[int, str, str | None, int | None, str]
"""(id, number, label, city_id, body JSON) of ``wavix_numbers``."""


def row(number: Mapping[str, Any], city_id: int | None) -> Row:
    return (number["id"], number["number"], number.get("label"), city_id, dumps(number))


def insert_rows(store: SandboxStore, rows: Iterable[Row]) -> int:
    with store.transaction() as conn:
        cur = conn.executemany(
            "INSERT INTO wavix_numbers (id, number, label, city_id, body) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        count = cur.rowcount
        conn.execute("DELETE FROM wavix_counters WHERE name IN ('count', 'min_id', 'max_id')")
    return count


def bodies(conn: Any, ids: list[int]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT id, body FROM wavix_numbers WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    ).fetchall()
    return dict(rows)


def stats(conn: Any) -> tuple[int, int, int]:
    """(count, min id, max id), cached in ``wavix_counters`` (loaders drop the cache)."""
    rows = dict(
        conn.execute(
            "SELECT name, value FROM wavix_counters WHERE name IN ('count', 'min_id', 'max_id')"
        )
    )
    if len(rows) == 3:
        return rows["count"], rows["min_id"], rows["max_id"]
    count, lo, hi = conn.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM wavix_numbers").fetchone()
    conn.executemany(
        "INSERT OR REPLACE INTO wavix_counters (name, value) VALUES (?, ?)",
        [("count", count), ("min_id", lo or 0), ("max_id", hi or 0)],
    )
    return count, lo or 0, hi or 0


class DestinationIds:
    """Allocates destination ids from ``wavix_counters`` (call inside a transaction)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        row = conn.execute(
            "SELECT value FROM wavix_counters WHERE name = 'destination_id'"
        ).fetchone()
        self.next = row[0] if row else FIRST_DESTINATION_ID
        self.start = self.next

    def __call__(self) -> int:
        self.next += 1
        return self.next - 1

    def take(self, n: int) -> int:
        first, self.next = self.next, self.next + n
        return first

    def save(self) -> None:
        if self.next != self.start:
            self.conn.execute(
                "INSERT OR REPLACE INTO wavix_counters (name, value) VALUES ('destination_id', ?)",
                (self.next,),
            )


def write_changes(
    conn: Any, changes: Mapping[int, Mapping[str, Any]], ids: DestinationIds
) -> dict[int, str]:
    """Apply request-named field changes per number id; returns the new bodies."""
    out: dict[int, str] = {}
    rows = bodies(conn, list(changes))
    for number_id, body in rows.items():
        number = json.loads(body)
        for field, value in changes[number_id].items():
            if field == "destinations":
                number["destination"] = response_destinations(value, number["destination"], ids)
            else:
                number[field] = value
        out[number_id] = dumps(number)
    conn.executemany(
        "UPDATE wavix_numbers SET body = ? WHERE id = ?", [(b, i) for i, b in out.items()]
    )
    return out
