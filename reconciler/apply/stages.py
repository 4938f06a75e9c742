"""The apply stages, each a function with a typed input and output (``applier.apply_plan`` runs
them in order; the package docstring draws the pipeline).

1. ``send`` — the plan's calls, and the earlier runs' jobs to wait for (``follow``).
2. ``follow_up`` — at most ``FOLLOW_UP_ROUNDS`` rounds of follow-up calls for numbers a carrier
   failed transiently (``followup.now``).
3. ``failures`` — what the calls said did not land, and the numbers of stopped accounts.
4. ``verify.verify`` — re-read the numbers (``verify.selection`` picks them).
5. ``resend`` — unanswered calls whose numbers verify saw unchanged, sent once more
   (``followup.after_verify``); their numbers are verified again.
6. ``credit`` — each result with the numbers later calls and verify showed landed taken off its
   failed numbers; an unanswered call whose every number landed is settled in the journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..clock import Clock
from ..plan import BulkCall, NumberChange
from ..seam import CallResult
from . import followup, verify
from .dispatch import Attempt, Dispatch
from .report import Key, Unconverged
from .verify import Verification

FOLLOW_UP_ROUNDS = 2
"""Rounds of follow-up calls for transiently failed numbers within one apply (bounded: a
number the carrier keeps failing is reported, and the next apply tries again)."""

E164s = Mapping[Key, str]
"""(account, id) → E.164 of the plan's numbers; an id the plan lacks stands for itself."""


@dataclass(frozen=True)
class Work:
    """What the first pass sends: the plan's calls, and (numbers, job id) of jobs an earlier
    run left at the carrier, waited for like calls and never sent again."""

    calls: tuple[BulkCall, ...]
    follow: tuple[tuple[BulkCall, str], ...] = ()

    def every(self) -> list[BulkCall]:
        """The calls in the order of their indexes (``events``)."""
        return [*self.calls, *(c for c, _ in self.follow)]


@dataclass(frozen=True)
class Sent:
    attempts: tuple[Attempt, ...] = ()

    def unknown(self) -> frozenset[Key]:
        """Numbers of calls whose outcome is unknown."""
        return frozenset(
            (a.call.account, i)
            for a in self.attempts
            if a.result.outcome_unknown
            for i in a.call.ids
        )

    def landed_or_unknown(self) -> frozenset[Key]:
        """Numbers these calls applied, or may have (to verify)."""
        return frozenset(
            (a.call.account, i)
            for a in self.attempts
            for i in a.call.ids
            if a.result.outcome_unknown or i not in a.result.failed
        )


@dataclass(frozen=True)
class Credit:
    results: tuple[CallResult, ...]
    """Every attempt's result, in the order they finished, with what landed credited."""
    settled: tuple[int, ...]
    """Indexes of unanswered calls verify saw land completely (nothing left to settle)."""


async def send(dispatch: Dispatch, work: Work) -> Sent:
    """Stage 1: the first pass."""
    outgoing = [dispatch.outgoing(c) for c in work.calls]
    outgoing += [dispatch.outgoing(c, follows=job) for c, job in work.follow]
    return Sent(tuple(await dispatch.send(outgoing)))


async def follow_up(dispatch: Dispatch, sent: Sent, e164_of: E164s) -> Sent:
    """Stage 2: follow-up calls for retryable numbers, round after round → every follow-up."""
    last, made = sent.attempts, list[Attempt]()
    for _ in range(FOLLOW_UP_ROUNDS):
        again = followup.now(last, dispatch.stopped, e164_of)
        if not again:
            break
        last = tuple(await dispatch.send([dispatch.outgoing(c, retry_of=a) for a, c in again]))
        made += last
    return Sent(tuple(made))


def failures(
    results: Iterable[CallResult],
    not_attempted: Iterable[BulkCall],
    stopped: Mapping[str, str],
    e164_of: E164s,
) -> dict[Key, Unconverged]:
    """Stage 3: every failed number of ``results`` (a later result's reason wins), then the
    numbers of calls a stopped account did not send."""
    out = noted({}, results, e164_of)
    for call in not_attempted:
        why = f"not sent: the account stopped ({stopped.get(call.account, '')})"
        for id_, e164 in _numbers(call, e164_of):
            out[(call.account, id_)] = Unconverged(e164, why)
    return out


def noted(
    known: Mapping[Key, Unconverged],
    results: Iterable[CallResult],
    e164_of: E164s,
    *,
    settle: bool = False,
) -> dict[Key, Unconverged]:
    """``known`` with each failed number of ``results`` (a later result's reason wins);
    ``settle``: the numbers those results did not fail are cleared (verify re-reads them)."""
    out = dict(known)
    for result in results:
        for id_, e164 in _numbers(result.call, e164_of):
            key, reason = (result.call.account, id_), result.failed.get(id_)
            if reason:
                out[key] = Unconverged(e164, reason)
            elif settle:
                out.pop(key, None)
    return out


async def verify_changes(
    changes: Iterable[NumberChange],
    dispatch: Dispatch,
    known: Mapping[Key, Unconverged],
    clock: Clock,
) -> Verification:
    """Stage 4: re-read the numbers of ``changes`` worth re-reading (``verify.selection``)."""
    unknown = Sent(tuple(dispatch.attempts)).unknown()
    chosen = verify.selection(changes, dispatch.stopped, known, unknown)
    return await verify.verify(verify.Check(chosen, known), dispatch.providers, clock)


async def resend(dispatch: Dispatch, seen: Verification, e164_of: E164s) -> Sent:
    """Stage 5: unanswered calls whose numbers verify saw unchanged, sent once more."""
    again = await followup.after_verify(
        dispatch.attempts, dispatch.providers, seen.unchanged, dispatch.stopped, e164_of
    )
    if not again:
        return Sent()
    return Sent(tuple(await dispatch.send([dispatch.outgoing(c, retry_of=a) for a, c in again])))


def changes_of(changes: Iterable[NumberChange], keys: frozenset[Key]) -> tuple[NumberChange, ...]:
    return tuple(c for c in changes if (c.account, c.id) in keys)


def credited(attempts: Sequence[Attempt]) -> list[CallResult]:
    """Each attempt's result with what its follow-ups applied (known outcomes) taken off its
    failed numbers, in the order the attempts finished."""
    out = {a.index: a.result for a in attempts}
    for a in attempts:
        if a.root is not None and a.root in out:
            out[a.root] = followup.absorb(out[a.root], a.result)
    return [out[a.index] for a in attempts]


def credit(attempts: Sequence[Attempt], unconverged: Mapping[Key, Unconverged]) -> Credit:
    """Stage 6: a call whose answer was lost (or a job we stopped waiting for), or whose failed
    numbers a follow-up call applied, counts as applied for the numbers verify saw in their
    desired state (verify re-reads only numbers not known failed)."""
    results, settled = [], []
    for attempt, result in zip(attempts, credited(attempts), strict=True):
        account = result.call.account
        landed = {i for i in result.failed if (account, i) not in unconverged}
        if landed:
            result = followup.narrow(result, landed)
            if result.outcome_unknown and not result.failed:
                settled.append(attempt.index)  # every number landed: nothing left to settle
        results.append(result)
    return Credit(tuple(results), tuple(settled))


def _numbers(call: BulkCall, e164_of: E164s) -> list[tuple[str, str]]:
    """(id, E.164) of the call's numbers: the plan's E.164, else the call's, else the id."""
    own = dict(zip(call.ids, call.e164s, strict=True)) if len(call.e164s) == len(call.ids) else {}
    return [(i, e164_of.get((call.account, i)) or own.get(i, i)) for i in call.ids]
