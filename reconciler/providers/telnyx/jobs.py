"""What a Telnyx ``update_phone_numbers`` job means for one bulk call: its outcome per number, and
whether a job found in the jobs list is the one an unanswered POST of ours created.

Outcome (``settle``). A job reports each number in ``successful_operations``,
``failed_operations`` (with the carrier's errors) or ``pending_operations``, and may move numbers
while ``in_progress``. Whatever the job's status, a number listed as successful *was* changed and
is never reported failed; a failed operation carries the carrier's reason. The other numbers get
a reason from the job's status: ``completed`` but not reported, ``failed`` before it processed
them (Telnyx does not say whether such numbers are moved out of ``pending_operations``),
``expired`` (nothing applied), or still ``pending``/``in_progress`` when we stopped waiting (the
outcome is unknown: the job may still run). The call is OK when no number failed, PARTIAL when
some succeeded, FAILED when none did.

Which failures may be sent again in the same run (``CallResult.retry``): a failed operation
whose every error has a transient code (``TRANSIENT_CODES``: 10007 "Unexpected error ... Please
try again", 10011 "Too many requests"), and the numbers of a job that ended ``failed`` or
``expired`` before processing them (it is finished: a new job cannot race it). Not a number
whose job we stopped waiting for, one a ``completed`` job did not report, one refused for its
content (10015, 10010, 10005, ...), nor one of a job we lost track of. ``unknown_outcome`` marks
its ids only when the jobs list was searched and held no job of ours: the applier re-sends them
after verify shows them unchanged.

Which job is ours (``matches``): one predicate for every search, whether the provider looks for
the job its own unanswered POST may have created (adoption), the journal settles a call an
earlier run left open, or a follow-up checks that no job exists before sending again. The
saved ``parameters`` of a job are "effective parameters ... not a snapshot of the original HTTP
request" (SDK): fields may be dropped (the SDK's type has no ``voice.translated_number``), tags
normalised, or the whole object empty for old jobs. So a job is ours when it targets exactly our
ids and every parameter it kept that we know agrees in canonical form; where to look (since
when, which jobs another call claimed) is the caller's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ...errors import ProviderError
from ...plan import BulkCall
from ..base import CallResult, CallStatus, PendingJob

JOBS = "/phone_numbers/jobs"
DONE = ("completed", "failed", "expired")
TRANSIENT_CODES = frozenset({"10007", "10011"})
"""Error codes of a failed operation that ask to try again (the error catalogue; the sandbox's
``NUMBER_FAILURE`` is 10007 "The phone number could not be updated. Please try again.")."""


def transient(errors: Any) -> bool:
    """A failed operation's ``errors``: every one has a transient code (and there is one)."""
    items = [e for e in errors or () if isinstance(e, dict)]
    return bool(items) and all(str(e.get("code")) in TRANSIENT_CODES for e in items)


def describe(error: dict[str, Any]) -> str:
    """One Telnyx error item → ``"10015 Bad Request: detail"``."""
    head = " ".join(str(error[k]) for k in ("code", "title") if error.get(k))
    detail = error.get("detail")
    return f"{head}: {detail}" if head and detail else head or str(detail or "error")


