"""What the applier tells its journal: one frozen event per moment of a call's life.

The applier depends only on ``CallJournal`` (anything with ``record(event)``):
``journal.RunJournal`` writes the events to the state directory's database, tests collect them.
Every call a run sends (or follows) has an ``index``: the planned calls ``0..n-1`` in plan
order, then the earlier runs' jobs it waits for, then follow-up calls in the order they are
sent. A journal keys its rows by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..plan import BulkCall
from ..seam import CallResult, CallStatus


@dataclass(frozen=True)
class CallStarted:
    """About to be sent: recorded before the request leaves."""

    index: int
    call: BulkCall
    follows: str | None = None
    """The earlier run's carrier job this call waits for (nothing is sent)."""
    retry_of: int | None = None
    """The index of the call this one follows up (the same patch for some of its ids)."""


@dataclass(frozen=True)
class CallFinished:
    """The provider answered (or gave up): how the call ended."""

    index: int
    status: CallStatus
    job_id: str | None = None
    error: str | None = None
    outcome_unknown: bool = False

    @classmethod
    def of(cls, index: int, result: CallResult) -> CallFinished:
        return cls(index, result.status, result.job_id, result.error, result.outcome_unknown)


@dataclass(frozen=True)
class CallInterrupted:
    """Cancelled while in flight (Ctrl-C, SIGTERM): sent, outcome unknown."""

    index: int


@dataclass(frozen=True)
class CallVerified:
    """Its outcome was unknown, but verify saw every number of it in its desired state:
    nothing is left for a next run to settle."""

    index: int


CallEvent = CallStarted | CallFinished | CallInterrupted | CallVerified


class CallJournal(Protocol):
    """Where the applier records its calls (``journal.RunJournal``; tests collect them)."""

    def record(self, event: CallEvent) -> None: ...


class Unrecorded:
    """No journal: the events are dropped."""

    def record(self, event: CallEvent) -> None:
        return None
