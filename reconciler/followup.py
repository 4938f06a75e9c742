"""Follow-up calls within one apply: which numbers of a finished call may be sent again.

The plan is what was reviewed, so a follow-up is always the planned call's own patch for a subset
of its ids, never other ids and never a new patch. Two kinds (``applier`` sends them):

* **Transient failures, before verify.** A result whose outcome is known names in
  ``CallResult.retry`` the failed numbers the carrier says are safe to try again (e.g. a Telnyx
  job's 10007 "Please try again"): they are sent once more right away (``now``).
* **Unknown outcomes, after verify.** A call that got no answer may have landed: it is never
  re-sent blindly. Verify re-reads its numbers first; those still unchanged (every changed field
  at its old value) are sent once more (``after_verify``) when the carrier's write is idempotent
  (not ``job_based``: Wavix PATCH; not when the call was refused and bisected: a refused number
  is never sent again), or, for a job carrier, when the provider found no job for
  the call (``retry``) and a fresh search (``Provider.find_job``) still finds none.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from .errors import ProviderError
from .plan import BulkCall
from .providers.base import CallResult, CallStatus, Provider

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (account, carrier id)


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
    results: Iterable[CallResult | None], stopped: Collection[str], e164_of: Mapping[Key, str]
) -> list[tuple[CallResult, BulkCall]]:
    """(result, follow-up call) for each known-outcome result with retryable numbers."""
    return [
        (r, subset(r.call, r.retry & r.failed.keys(), e164_of))
        for r in results
        if r is not None
        and not r.outcome_unknown  # unknown: verify decides first
        and r.retry & r.failed.keys()
        and r.call.account not in stopped
    ]


def narrow(result: CallResult, landed: Collection[str]) -> None:
    """``landed`` ids of ``result`` reached their desired state (later): no longer failed."""
    result.failed = {i: why for i, why in result.failed.items() if i not in landed}
    if not result.failed:
        result.status, result.error = CallStatus.OK, None
    elif len(result.failed) < len(result.call.ids):
        result.status = CallStatus.PARTIAL
        if not result.outcome_unknown:
            result.error = None  # the error said the whole call failed: no longer true


def absorb(root: CallResult, follow_up: CallResult) -> None:
    """The planned call's result takes the numbers its follow-up applied (known outcomes)."""
    if root.outcome_unknown or follow_up.outcome_unknown:
        return  # verify decides (``applier._credit_verified``)
    narrow(root, [i for i in follow_up.call.ids if i not in follow_up.failed])


async def after_verify(
    results: Iterable[CallResult],
    providers: Mapping[str, Provider],
    unchanged: Collection[Key],
    stopped: Collection[str],
    e164_of: Mapping[Key, str],
) -> list[tuple[CallResult, BulkCall]]:
    """(result, follow-up call) for unknown-outcome results whose numbers verify saw unchanged."""
    out = []
    for r in results:
        account = r.call.account
        if not r.outcome_unknown or account in stopped:
            continue
        provider = providers[account]
        still = {i for i in r.call.ids if (account, i) in unchanged}
        if provider.job_based:
            # Only what the provider marked (no job found), and only if nothing of it moved:
            # one changed number means a job ran.
            if not r.retry or not r.retry <= still:
                continue
            try:
                job = await provider.find_job(r.call.ids, r.call.patch, None)
            except ProviderError as exc:
                log.warning("[%s] not re-sent: could not look for its job: %s", account, exc)
                continue
            if job is not None:
                log.warning("[%s] not re-sent: job %s exists", account, job.job_id)
                continue
            still = set(r.retry)
        elif _refused(r):  # bisected refusal, some parts unanswered: only what was marked
            still &= r.retry
        if still:
            out.append((r, subset(r.call, still, e164_of)))
    return out


def _refused(result: CallResult) -> bool:
    """The call was refused (a 4xx), e.g. a Wavix refusal bisected: its failed numbers include
    refused ones, which are never transient."""
    status = getattr(result.cause, "status", None)
    return status is not None and status < 500
