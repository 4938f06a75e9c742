"""The sandbox's SQLite store: one database holds every simulated carrier account.

Each carrier simulator owns its tables (created by its ``SCHEMA`` and filled by its ``seed``);
this module owns the connection, the injected clock and the *knobs*: named settings persisted in
the database (latency, async delays, job timings, fault injection) so a knob set from the CLI or a
test applies to the embedded and the served sandbox alike.

Knobs are read on every request, so they are cached per connection; the cache is dropped when
``PRAGMA data_version`` says another connection (``reconciler sandbox knob`` in another process,
while ``sandbox serve`` runs) committed since it was filled. Which knobs exist and what values they
take is ``knobs.py``'s business: the store keeps whatever JSON it is given.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..errors import ConfigError, ConfigIssue

DEFAULT_DB = Path(".reconciler") / "sandbox.sqlite3"
"""Relative to the current directory; override with ``RECONCILER_SANDBOX_DB``."""


def default_db_path() -> Path:
    return Path(os.environ.get("RECONCILER_SANDBOX_DB") or DEFAULT_DB)


OWN_TABLES = frozenset({"knobs", "meta"})
"""Every sandbox database has these from its first open: a SQLite file with tables but neither
is someone else's database, and the sandbox must not seed its carriers into it."""


def _unusable(path: str, why: str) -> ConfigError:
    where = "--sandbox-db or RECONCILER_SANDBOX_DB"
    return ConfigError(ConfigIssue(path, None, f"{why} ({where})"))


class SandboxStore:
    """SQLite connection + clock + knobs. ``path=":memory:"`` for tests."""

    def __init__(self, path: str | Path = ":memory:", *, clock: Clock | None = None) -> None:
        self.path = str(path)
        self.conn = self._connect()
        self.conn.execute(
            "PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY"
        )
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS knobs (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self._knob_cache: dict[str, Any] | None = None
        self._knob_version = -1

    def _connect(self) -> sqlite3.Connection:
        """The database, once it is known to be a sandbox's (or new); a user error otherwise."""
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # One connection shared by the in-process app and a served app's event loop thread.
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise _unusable(
                self.path, f"cannot open a sandbox database here: {exc}; choose another path"
            ) from None
        try:
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.Error:  # "file is not a database", or encrypted, or truncated
            tables = {"?"}
        if tables and not tables & OWN_TABLES:
            conn.close()
            raise _unusable(self.path, "not a sandbox database: remove it or choose another path")
        return conn

    # ---- knobs
    def knob(self, name: str, default: Any = None) -> Any:
        return self._knobs().get(name, default)

    def _knobs(self) -> dict[str, Any]:
        with self.lock:
            # data_version changes only when *another* connection commits; our own writes
            # clear the cache in set_knob.
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if self._knob_cache is None or version != self._knob_version:
                rows = self.conn.execute("SELECT name, value FROM knobs").fetchall()
                self._knob_cache = {n: json.loads(v) for n, v in rows}
                self._knob_version = version
            return self._knob_cache

    def set_knob(self, name: str, value: Any) -> None:
        with self.lock:
            if value is None:
                self.conn.execute("DELETE FROM knobs WHERE name = ?", (name,))
            else:
                self.conn.execute(
                    "INSERT OR REPLACE INTO knobs (name, value) VALUES (?, ?)",
                    (name, json.dumps(value)),
                )
            self._knob_cache = None

    def knobs(self) -> dict[str, Any]:
        """Every knob set, name → value."""
        return dict(self._knobs())

    # ---- meta (e.g. "seeded")
    def get_meta(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def transaction(self) -> _Tx:
        return _Tx(self)

    def close(self) -> None:
        self.conn.close()


class _Tx:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store.lock.acquire()
        self.store.conn.execute("BEGIN")
        return self.store.conn

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            self.store.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store.lock.release()
