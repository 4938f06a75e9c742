"""Sending calls: each call a run sends (or an earlier run's job it waits for) becomes an
``Attempt``.

``Dispatch`` runs calls with at most ``provider.max_concurrent_calls`` of one account in flight
(Telnyx: the account's cap of 20 pending jobs; a followed job counts against it too), records
each in the journal before it is sent and after it answers, and keeps what an interruption
needs: which calls started, which finished, which accounts stopped. The contract it relies on
(``providers.base``): ``Provider.apply`` returns a result for anything about one call and raises
only ``AccountFatal``, which stops that account's remaining calls (not the others').
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import ProviderError
from ..plan import BulkCall
from ..seam import AccountFatal, CallResult, CallStatus, Provider
from .events import CallFinished, CallInterrupted, CallJournal, CallStarted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One call this run sent (or one earlier run's job it waited for), and its answer."""

    index: int
    """Its place in the run: the journal's key for it (``events``)."""
    call: BulkCall
    result: CallResult
    """As the provider answered (``stages.credit`` derives what later calls showed landed)."""
    follows: str | None = None
    """The earlier run's job waited for (nothing was sent)."""
    retry_of: int | None = None
    """The index of the attempt this one follows up."""
    root: int | None = None
    """The index of the planned call (or followed job) a follow-up is credited to."""


@dataclass(frozen=True)
class Outgoing:
    """A call about to be sent (``Dispatch.outgoing`` hands out its index)."""

    index: int
    call: BulkCall
    follows: str | None = None
    retry_of: Attempt | None = None


class Dispatch:
    """The calls of one apply: sends them, records them, knows which are in flight."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        journal: CallJournal,
        on_call_done: Callable[[CallResult], None] | None = None,
    ) -> None:
        self.providers, self.journal, self.on_call_done = providers, journal, on_call_done
        self.gates = {n: asyncio.Semaphore(p.max_concurrent_calls) for n, p in providers.items()}
        self.main = asyncio.current_task()
        self.attempts: list[Attempt] = []
        """Every attempt, in the order they finished."""
        self.started: dict[int, BulkCall] = {}
        self.stopped: dict[str, str] = {}
        """account → the account-fatal error that stopped its calls."""
        self.not_attempted: list[BulkCall] = []
        self.stopping = False
        self._tasks: list[asyncio.Future[Attempt | None]] = []
        self._next = 0

    def outgoing(
        self, call: BulkCall, *, follows: str | None = None, retry_of: Attempt | None = None
    ) -> Outgoing:
        """``call`` with the run's next index."""
        self._next += 1
        return Outgoing(self._next - 1, call, follows, retry_of)

    async def send(self, work: Sequence[Outgoing]) -> list[Attempt]:
        """Send ``work`` concurrently (gated per account) → the attempts made, in ``work``'s
        order (calls not sent: the account stopped, or the run is stopping, are left out)."""
        batch = [asyncio.ensure_future(self._attempt(w)) for w in work]
        self._tasks.extend(batch)  # so that ``halt`` cancels them too
        return [a for a in await asyncio.gather(*batch) if a is not None]

    async def halt(self) -> list[BulkCall]:
        """Ctrl-C: send nothing more, cancel the calls in flight and record them as interrupted
        (the next run settles them) → the calls that were in flight."""
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        finished = {a.index for a in self.attempts}
        in_flight = [(i, c) for i, c in sorted(self.started.items()) if i not in finished]
        for index, _ in in_flight:
            self.journal.record(CallInterrupted(index))
        return [c for _, c in in_flight]

    async def _attempt(self, work: Outgoing) -> Attempt | None:
        call = work.call
        async with self.gates[call.account]:
            if self.stopping:
                return None  # interrupted: nothing new is sent
            if call.account in self.stopped:
                self.not_attempted.append(call)
                return None
            self.started[work.index] = call
            parent = work.retry_of
            retry_of = None if parent is None else parent.index
            self.journal.record(CallStarted(work.index, call, work.follows, retry_of))
            result = await self._result(work)
            root = (
                None if parent is None else (parent.index if parent.root is None else parent.root)
            )
            attempt = Attempt(work.index, call, result, work.follows, retry_of, root)
            self.attempts.append(attempt)
            self.journal.record(CallFinished.of(work.index, result))
            if parent is None:  # the display counts planned calls; follow-ups are extra
                self._shown(result)
            return attempt

    async def _result(self, work: Outgoing) -> CallResult:
        """The provider's answer; an account-fatal error stops the account's other calls."""
        call, provider = work.call, self.providers[work.call.account]
        try:
            if work.follows:
                return await provider.follow(call, work.follows)
            return await provider.apply(call)
        except AccountFatal as exc:
            self.stopped.setdefault(call.account, str(exc))
            return CallResult(call, CallStatus.FAILED, error=str(exc))
        except ProviderError as exc:  # a provider breaking the contract: still one call
            log.warning("provider %s raised for one call: %s", call.account, exc)
            return CallResult(call, CallStatus.FAILED, error=str(exc))

    def _shown(self, result: CallResult) -> None:
        if self.on_call_done is None:
            return
        try:
            self.on_call_done(result)
        except KeyboardInterrupt:  # Ctrl-C seen by the display: stop like a SIGINT
            self.stopping = True
            if self.main is not None:
                self.main.cancel()