def settle(
    call: BulkCall, job: dict[str, Any], requests: int, *, gave_up_after: float | None = None
) -> CallResult:
    """A finished job (or, with ``gave_up_after`` seconds, one we stopped waiting for) → the
    call's result, number by number."""
    job_id, status = job["id"], job.get("status")
    ours = set(call.ids)
    ok = {op.get("id") for op in job.get("successful_operations") or ()} & ours
    ops = [
        op
        for op in job.get("failed_operations") or ()
        if op.get("id") in ours and op.get("id") not in ok
    ]
    failed = {
        op.get("id"): "; ".join(map(describe, op.get("errors") or ())) or "failed" for op in ops
    }
    unknown = gave_up_after is not None  # the job may still run: a new one would race it
    retry = set() if unknown else {op.get("id") for op in ops if transient(op.get("errors"))}
    if unknown:
        after = gave_up_after or 0.0
        waited = f"{after:.{0 if after >= 1 else 1}f}"  # "10", not "9.99286"
        reason = (  # the next run finds the live job (``pending``) and waits for it
            f"job {job_id} still {status} after {waited} s: its numbers are held; the next "
            "run settles it"
        )
    elif status == "completed":
        reason = f"not reported by job {job_id}"
    elif status == "expired":
        reason = f"job {job_id} expired before it ran; nothing was applied"
    else:
        reason = f"job {job_id} ended {status} before this number was processed"
    for id_ in call.ids:
        if id_ not in ok and id_ not in failed:
            failed[id_] = reason
            if not unknown and status in ("failed", "expired"):
                retry.add(id_)  # the job ended without touching it
    if not failed:
        return CallResult(call, CallStatus.OK, job_id=job_id, requests=requests)
    if ok:
        return CallResult(
            call,
            CallStatus.PARTIAL,
            failed=failed,
            job_id=job_id,
            outcome_unknown=unknown,
            requests=requests,
            retry=frozenset(retry),
        )
    error = f"job {job_id} completed but every number failed" if status == "completed" else reason
    return CallResult(
        call,
        CallStatus.FAILED,
        failed=failed,
        error=error if not unknown else reason,
        job_id=job_id,
        outcome_unknown=unknown,
        requests=requests,
        retry=frozenset(retry),
    )


def lost(call: BulkCall, job_id: str, exc: ProviderError, requests: int) -> CallResult:
    """We created job ``job_id`` but cannot read it any more: the outcome is unknown."""
    path = f"{JOBS}/{job_id}"
    return CallResult(
        call,
        CallStatus.FAILED,
        failed={i: f"job {job_id}: {exc}" for i in call.ids},
        error=f"lost track of job {job_id}: {exc}; check GET {path} before re-running",
        job_id=job_id,
        outcome_unknown=True,
        requests=requests,
        cause=exc,
    )


def unknown_outcome(
    call: BulkCall, errors: list[str], requests: int, *, searched: bool = False
) -> CallResult:
    """No answer to the POST: one may have been created. ``searched``: the jobs list was read
    and held no job of ours, so the ids may be re-sent once verify shows them unchanged."""
    kind = call.operation or UPDATE_JOB
    message = (
        f"outcome unknown: {'; '.join(errors)}. A job may have been created: check "
        f"GET {JOBS}?filter[type]={kind} before re-running"
    )
    return CallResult(
        call,
        CallStatus.FAILED,
        failed={i: message for i in call.ids},
        error=message,
        outcome_unknown=True,
        requests=requests,
        retry=frozenset(call.ids) if searched else frozenset(),
    )


def matches(
    job: Any,
    ids: Collection[str],
    patch: Mapping[str, Any],
    canonical: Mapping[str, Callable[[Any], Any]],
) -> bool:
    """Could ``job`` be the one a POST of ``patch`` (flat paths, like a ``BulkCall``'s) for
    ``ids`` created?

    * **Ids.** The ids it names (its echoed ``phone_numbers`` and its operations: ``job_ids``;
      the echo alone may be missing) are exactly ``ids``, and so are its saved
      ``parameters.phone_numbers`` when it kept them (as strings: the carrier may keep integers).
      An echoed entry without an id (an E.164) is not ours: we always send ids.
    * **Parameters.** Every key it kept that ``patch`` also holds agrees, both sides in the
      carrier's ``canonical`` form (tags as a set, no reference as ``""``). A kept key the patch
      lacks is not compared: Telnyx saves *effective* parameters (it may keep what it applied
      besides what was sent), and the journal keeps no secret values to compare.
    """
    if not isinstance(job, dict):
        return False
    wanted = set(ids)
    echoed = job.get("phone_numbers") or []
    if not isinstance(echoed, list) or any(_no_id(p) for p in echoed):
        return False
    if set(job_ids(job)) != wanted:
        return False
    saved = job.get("parameters")
    kept_ids = saved.get("phone_numbers") if isinstance(saved, dict) else None
    if kept_ids is not None and (
        not isinstance(kept_ids, list) or {str(i) for i in kept_ids} != wanted
    ):
        return False
    kept = flat_parameters(saved) or {}
    return all(_same(kept[k], patch[k], canonical.get(k)) for k in kept.keys() & patch.keys())


def _no_id(entry: Any) -> bool:
    return not isinstance(entry, dict) or entry.get("id") is None


