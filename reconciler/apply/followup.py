"""Follow-up calls within one apply: which numbers of a finished call may be sent again.

The plan is what was reviewed, so a follow-up is always the planned call's own patch for a subset
of its ids, never other ids and never a new patch. Two kinds (``stages`` sends them):

* **Transient failures, before verify.** A result whose outcome is known names in
  ``CallResult.retry`` the failed numbers the carrier says are safe to try again (e.g. a Telnyx
  job's 10007 "Please try again"): they are sent once more right away (``now``).
* **Unknown outcomes, after verify.** A call that got no answer may have landed: it is never
  re-sent blindly. Verify re-reads its numbers first; those still unchanged (every changed field
  at its old value) are sent once more (``after_verify``) when the carrier's write is idempotent
  (not ``job_based``: Wavix PATCH; not when the provider marked the call ``refused`` (a refusal
  bisected, some parts unanswered): a refused number is never sent again), or, for a job
  carrier, when the provider found no job for the call (``retry``) and a fresh search
  (``Provider.find_job``) still finds none.

What a follow-up applied is credited to the planned call's result as a new value (``absorb``,
``narrow``): results are never changed in place.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from ..errors import ProviderError
from ..plan import BulkCall
from ..seam import CallResult, CallStatus, Provider
from .dispatch import Attempt
from .report import Key

log = logging.getLogger(__name__)


def subset(call: BulkCall, ids: Collection[str], e164_of: Mapping[Key, str]) -> BulkCall:
    """``call`` for ``ids`` only (in the call's order), the same patch."""
    keep = tuple(i for i in call.ids if i in ids)
    if len(call.e164s) == len(call.ids):
        by_id = dict(zip(call.ids, call.e164s, strict=True))
        e164s = tuple(by_id[i] for i in keep)
    else:
        e164s = tuple(e164_of.get((call.account, i), i) for i in keep)
    return replace(call, ids=keep, e164s=e164s)


def now(
    attempts: Iterable[Attempt], stopped: Collection[str], e164_of: Mapping[Key, str]
) -> list[tuple[Attempt, BulkCall]]:
    """(attempt, follow-up call) for each known-outcome attempt with retryable numbers."""
    out = []
    for a in attempts:
        r = a.result
        again = r.retry & r.failed.keys()
        if again and not r.outcome_unknown and a.call.account not in stopped:
            out.append((a, subset(a.call, again, e164_of)))  # unknown: verify decides first
    return out


def narrow(result: CallResult, landed: Collection[str]) -> CallResult:
    """``result`` with its ``landed`` ids (they reached their desired state later) no longer
    failed."""
    failed = {i: why for i, why in result.failed.items() if i not in landed}
    if not failed:
        return replace(result, failed=failed, status=CallStatus.OK, error=None)
    if len(failed) < len(result.call.ids):
        # the error said the whole call failed: no longer true (unknown outcomes keep theirs)
        error = result.error if result.outcome_unknown else None
        return replace(result, failed=failed, status=CallStatus.PARTIAL, error=error)
    return replace(result, failed=failed)


def absorb(root: CallResult, follow_up: CallResult) -> CallResult:
    """The planned call's result with the numbers its follow-up applied (known outcomes)."""
    if root.outcome_unknown or follow_up.outcome_unknown:
        return root  # verify decides (``stages.credit``)
    return narrow(root, [i for i in follow_up.call.ids if i not in follow_up.failed])


async def after_verify(
    attempts: Iterable[Attempt],
    providers: Mapping[str, Provider],
    unchanged: Collection[Key],
    stopped: Collection[str],
    e164_of: Mapping[Key, str],
) -> list[tuple[Attempt, BulkCall]]:
    """(attempt, follow-up call) for unknown-outcome attempts whose numbers verify saw
    unchanged."""
    out = []
    for a in attempts:
        if not a.result.outcome_unknown or a.call.account in stopped:
            continue
        still = {i for i in a.call.ids if (a.call.account, i) in unchanged}
        if providers[a.call.account].job_based:
            still = await _no_job(a, providers[a.call.account], still)
        elif a.result.refused:  # bisected refusal, some parts unanswered: only what was marked
            still &= a.result.retry
        if still:
            out.append((a, subset(a.call, still, e164_of)))
    return out


async def _no_job(attempt: Attempt, provider: Provider, still: set[str]) -> set[str]:
    """A job carrier's unanswered call: the ids the provider marked (no job found), when none
    of them moved (one changed number means a job ran) and a fresh search finds no job."""
    r, account = attempt.result, attempt.call.account
    if not r.retry or not r.retry <= still:
        return set()
    try:
        job = await provider.find_job(r.call.ids, r.call.patch, None)
    except ProviderError as exc:
        log.warning("[%s] not re-sent: could not look for its job: %s", account, exc)
        return set()
    if job is not None:
        log.warning("[%s] not re-sent: job %s exists", account, job.job_id)
        return set()
    return set(r.retry)
