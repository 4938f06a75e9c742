"""Run a Plan through the providers, record every call, then verify by re-reading.

The applier is a loop over the plan's bulk calls; it never re-derives the plan. Each call is
recorded through ``record(event, data)`` as it starts and ends (the hook a journal plugs into).
Calls of one account run with at most ``provider.max_concurrent_calls`` in flight (Telnyx: the
account's cap of 20 pending jobs). A fatal error (bad key, missing scope, no connection) stops
the apply: calls not yet started are not sent. After the calls, the touched numbers are re-read
until every changed field shows its new value or the number's wait runs out: ``verify_timeout_s``,
or longer when a field the carrier applies asynchronously changed (``Provider.verify_wait_s``;
Wavix: ``async_verify_timeout_s`` for destinations and the SMS URL). Such a field still missing
then is reported "not visible yet", apart from numbers the carrier refused. A call whose answer
was lost but whose numbers verify sees in their desired state counts as applied.

Follow-up calls (``followup.py``). A call's result may name failed numbers that are safe to
send again (``CallResult.retry``: the carrier failed them transiently and changed nothing, e.g. a
Telnyx job's 10007 "Please try again"). After the first pass, and before verify, each such call
gets ONE follow-up call per round with the same patch for exactly those ids (never other ids,
never a new patch: the plan is what was reviewed), for at most ``FOLLOW_UP_ROUNDS`` rounds;
follow-ups are recorded like every call (``record``; ``retry_of`` names the call's index), are
listed in the report, and what they apply is credited to the planned call's result. A call whose
outcome is unknown is never re-sent before verify: only numbers verify then shows unchanged
(every changed field still at its old value) are sent once more, when the carrier's write is
idempotent (not ``job_based``) or, for job carriers, the provider marked them (``retry``: no job
was found) and a fresh ``find_job`` still finds none; verify then re-reads them.

``follow`` jobs (an earlier run's, pending at the carrier: ``pending.py``) are waited for like
calls and never sent again. Ctrl-C (the main task cancelled, or ``KeyboardInterrupt`` from
``on_call_done``) stops sending, cancels the calls in flight, records them through ``record``
("call_interrupted") and raises ``ApplyInterrupted`` saying what was sent and what was not.
See docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import followup
from .clock import Clock
from .errors import ProviderError
from .plan import BulkCall, Plan
from .providers.base import AccountFatal, CallResult, CallStatus, Provider

log = logging.getLogger(__name__)

Recorder = Callable[[str, dict[str, Any]], None]

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 4
FOLLOW_UP_ROUNDS = 2
"""Rounds of follow-up calls for transiently failed numbers within one apply (bounded: a
number the carrier keeps failing is reported, and the next apply tries again)."""


class ApplyInterrupted(KeyboardInterrupt):
    """Ctrl-C during an apply: no new call was sent after it. Says which calls finished (with
    their outcome), which were in flight (sent; outcome unknown, the journal keeps them open for
    the next run to settle) and which were never sent."""

    def __init__(
        self, report: ApplyReport, in_flight: list[BulkCall], not_sent: list[BulkCall]
    ) -> None:
        super().__init__("apply interrupted")
        self.report, self.in_flight, self.not_sent = report, in_flight, not_sent

    def lines(self, limit: int = 20) -> list[str]:
        """The summary, then the calls: every call in flight; finished (those not ok first)
        and unsent ones up to ``limit`` each (the journal has them all)."""

        def one(call: BulkCall) -> str:
            first = f" from {call.e164s[0]}" if call.e164s else ""
            return f"{call.account}: {len(call.ids)} number(s){first}"

        def bounded(tag: str, items: list[str]) -> list[str]:
            shown = [f"  {tag:<10} {item}" for item in items[:limit]]
            left = len(items) - limit
            return shown + ([f"  {'':<10} … and {left} more {tag}"] if left > 0 else [])

        done = sorted(self.report.results, key=lambda r: r.status == CallStatus.OK)
        out = [
            f"Interrupted: {len(done)} call(s) finished, {len(self.in_flight)} in flight "
            f"(sent, outcome unknown), {len(self.not_sent)} not sent."
        ]
        if not self.in_flight and not self.not_sent:
            out.append("Every call was answered; verifying them was interrupted.")
        out += bounded(
            "finished",
            [
                f"{one(r.call)}: {r.status}" + (f", job {r.job_id}" if r.job_id else "")
                for r in done
            ],
        )
        out += [f"  in flight  {one(c)}" for c in self.in_flight]
        out += bounded("not sent", [one(c) for c in self.not_sent])
        return out


@dataclass
class ApplyReport:
    results: list[CallResult] = field(default_factory=list)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    """(account, e164) → why the number is not in its desired state after the apply."""
    verified: int = 0
    not_attempted: list[BulkCall] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)
    """account → the account-fatal error that stopped its calls."""
    held: dict[tuple[str, str], str] = field(default_factory=dict)
    """(account, e164) → the earlier run's carrier job this apply waited for (``follow``): not
    sent by this run, so not among the numbers it changed."""

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return EXIT_ERROR
        return EXIT_PARTIAL if self.failed or self.not_attempted else EXIT_OK

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)


async def apply_plan(
    plan: Plan,
    providers: Mapping[str, Provider],
    *,
    clock: Clock | None = None,
    record: Recorder | None = None,
    on_call_done: Callable[[CallResult], None] | None = None,
    verify: bool = True,
    follow: Sequence[tuple[BulkCall, str]] = (),
) -> ApplyReport:
    """Send ``plan``'s calls; ``follow`` are (numbers, job id) of jobs already at the carrier
    (an earlier run's): they are waited for like calls, never sent again. Then the follow-up
    calls (module docstring), then verify."""
    clock = clock or Clock()
    report = ApplyReport(held={(c.account, e): job for c, job in follow for e in c.e164s})
    emit = record or (lambda event, data: None)
    main = asyncio.current_task()
    started: dict[int, BulkCall] = {}
    finished: set[int] = set()
    index_of: dict[int, int] = {}  # id(result) → its call's index (for the journal)
    root_of: dict[int, CallResult] = {}  # id(follow-up result) → the planned call's result
    stopping: list[bool] = []
    e164_of = {(c.account, c.id): c.e164 for c in plan.changes}

    async def run(
        index: int,
        call: BulkCall,
        gate: asyncio.Semaphore,
        job_id: str | None = None,
        retry_of: CallResult | None = None,
    ) -> CallResult | None:
        async with gate:  # a followed job counts against the carrier's cap on live jobs too
            if stopping:
                return None  # interrupted: nothing new is sent
            if call.account in report.stopped:
                report.not_attempted.append(call)
                return None
            provider = providers[call.account]
            started[index] = call
            emit(
                "call_started",
                {
                    "index": index,
                    "account": call.account,
                    "ids": len(call.ids),
                    "call": call,
                    "follows": job_id,
                    "retry_of": None if retry_of is None else index_of.get(id(retry_of)),
                },
            )
            try:
                result = await (provider.follow(call, job_id) if job_id else provider.apply(call))
            except AccountFatal as exc:
                report.stopped.setdefault(call.account, str(exc))
                result = CallResult(call, CallStatus.FAILED, error=str(exc))
            except ProviderError as exc:  # a provider breaking the contract: still one call
                log.warning("provider %s raised for one call: %s", call.account, exc)
                result = CallResult(call, CallStatus.FAILED, error=str(exc))
            report.results.append(result)
            index_of[id(result)] = index
            finished.add(index)
            emit(
                "call_finished",
                {
                    "index": index,
                    "account": call.account,
                    "status": str(result.status),
                    "job_id": result.job_id,
                    "failed": len(result.failed),
                    "error": result.error,
                    "outcome_unknown": result.outcome_unknown,
                },
            )
            if retry_of is not None:
                root_of[id(result)] = root = root_of.get(id(retry_of), retry_of)
                followup.absorb(root, result)
            elif on_call_done:  # the display counts planned calls; follow-ups are extra
                try:
                    on_call_done(result)
                except KeyboardInterrupt:  # Ctrl-C seen by the display: stop like a SIGINT
                    stopping.append(True)
                    if main is not None:
                        main.cancel()
            return result

    gates = {name: asyncio.Semaphore(p.max_concurrent_calls) for name, p in providers.items()}
    tasks = [
        asyncio.ensure_future(run(i, call, gates[call.account]))
        for i, call in enumerate(plan.calls)
    ] + [
        asyncio.ensure_future(run(len(plan.calls) + i, call, gates[call.account], job_id))
        for i, (call, job_id) in enumerate(follow)
    ]
    every = [*plan.calls, *(c for c, _ in follow)]

    async def send_again(again: list[tuple[CallResult, BulkCall]]) -> list[CallResult | None]:
        first = len(tasks)
        batch = [
            asyncio.ensure_future(run(first + k, call, gates[call.account], retry_of=r))
            for k, (r, call) in enumerate(again)
        ]
        tasks.extend(batch)  # so that Ctrl-C cancels them too
        return list(await asyncio.gather(*batch))

    try:
        results: list[CallResult | None] = list(await asyncio.gather(*tasks))
        for _ in range(FOLLOW_UP_ROUNDS):
            again = followup.now(results, report.stopped, e164_of)
            if not again:
                break
            results = await send_again(again)
        _note_failures(report, report.results, e164_of)
        for call in report.not_attempted:
            for e164 in call.e164s:
                why = report.stopped.get(call.account, "")
                report.failed[(call.account, e164)] = f"not sent: the account stopped ({why})"
        if verify:
            unchanged: set[tuple[str, str]] = set()
            await _verify(plan, providers, report, clock, unchanged)
            again = await followup.after_verify(
                list(report.results), providers, unchanged, report.stopped, e164_of
            )
            if again:
                resent = [r for r in await send_again(again) if r is not None]
                _note_failures(report, resent, e164_of, settle=True)
                keys = {
                    (r.call.account, i)
                    for r in resent
                    for i in r.call.ids
                    if r.outcome_unknown or i not in r.failed
                }
                changes = tuple(c for c in plan.changes if (c.account, c.id) in keys)
                await _verify(replace(plan, changes=changes), providers, report, clock)
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Ctrl-C (asyncio.run cancels the main task) or the display's KeyboardInterrupt: stop
        # sending, cancel the calls in flight and leave them open in the journal.
        stopping.append(True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        in_flight = [(i, c) for i, c in sorted(started.items()) if i not in finished]
        for i, c in in_flight:
            emit("call_interrupted", {"index": i, "account": c.account})
        not_sent = [c for i, c in enumerate(every) if i not in started]
        raise ApplyInterrupted(report, [c for _, c in in_flight], not_sent) from None
    if verify:
        _credit_verified(report, e164_of, index_of, emit)
    return report


def _note_failures(
    report: ApplyReport,
    results: Sequence[CallResult],
    e164_of: Mapping[tuple[str, str], str],
    *,
    settle: bool = False,
) -> None:
    """Each failed number of ``results`` into ``report.failed`` (a later result's reason wins);
    ``settle``: the numbers those results did not fail are cleared (verify will re-read them)."""
    for result in results:
        account = result.call.account
        for id_ in result.call.ids:
            key = (account, e164_of.get((account, id_), id_))
            reason = result.failed.get(id_)
            if reason:
                report.failed[key] = reason
            elif settle:
                report.failed.pop(key, None)


def _credit_verified(
    report: ApplyReport,
    e164_of: Mapping[tuple[str, str], str],
    index_of: Mapping[int, int],
    emit: Recorder,
) -> None:
    """A call whose answer was lost (or a job we stopped waiting for), or whose failed numbers
    a follow-up call applied, counts as applied for the numbers verify saw in their desired
    state (verify re-reads only numbers not known failed)."""
    for result in report.results:
        account = result.call.account
        landed = {
            i for i in result.failed if (account, e164_of.get((account, i), i)) not in report.failed
        }
        if not landed:
            continue
        followup.narrow(result, landed)
        if result.outcome_unknown and not result.failed:
            # every number landed: nothing left for a next run to settle
            emit("call_verified", {"index": index_of.get(id(result)), "account": account})


async def _verify(
    plan: Plan,
    providers: Mapping[str, Provider],
    report: ApplyReport,
    clock: Clock,
    unchanged: set[tuple[str, str]] | None = None,
) -> None:
    """Re-read the numbers the calls touched until their changed fields show the new values.
    ``unchanged`` receives (account, id) of numbers given up on with every changed field still
    at its old value (nothing of the call landed on them)."""
    expected: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    old = {(c.account, c.id): {f.field: f.old for f in c.changes} for c in plan.changes}
    unknown = {(r.call.account, i) for r in report.results if r.outcome_unknown for i in r.call.ids}
    for change in plan.changes:
        if change.account in report.stopped:
            continue
        known_failed = (change.account, change.e164) in report.failed
        if known_failed and (change.account, change.id) not in unknown:
            continue
        expected.setdefault(change.account, {})[change.id] = (
            change.e164,
            {f.field: f.new for f in change.changes},
        )

    async def one_account(account: str, want: dict[str, tuple[str, dict[str, Any]]]) -> None:
        provider = providers[account]
        start = clock.now()
        # Each number waits as long as its slowest changed field may take (async fields longer).
        wait = {id_: provider.verify_wait_s(fields) for id_, (_, fields) in want.items()}
        pending = dict(want)
        last: dict[str, str] = {}
        off_last: dict[str, list[str]] = {}
        gave_up: dict[str, str] = {}
        untouched: set[str] = set()  # ids whose last read showed every changed field as before
        while pending:
            try:
                live = await provider.fetch(sorted(pending))
            except ProviderError as exc:
                for e164, _ in pending.values():
                    report.failed[(account, e164)] = f"could not verify: {exc}"
                return
            by_id = {n.id: n for n in live}
            for id_ in list(pending):
                e164, fields = pending[id_]
                number = by_id.get(id_)
                if number is None:
                    last[id_] = "not found when re-read"
                    off_last.pop(id_, None)
                    untouched.discard(id_)
                    continue
                off = [k for k, v in fields.items() if number.settings.get(k) != v]
                if off:
                    last[id_] = "still differs after apply: " + ", ".join(off)
                    off_last[id_] = off
                    was = old.get((account, id_), {})
                    if all(number.settings.get(k) == was.get(k) for k in fields):
                        untouched.add(id_)
                    else:
                        untouched.discard(id_)
                else:
                    del pending[id_]
                    report.verified += 1
                    # A call whose answer was lost but whose change landed counts as applied.
                    report.failed.pop((account, e164), None)
            for id_ in [i for i in pending if clock.now() >= start + wait[i]]:
                gave_up[id_] = pending.pop(id_)[0]
            if not pending:
                break
            deadline = min(start + wait[i] for i in pending)
            await clock.sleep(
                min(provider.config.poll_interval_s, max(0.0, deadline - clock.now()))
            )
        for id_, e164 in gave_up.items():
            if unchanged is not None and id_ in untouched:
                unchanged.add((account, id_))
            still = off_last.get(id_)
            if still and provider.async_fields.issuperset(still):
                # Accepted, and the carrier applies these later: not (yet) a refusal.
                seen = (
                    f"not visible yet after {wait[id_]:g}s: {', '.join(still)} (accepted; the "
                    "carrier applies them asynchronously, the next plan shows whether they landed)"
                )
            else:
                seen = f"{last.get(id_, 'not verified')} (waited {wait[id_]:g}s)"
            earlier = report.failed.get((account, e164))
            report.failed[(account, e164)] = f"{earlier}; {seen}" if earlier else seen

    await asyncio.gather(*(one_account(a, w) for a, w in expected.items()))
