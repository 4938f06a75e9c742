"""Telnyx messaging-profile bulk updates: one ``BulkCall`` of operation ``messaging_bulk_update``
is one order (``../shared/carriers/telnyx-messaging-emergency.md`` §1; the vendored contract is
``tests/contracts/telnyx-bulk-messaging-emergency.openapi.json``).

``POST /messaging_numbers_bulk_updates`` with ``messaging_profile_id`` (one profile per call: the
call's patch; ``""`` unassigns), ``numbers`` as **E.164** (not ids) and ``assign_only: true``
(only the profile is managed; what ``false`` would change besides is undocumented). The answer is
200 with ``{order_id, success, pending, failed}`` and no status: the order is done when
``pending`` is empty, polled at ``GET /messaging_numbers_bulk_updates/{order_id}`` every
``poll_interval_s`` until then or ``job_timeout_s``. A number in ``failed`` is a per-number
failure the carrier gives no reason for; sending it again is safe (an assignment is idempotent),
so it is marked for a follow-up.

No answer to the POST (5xx, timeout): the carrier documents no listing of orders, so an order the
lost answer created cannot be found (not adoptable, ``Operation.adoptable``); the journal records
the call before it is sent and the next run re-reads the numbers. Re-sending is harmless (the
same assignment twice), so the call's numbers are marked to re-send once verify shows them
unchanged. A 429 means nothing was created: waited for and sent again, until ``job_timeout_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...errors import (
    InvalidRequestError,
    PermissionError_,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ...plan import BulkCall
from ..base import AccountFatal, CallResult, CallStatus, PendingJob
from ..http import Counter

if TYPE_CHECKING:
    from .provider import TelnyxProvider

log = logging.getLogger(__name__)

ORDERS = "/messaging_numbers_bulk_updates"
NO_REASON = "(the carrier gives no reason)"


async def apply(provider: TelnyxProvider, call: BulkCall) -> CallResult:
    """Create the order and poll it to its end (module docstring)."""
    if len(call.e164s) != len(call.ids):
        return CallResult(
            call, CallStatus.FAILED, error="a messaging bulk update needs the numbers' E.164"
        )
    body = {
        "messaging_profile_id": call.patch.get("messaging_profile_id", ""),
        "numbers": list(call.e164s),
        "assign_only": True,
    }
    sent = Counter()
    clock, config = provider.clock, provider.config
    deadline = clock.now() + config.job_timeout_s
    while True:
        try:
            response = await provider.http.request(
                "POST", ORDERS, json=body, retry_statuses=frozenset({429}), counter=sent
            )
            order = provider._decode("POST", ORDERS, response).get("data")
            if not isinstance(order, dict) or not isinstance(order.get("order_id"), str):
                raise provider._bad_answer("POST", ORDERS, "a 2xx answer without an order_id")
            break
        except PermissionError_ as exc:
            return CallResult(call, CallStatus.FAILED, error=str(exc), requests=sent.n, cause=exc)
        except AccountFatal:
            raise
        except RateLimitError as exc:  # not created
            if clock.now() >= deadline:
                return CallResult(
                    call, CallStatus.FAILED, error=str(exc), requests=sent.n, cause=exc
                )
            wait = exc.retry_after or config.poll_interval_s
            await clock.sleep(min(wait, max(0.0, deadline - clock.now())))
        except (ServerError, TransportError) as exc:
            message = (
                f"outcome unknown: {exc}. An order may have been created; the carrier lists no "
                "orders to look for it. Assigning again is harmless: the next run re-reads the "
                "numbers and sends what is left"
            )
            return CallResult(
                call,
                CallStatus.FAILED,
                error=message,
                outcome_unknown=True,
                requests=sent.n,
                cause=exc,
                retry=frozenset(call.ids),  # idempotent: re-sent once verify shows them unchanged
            )
        except (InvalidRequestError, ProviderError) as exc:  # refused: nothing created
            return CallResult(
                call, CallStatus.FAILED, error=str(exc), requests=sent.n, cause=exc, refused=True
            )
    return await _poll(provider, call, order, deadline, sent)


async def follow(provider: TelnyxProvider, call: BulkCall, order_id: str) -> CallResult:
    """Poll an order an earlier run created (its id is in the journal)."""
    sent = Counter()
    deadline = provider.clock.now() + provider.config.job_timeout_s
    try:
        order = (await provider._get(f"{ORDERS}/{order_id}", counter=sent))["data"]
    except AccountFatal:
        raise
    except (ProviderError, KeyError) as exc:
        return _lost(call, order_id, str(exc), sent.n)
    return await _poll(provider, call, order, deadline, sent)


async def find(provider: TelnyxProvider, ids: Sequence[str], order_id: str) -> PendingJob | None:
    """The order ``order_id`` as a pending job (live while numbers are pending), or None."""
    order = (await provider._get(f"{ORDERS}/{order_id}", missing_ok=True)).get("data")
    if not isinstance(order, dict):
        return None
    status = "pending" if order.get("pending") else "completed"
    return PendingJob(str(order_id), status, tuple(ids), None, "messaging_bulk_update")


async def _poll(
    provider: TelnyxProvider,
    call: BulkCall,
    order: dict[str, Any],
    deadline: float,
    sent: Counter,
) -> CallResult:
    order_id = str(order.get("order_id"))
    path = f"{ORDERS}/{order_id}"
    started = provider.clock.now()
    while _numbers(order, "pending"):
        left = deadline - provider.clock.now()
        if left <= 0:
            return settle(call, order, sent.n, gave_up_after=provider.clock.now() - started)
        await provider.clock.sleep(min(provider.config.poll_interval_s, left))
        try:
            got = (await provider._get(path, counter=sent)).get("data")
        except AccountFatal:
            raise
        except ProviderError as exc:
            return _lost(call, order_id, str(exc), sent.n)
        if not isinstance(got, dict):
            return _lost(call, order_id, "the order's answer has no data object", sent.n)
        order = got
    return settle(call, order, sent.n)


def _numbers(order: dict[str, Any], key: str) -> set[str]:
    value = order.get(key)
    return {str(v) for v in value} if isinstance(value, list) else set()


def settle(
    call: BulkCall, order: dict[str, Any], requests: int, *, gave_up_after: float | None = None
) -> CallResult:
    """An order's lists → the call's result, number by number (E.164 → id)."""
    order_id = str(order.get("order_id"))
    ok, failed_e164, pending = (_numbers(order, k) for k in ("success", "failed", "pending"))
    failed: dict[str, str] = {}
    retry: set[str] = set()
    for id_, e164 in zip(call.ids, call.e164s, strict=True):
        if e164 in ok:
            continue
        if e164 in failed_e164:
            failed[id_] = f"messaging bulk update {order_id} failed this number {NO_REASON}"
            retry.add(id_)  # an assignment is idempotent: safe to send again
        elif e164 in pending:
            waited = gave_up_after or 0.0
            failed[id_] = (
                f"order {order_id} still pending after {waited:.0f} s; the next run re-reads "
                "the number"
            )
        else:
            failed[id_] = f"not reported by messaging bulk update {order_id}"
    unknown = gave_up_after is not None and bool(pending & set(call.e164s))
    if not failed:
        return CallResult(call, CallStatus.OK, job_id=order_id, requests=requests)
    status = CallStatus.PARTIAL if len(failed) < len(call.ids) else CallStatus.FAILED
    return CallResult(
        call,
        status,
        failed=failed,
        error=None if status is CallStatus.PARTIAL else f"order {order_id}: no number assigned",
        job_id=order_id,
        outcome_unknown=unknown,
        requests=requests,
        retry=frozenset(retry),
    )


def _lost(call: BulkCall, order_id: str, why: str, requests: int) -> CallResult:
    return CallResult(
        call,
        CallStatus.FAILED,
        error=f"lost track of messaging bulk update {order_id}: {why}; check GET "
        f"{ORDERS}/{order_id} before re-running",
        job_id=order_id,
        outcome_unknown=True,
        requests=requests,
    )
