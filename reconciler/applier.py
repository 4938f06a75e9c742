"""Run a Plan through the providers, record every call, then verify by re-reading.

The applier runs the plan's bulk calls as named stages (``reconciler.apply``: send → follow-ups
→ verify → re-send → credit); it never re-derives the plan. Each call is recorded in the
``CallJournal`` as it starts and ends (``apply.events``). Calls of one account run with at most
``provider.max_concurrent_calls`` in flight (Telnyx: the account's cap of 20 pending jobs). A
fatal error (bad key, missing scope, no connection) stops that account: its calls not yet
started are not sent. After the calls, the touched numbers are re-read until every changed
field shows its new value or the number's wait runs out (``apply.verify``). A call whose answer
was lost but whose numbers verify sees in their desired state counts as applied.

Follow-up calls (``apply.followup``). A call's result may name failed numbers that are safe to
send again (``CallResult.retry``: the carrier failed them transiently and changed nothing, e.g. a
Telnyx job's 10007 "Please try again"). After the first pass, and before verify, each such call
gets ONE follow-up call per round with the same patch for exactly those ids (never other ids,
never a new patch: the plan is what was reviewed), for at most ``FOLLOW_UP_ROUNDS`` rounds;
follow-ups are recorded like every call (``CallStarted.retry_of`` names the call's index), are
listed in the report, and what they apply is credited to the planned call's result. A call whose
outcome is unknown is never re-sent before verify: only numbers verify then shows unchanged
(every changed field still at its old value) are sent once more, when the carrier's write is
idempotent (not ``job_based``) or, for job carriers, the provider marked them (``retry``: no job
was found) and a fresh ``find_job`` still finds none; verify then re-reads them.

``follow`` jobs (an earlier run's, pending at the carrier: ``pending.py``) are waited for like
calls and never sent again. Ctrl-C (the main task cancelled, or ``KeyboardInterrupt`` from
``on_call_done``) stops sending, cancels the calls in flight, records them
(``CallInterrupted``) and raises ``ApplyInterrupted`` saying what was sent and what was not.
See docs/reliability.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from .apply import stages
from .apply.dispatch import Dispatch
from .apply.events import CallJournal, CallVerified, Unrecorded
from .apply.report import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    ApplyInterrupted,
    ApplyReport,
    HeldNumber,
    Key,
    Unconverged,
)
from .apply.stages import FOLLOW_UP_ROUNDS
from .clock import Clock
from .plan import BulkCall, Plan
from .seam import CallResult, Provider

__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "FOLLOW_UP_ROUNDS",
    "ApplyInterrupted",
    "ApplyReport",
    "CallJournal",
    "CallResult",
    "HeldNumber",
    "Unconverged",
    "apply_plan",
]


async def apply_plan(
    plan: Plan,
    providers: Mapping[str, Provider],
    *,
    clock: Clock | None = None,
    record: CallJournal | None = None,
    on_call_done: Callable[[CallResult], None] | None = None,
    follow: Sequence[tuple[BulkCall, str]] = (),
) -> ApplyReport:
    """Send ``plan``'s calls; ``follow`` are (numbers, job id) of jobs already at the carrier
    (an earlier run's): they are waited for like calls, never sent again. Then the follow-up
    calls (module docstring), then verify. ``record``: the journal the calls are recorded in."""
    clock = clock or Clock()
    journal = Unrecorded() if record is None else record
    dispatch = Dispatch(providers, journal, on_call_done)
    e164_of = {(c.account, c.id): c.e164 for c in plan.changes}
    holds = {(c.account, i): HeldNumber(e, job) for c, job in follow for i, e in _pairs(c)}
    work = stages.Work(plan.calls, tuple(follow))
    known: dict[Key, Unconverged] = {}
    verified = 0
    try:
        sent = await stages.send(dispatch, work)
        await stages.follow_up(dispatch, sent, e164_of)
        results = stages.credited(dispatch.attempts)
        known = stages.failures(results, dispatch.not_attempted, dispatch.stopped, e164_of)
        seen = await stages.verify_changes(plan.changes, dispatch, known, clock)
        known, verified = seen.merged(known), seen.verified
        resent = await stages.resend(dispatch, seen, e164_of)
        if resent.attempts:
            known = stages.noted(known, [a.result for a in resent.attempts], e164_of, settle=True)
            again = stages.changes_of(plan.changes, resent.landed_or_unknown())
            seen = await stages.verify_changes(again, dispatch, known, clock)
            known, verified = seen.merged(known), verified + seen.verified
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Ctrl-C (asyncio.run cancels the main task) or the display's KeyboardInterrupt: stop
        # sending, cancel the calls in flight and leave them open in the journal.
        in_flight = await dispatch.halt()
        not_sent = [c for i, c in enumerate(work.every()) if i not in dispatch.started]
        so_far = _report(dispatch, stages.credited(dispatch.attempts), known, verified, holds)
        raise ApplyInterrupted(so_far, in_flight, not_sent) from None
    credit = stages.credit(dispatch.attempts, known)
    for index in credit.settled:
        journal.record(CallVerified(index))
    return _report(dispatch, list(credit.results), known, verified, holds)


def _report(
    dispatch: Dispatch,
    results: list[CallResult],
    known: dict[Key, Unconverged],
    verified: int,
    holds: dict[Key, HeldNumber],
) -> ApplyReport:
    return ApplyReport(results, known, verified, dispatch.not_attempted, dispatch.stopped, holds)


def _pairs(call: BulkCall) -> list[tuple[str, str]]:
    """(id, E.164) of a followed job's numbers."""
    return list(zip(call.ids, call.e164s, strict=False))
