"""The apply journal and lock: local memory of what was sent, so a next run finishes the work.

State directory: ``--state-dir`` / ``RECONCILER_STATE_DIR``, default ``.reconciler`` (beside the
embedded sandbox's default database). It holds:

* ``journal.sqlite3`` — one row per bulk call of every apply, written **before** the call is
  sent (run id, config, plan checksum, account, carrier, ids, the patch with secret values left
  out, a hash of it) and completed **after** it answers (status, job id, errors, whether the
  outcome is unknown). A call still ``sending`` (the process died or was interrupted while it
  was in flight), or one whose outcome is unknown, is *open*. The next apply first settles the
  open calls of its accounts (``settle``): a job carrier's job is looked up (by the job id when
  the run learnt it, else by its content: exactly these ids, parameters that agree) — a job
  still live is then waited for and verified by pending-job awareness (``pending.py``), a
  finished one is reported; an idempotent carrier's numbers are simply re-read by the plan,
  which shows what is left. A call of an operation the carrier cannot list
  (``Operation.adoptable`` false, e.g. a Telnyx messaging order) is looked up by its id only, and
  nothing holds its numbers even while it is live: the plan re-reads them and the run re-sends
  what is not applied (such an operation is idempotent).
* ``locks/<key>.lock`` — ``fcntl.flock`` held for the whole apply of one config, so two applies
  of it from one machine never interleave: the second waits a few seconds, then refuses.

Secret values (``external_pin``, keys) never reach the journal: a call's patch is stored with
secret fields replaced by a marker, and its hash is taken over that masked form (a hash of a
4-digit PIN would give it away).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import carriers
from .apply.events import CallEvent, CallFinished, CallInterrupted, CallStarted, CallVerified
from .errors import ApplyError, ProviderError
from .plan import BulkCall, Plan
from .seam import PendingJob, Provider

log = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(".reconciler")
STATE_DIR_ENV = "RECONCILER_STATE_DIR"
JOURNAL_FILE = "journal.sqlite3"
LOCK_WAIT_S = 5.0
KEEP_S = 30 * 86400
"""Closed calls older than this are pruned when the journal is opened; open ones are kept."""
SECRET = "<secret: not journalled>"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY,
    run TEXT NOT NULL,
    config TEXT NOT NULL,
    plan_checksum TEXT NOT NULL,
    idx INTEGER NOT NULL,
    account TEXT NOT NULL,
    carrier TEXT NOT NULL,
    ids TEXT NOT NULL,
    patch TEXT NOT NULL,
    patch_hash TEXT NOT NULL,
    follows TEXT,
    state TEXT NOT NULL,
    status TEXT,
    job_id TEXT,
    outcome_unknown INTEGER NOT NULL DEFAULT 0,
    errors TEXT,
    sent_at REAL NOT NULL,
    done_at REAL,
    settled_at REAL,
    settled TEXT
);
CREATE INDEX IF NOT EXISTS calls_open ON calls (state);
"""
SENDING, DONE, INTERRUPTED, SETTLED = "sending", "done", "interrupted", "settled"
_OPEN = f"(state IN ('{SENDING}', '{INTERRUPTED}') OR (state = '{DONE}' AND outcome_unknown = 1))"


class ApplyLocked(ApplyError):
    """Another apply of the same config holds the lock (exit 1)."""


