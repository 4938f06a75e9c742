"""Finding the refused numbers of an all-or-nothing bulk PATCH by bisection.

Wavix applies one patch to every listed id, or to none: one number it will not change (SMS on a
number outside US/CA, an inactive number, an id released since the plan) fails the whole call
with a 400/422 (or 404) whose message names no number. So the refused call is split in halves
and the halves are sent again: a half that goes through is applied, a half that fails is split
again, down to single numbers, which are the refused ones and keep the carrier's message. The
bulk PATCH is idempotent, so sending part of a call again is safe.

Cost, in extra calls for a call of n ids: one refused number costs at most 2⌈log₂ n⌉ (⌈log₂ n⌉
when it lies in second halves: once a first half goes through, the second is known to hold the
refusal and is split without being sent); k refused numbers about 2k·log₂(n/k).

Two guards keep a refusal of the *patch itself* (every number refused, 2n − 1 calls to prove)
cheap: once three numbers are refused and none accepted, the call's last number is sent alone;
refused too, the patch is taken as refused and the rest fails with the carrier's message. And
the extra calls never exceed ``budget`` (what is left unsplit then fails as a group).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from ...errors import ProviderError

REFUSALS = frozenset({400, 404, 422})
"""Statuses meaning the carrier refused the call as a whole and did nothing."""
PROBE_AFTER = 3
"""Refused numbers, none accepted, before probing whether the patch itself is refused."""

Send = Callable[[Sequence[str]], Awaitable[ProviderError | None]]
"""Send the patch to these ids: None when it went through, else the call-level error (an
account-fatal error propagates)."""


def is_refusal(error: ProviderError) -> bool:
    return error.status in REFUSALS


def reason(error: ProviderError) -> str:
    """Why one number was not changed, in the carrier's words."""
    if not is_refusal(error):
        return str(error)
    said = error.detail or f"HTTP {error.status}"
    if error.status == 404:
        return f"not found in the account (released since the plan?): {said}"
    return f"refused by the carrier: {said}"


def budget_for(n: int) -> int:
    """Extra calls allowed to isolate the refused numbers of a call of ``n`` ids."""
    return max(16, n)


@dataclass
class Isolation:
    """What bisecting one refused call found: ``failed`` id → reason; ``unknown`` when some
    part got no answer (it may have landed; verify decides); ``calls`` sent."""

    failed: dict[str, str] = field(default_factory=dict)
    unknown: bool = False
    calls: int = 0
    accepted: int = 0


class _Stop(Exception):
    """The bisection ends early; ``why`` is the reason for every number not yet resolved."""

    def __init__(self, why: str) -> None:
        self.why = why


async def isolate(send: Send, ids: Sequence[str], error: ProviderError, budget: int) -> Isolation:
    """Split ``ids`` (refused as a whole with ``error``) until the refused numbers are found."""
    found = Isolation()
    applied: set[str] = set()
    probed = False

    def fail(group: Sequence[str], err: ProviderError) -> None:
        for id_ in group:
            found.failed[id_] = reason(err)
        if err.status is None or err.status >= 500:
            found.unknown = True

    async def attempt(group: Sequence[str], err: ProviderError) -> ProviderError | None:
        if found.calls >= budget:
            raise _Stop(
                f"not applied: the call was refused ({err.detail or err.status}) and its "
                f"refused numbers were not all isolated within {budget} extra calls"
            )
        found.calls += 1
        outcome = await send(group)
        if outcome is None:
            found.accepted += 1
            applied.update(group)
        return outcome

    async def refused(id_: str, err: ProviderError) -> None:
        nonlocal probed
        fail([id_], err)
        if probed or found.accepted or len(found.failed) < PROBE_AFTER or ids[-1] in found.failed:
            return
        probed = True  # every number tried so far was refused: is it the patch itself?
        probe = await attempt([ids[-1]], err)
        if probe is not None and is_refusal(probe):
            raise _Stop(reason(probe) + " (every number tried was refused: the patch itself)")

    async def split(group: Sequence[str], err: ProviderError) -> None:
        """``group`` was refused as a whole with ``err``."""
        if len(group) == 1:
            await refused(group[0], err)
            return
        half = len(group) // 2
        first, second = group[:half], group[half:]
        first_err = await attempt(first, err)
        if first_err is None:
            await split(second, err)  # the refusal that failed ``group`` lies in ``second``
            return
        await settle(first, first_err)
        second_err = await attempt(second, err)
        if second_err is not None:
            await settle(second, second_err)

    async def settle(group: Sequence[str], err: ProviderError) -> None:
        if is_refusal(err):
            await split(group, err)
        else:
            fail(group, err)  # no answer, or still rate limited: not a refusal to split

    try:
        await split(list(ids), error)
    except _Stop as stop:
        for id_ in ids:
            if id_ not in applied and id_ not in found.failed:
                found.failed[id_] = stop.why
    for id_ in applied:
        found.failed.pop(id_, None)  # accepted alone (the probe) after a group failure
    return found