def _same(kept: Any, sent: Any, fix: Callable[[Any], Any] | None) -> bool:
    if fix is None:
        return bool(kept == sent)
    try:
        return bool(fix(kept) == fix(sent))
    except (TypeError, ValueError):  # a kept value of an unexpected type: not ours
        return False


UPDATE_JOB = "update_phone_numbers"
EMERGENCY_JOB = "update_emergency_settings"
JOB_TYPES = (UPDATE_JOB, EMERGENCY_JOB)
"""The job types this client creates (each an operation of ``carrier.py`` by the same name)."""


def job_query(page: int, size: int, kind: str = UPDATE_JOB) -> dict[str, Any]:
    return {"filter[type]": kind, "page[number]": page, "page[size]": size}


def parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))  # 3.11 reads the trailing "Z"
    except ValueError:
        return None


CLOCK_MARGIN_S = 2.0
"""How far the clock stamping ``updated_at`` may be behind the one writing ``Date``."""
JOB_HORIZON_S = 86_400.0
"""The longest a job is assumed to stay live (none is documented; v1 bulk requests expired
after 15 minutes unprocessed)."""
ENDED_PAGES = 40
"""A bound on the pages of the jobs list read for ``ended_since`` (then: cannot tell)."""

Answer = tuple[dict[str, Any], list[str], float]
"""A jobs-list page: (body, its ``Date`` header values, our clock when it arrived)."""


def carrier_time(dates: list[str]) -> float | None:
    """The ``Date`` header values of an answer → Unix time (the earliest; a proxy may add its
    own), or None when there is none or one does not parse."""
    times = []
    for value in dates:
        try:
            times.append(parsedate_to_datetime(value).timestamp())
        except (TypeError, ValueError, IndexError):
            return None
    return min(times) if times else None


async def ended_since(
    get: Callable[[dict[str, Any]], Awaitable[Answer]], kind: str, started: float, size: int
) -> list[dict[str, Any]] | None:
    """Jobs of type ``kind`` that ended since our clock read ``started`` (see the module
    docstring); None when the answers cannot tell (no ``Date``, too many pages)."""
    since: float | None = None
    ended: list[dict[str, Any]] = []
    for page in range(1, ENDED_PAGES + 1):
        body, dates, arrived = await get(job_query(page, size, kind))
        if since is None:
            now = carrier_time(dates)
            if now is None:
                return None
            since = now - max(0.0, arrived - started) - CLOCK_MARGIN_S
        jobs = [j for j in body.get("data") or [] if isinstance(j, dict)]
        for job in jobs:
            done = parse_time(job.get("updated_at"))
            if job.get("status") in DONE and (done is None or done.timestamp() >= since):
                ended.append(job)  # no readable updated_at: taken, to be safe
        created = [parse_time(j.get("created_at")) for j in jobs]
        old = since - JOB_HORIZON_S
        if len(jobs) < size or any(c is not None and c.timestamp() < old for c in created):
            return ended
    return None


def live_job_query(page: int, size: int, kind: str = UPDATE_JOB) -> dict[str, Any]:
    """The account's unfinished jobs of one type: statuses as repeated ``filter[status][]``."""
    return {**job_query(page, size, kind), "filter[status][]": list(PendingJob.live)}


def flat_parameters(saved: Any, prefix: str = "") -> dict[str, Any] | None:
    """A job's saved ``parameters`` → flat dotted paths like a ``BulkCall`` patch (None when
    the carrier kept nothing to compare)."""
    if not isinstance(saved, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in saved.items():
        if key == "phone_numbers" and not prefix:
            continue
        if isinstance(value, dict):
            out.update(flat_parameters(value, f"{prefix}{key}.") or {})
        else:
            out[f"{prefix}{key}"] = value
    return out or None


def job_ids(job: dict[str, Any]) -> list[str]:
    """The number ids a job targets (its echoed list and its operations), in order."""
    lists = ("phone_numbers", "pending_operations", "successful_operations", "failed_operations")
    items = [op for key in lists if isinstance(job.get(key), list) for op in job[key]]
    ids = (op.get("id") for op in items if isinstance(op, dict))
    return list(dict.fromkeys(str(i) for i in ids if i is not None))