def state_dir(given: str | Path | None = None) -> Path:
    """``--state-dir``, else ``$RECONCILER_STATE_DIR``, else ``.reconciler``."""
    if given is not None:
        return Path(given)
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def _ready(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ApplyError(
            f"state directory {directory}: {exc.strerror or exc}; give a writable one with "
            f"--state-dir or {STATE_DIR_ENV}"
        ) from None
    if not directory.is_dir():
        raise ApplyError(f"state directory {directory} is not a directory (--state-dir)")
    return directory


def masked_patch(carrier: str, patch: Mapping[str, Any]) -> dict[str, Any]:
    """The patch with every secret field's value replaced by a marker."""
    desc = carriers.get(carrier)
    return {k: SECRET if desc.is_secret(k) else v for k, v in patch.items()}


def patch_hash(carrier: str, ids: tuple[str, ...], patch: Mapping[str, Any]) -> str:
    body = json.dumps([sorted(ids), masked_patch(carrier, patch)], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class OpenCall:
    """A call an earlier run sent without learning (or recording) how it ended."""

    seq: int
    run: str
    account: str
    carrier: str
    ids: tuple[str, ...]
    patch: dict[str, Any]
    """Secret fields masked: compare only the other keys."""
    state: str
    job_id: str | None
    follows: str | None

    def describe(self) -> str:
        job = self.job_id or self.follows
        what = f"job {job}" if job else f"{len(self.ids)} number(s)"
        return f"{self.account}: call #{self.seq} ({what}, left {self.state})"


@dataclass(frozen=True)
class Settled:
    call: OpenCall
    how: str

    def __str__(self) -> str:
        return f"{self.call.describe()}: {self.how}"


class Journal:
    """The state directory's journal database (one connection, used from one thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(_SCHEMA)
            self.conn.execute(
                f"DELETE FROM calls WHERE NOT {_OPEN} AND sent_at < ?", (time.time() - KEEP_S,)
            )
        except sqlite3.Error as exc:
            raise ApplyError(
                f"journal {path}: {exc}; is --state-dir a writable directory?"
            ) from None

    @classmethod
    def open(cls, directory: str | Path | None = None) -> Journal:
        return cls(_ready(state_dir(directory)) / JOURNAL_FILE)

    def close(self) -> None:
        self.conn.close()

    # ---- writing (one run's ``RunJournal``)
    def recorder(self, plan: Plan, config: str) -> RunJournal:
        """The journal of one apply of ``plan`` (``config`` names what was applied)."""
        return RunJournal(self, uuid.uuid4().hex, config, plan.checksum())

    def add_call(self, row: NewCall) -> int:
        """A call about to be sent → its row's ``seq``."""
        cur = self.conn.execute(
            "INSERT INTO calls (run, config, plan_checksum, idx, account, carrier, ids, "
            "patch, patch_hash, follows, state, sent_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.run,
                row.config,
                row.checksum,
                row.index,
                row.call.account,
                row.call.carrier,
                json.dumps(list(row.call.ids)),
                json.dumps(masked_patch(row.call.carrier, row.call.patch), default=str),
                patch_hash(row.call.carrier, row.call.ids, row.call.patch),
                row.follows,
                SENDING,
                time.time(),
            ),
        )
        return int(cur.lastrowid or 0)

    def end_call(self, seq: int, ended: CallFinished, error: str | None) -> None:
        """The call answered (``error``: its text with the call's secret values cut out)."""
        self.conn.execute(
            "UPDATE calls SET state = ?, status = ?, job_id = coalesce(?, job_id, follows), "
            "outcome_unknown = ?, errors = ?, done_at = ? WHERE seq = ?",
            (
                DONE,
                str(ended.status),
                ended.job_id,
                int(ended.outcome_unknown),
                error,
                time.time(),
                seq,
            ),
        )

    def interrupt_call(self, seq: int) -> None:
        """The call was in flight when the run was interrupted: the next run settles it."""
        self.conn.execute(
            "UPDATE calls SET state = ?, errors = ?, done_at = ? WHERE seq = ?",
            (INTERRUPTED, "interrupted while in flight", time.time(), seq),
        )

    # ---- reading
    def open_calls(self, accounts: set[str] | None = None) -> list[OpenCall]:
        rows = self.conn.execute(
            f"SELECT seq, run, account, carrier, ids, patch, state, job_id, follows FROM calls "
            f"WHERE {_OPEN} AND settled_at IS NULL ORDER BY seq"
        ).fetchall()
        calls = [
            OpenCall(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), json.loads(r[5]), *r[6:])
            for r in rows
        ]
        return [c for c in calls if accounts is None or c.account in accounts]

    def rows(self, run: str | None = None) -> list[dict[str, Any]]:
        """Every row (of one run), oldest first: for tests and inspection."""
        cur = self.conn.execute(
            "SELECT * FROM calls" + (" WHERE run = ?" if run else "") + " ORDER BY seq",
            (run,) if run else (),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def mark_settled(self, seq: int, how: str) -> None:
        self.conn.execute(
            "UPDATE calls SET state = ?, settled_at = ?, settled = ? WHERE seq = ?",
            (SETTLED, time.time(), how, seq),
        )


@dataclass(frozen=True)
class NewCall:
    """The row of a call about to be sent."""

    run: str
    config: str
    checksum: str
    index: int
    call: BulkCall
    follows: str | None


class RunJournal:
    """One apply's ``CallJournal``: a row before each call is sent, its outcome after."""

    def __init__(self, journal: Journal, run: str, config: str, checksum: str) -> None:
        self.journal, self.run, self.config, self.checksum = journal, run, config, checksum
        self.rows: dict[int, int] = {}  # call index → row seq
        self.secrets: dict[int, list[str]] = {}  # call index → its secret values, to scrub

    def record(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            self._started(event)
            return
        seq = self.rows.get(event.index)
        if seq is None:
            return  # not a call of this run
        if isinstance(event, CallFinished):
            self.journal.end_call(seq, event, self._scrub(event.index, event.error))
        elif isinstance(event, CallVerified):
            # the answer was lost but verify saw the change: nothing left to settle
            self.journal.mark_settled(seq, "verified by the same run")
        elif isinstance(event, CallInterrupted):
            self.journal.interrupt_call(seq)

    def _started(self, event: CallStarted) -> None:
        call = event.call
        desc = carriers.get(call.carrier)
        self.secrets[event.index] = [
            str(v) for k, v in call.patch.items() if desc.is_secret(k) and str(v)
        ]
        row = NewCall(self.run, self.config, self.checksum, event.index, call, event.follows)
        self.rows[event.index] = self.journal.add_call(row)

    def _scrub(self, index: int, text: str | None) -> str | None:
        """A carrier's error text with the call's secret values cut out (it may echo them)."""
        if text is None:
            return None
        for value in self.secrets.get(index, ()):
            text = text.replace(value, "***")
        return text


async def settle(journal: Journal, providers: Mapping[str, Provider]) -> list[Settled]:
    """Settle the open calls of these accounts that earlier runs left; say how each ended.

    Job carriers: the job is looked up; a live one is left to pending-job awareness (this run
    waits for it and verifies its numbers), a finished one is reported. Idempotent carriers:
    nothing to look up, this run's plan re-reads the numbers and shows what is left. An
    operation the carrier cannot list (not ``adoptable``): pending-job awareness never sees its
    calls, so a live one is not waited for; the plan re-reads its numbers and the run re-sends
    what is not applied."""
    settled: list[Settled] = []
    for call in journal.open_calls(set(providers)):
        provider = providers[call.account]
        op = _operation(call)
        if not provider.job_based:
            how = "idempotent call: this run re-read the numbers; the plan shows what is left"
        elif not op.adoptable:
            try:
                how = await _unlisted(provider, call, op)
            except ProviderError as exc:
                log.warning("could not settle %s: %s", call.describe(), exc)
                continue  # stays open: the next run tries again
        else:
            known = {k: v for k, v in call.patch.items() if v != SECRET}
            try:
                job = await provider.find_job(call.ids, known, call.job_id or call.follows)
            except ProviderError as exc:
                log.warning("could not settle %s: %s", call.describe(), exc)
                continue  # stays open: the next run tries again
            if job is None:
                how = "no job found at the carrier: the plan re-read the numbers"
            elif job.status in PendingJob.live:
                how = f"job {job.job_id} still {job.status}: this run waits for it and verifies"
            else:
                how = f"job {job.job_id} {job.status}; the plan shows what is left"
        journal.mark_settled(call.seq, how)
        settled.append(Settled(call, how))
    return settled


def _operation(call: OpenCall) -> carriers.Operation:
    """The operation a journalled call was sent by (its patch's fields belong to one)."""
    described = carriers.get(call.carrier)
    first = next(iter(call.patch), None)
    return described.primary if first is None else described.operation_of(first)


async def _unlisted(provider: Provider, call: OpenCall, op: carriers.Operation) -> str:
    """How an open call of an operation the carrier cannot list settles: looked up by id when
    the earlier run learnt it, never waited for (nothing holds its numbers), re-sent by the plan
    where not applied."""
    resend = (
        f"{op.name} calls cannot be listed, so this run re-reads the numbers and re-sends what "
        "is not applied (sending the same value twice is harmless)"
    )
    call_id = call.job_id or call.follows
    if not call_id:
        return f"the answer was lost before an id was learnt; {resend}"
    known = {k: v for k, v in call.patch.items() if v != SECRET}
    job = await provider.find_job(call.ids, known, call_id)
    if job is None:
        return f"{op.name} {call_id} not found at the carrier; {resend}"
    if job.status in PendingJob.live:
        return f"{op.name} {call_id} still had pending numbers; {resend}"
    return f"{op.name} {call_id} {job.status}; the plan shows what is left"


@contextlib.contextmanager
def apply_lock(
    key: str, directory: str | Path | None = None, wait_s: float | None = None
) -> Iterator[Path]:
    """Hold the apply lock of ``key`` (a config) for the block; refuse after ``wait_s``
    (default ``LOCK_WAIT_S``)."""
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    locks = _ready(state_dir(directory) / "locks")
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = locks / f"{name}.lock"
    try:
        handle = open(path, "a+")  # held (and locked) for the whole block
    except OSError as exc:
        raise ApplyError(f"lock file {path}: {exc.strerror or exc} (--state-dir)") from None
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise ApplyLocked(
                        f"another apply of {key} is running ({holder}); waited {wait_s:g}s. "
                        "Run again when it has finished (two applies of one config never "
                        f"interleave; lock file {path})"
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        yield path
    finally:
        handle.close()  # releases the lock
