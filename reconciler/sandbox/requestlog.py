"""The sandbox's request log (knob ``request_log``): what every request did, for tests to read.

With ``request_log`` true, both simulators append one row per request to table
``sandbox_requests``: when (store clock), carrier, method, path, the status answered, the ids a
write changed or scheduled (Wavix PATCH) or targeted (Telnyx job), the job it created, and the
fault injected, if any. A test can then check "no number outside the plan was written" and "no
job was created twice" from outside the client, served or in-process alike.

Handlers say what they wrote with ``note`` (a context variable set per request by ``start``);
the simulator's entry point calls ``record`` with the answer. The table is created on first use
and kept by ``sandbox reset`` (it is a log, not carrier state).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from .store import SandboxStore

KNOB = "request_log"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    carrier TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    ids TEXT,
    job TEXT,
    fault TEXT
)
"""


@dataclass
class Entry:
    """One request as logged (``ids``: what a write changed, scheduled or targeted)."""

    carrier: str
    method: str
    path: str
    status: int = 0
    ids: list[str] = field(default_factory=list)
    job: str | None = None
    fault: str | None = None
    seq: int = 0
    at: float = 0.0


_CURRENT: ContextVar[Entry | None] = ContextVar("sandbox_request", default=None)


def start(carrier: str, method: str, path: str) -> Entry:
    """Open the entry of the request being handled (``note`` fills it)."""
    entry = Entry(carrier, method, path)
    _CURRENT.set(entry)
    return entry


def note(*, ids: Iterable[str] = (), job: str | None = None, fault: str | None = None) -> None:
    """Called by a handler: this request wrote ``ids`` / created ``job`` / met ``fault``."""
    entry = _CURRENT.get()
    if entry is None:
        return
    entry.ids.extend(str(i) for i in ids)
    if job is not None:
        entry.job = job
    if fault is not None:
        entry.fault = fault


def record(store: SandboxStore, entry: Entry, status: int) -> None:
    """Append ``entry`` answered ``status``, when knob ``request_log`` is on."""
    _CURRENT.set(None)
    if store.knob(KNOB) is not True:
        return
    with store.lock:
        store.conn.execute(SCHEMA)
        store.conn.execute(
            "INSERT INTO sandbox_requests (at, carrier, method, path, status, ids, job, fault) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                store.clock.now(),
                entry.carrier,
                entry.method,
                entry.path,
                status,
                json.dumps(entry.ids) if entry.ids else None,
                entry.job,
                entry.fault,
            ),
        )


def entries(store: SandboxStore, *, after: int = 0) -> list[Entry]:
    """The logged requests with ``seq > after``, oldest first."""
    with store.lock:
        store.conn.execute(SCHEMA)
        rows = store.conn.execute(
            "SELECT seq, at, carrier, method, path, status, ids, job, fault "
            "FROM sandbox_requests WHERE seq > ? ORDER BY seq",
            (after,),
        ).fetchall()
    return [
        Entry(c, m, p, s, json.loads(i) if i else [], j, f, seq, at)
        for seq, at, c, m, p, s, i, j, f in rows
    ]
