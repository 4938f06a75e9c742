"""Wavix: read ``GET /v1/numbers`` page by page, apply with the bulk ``PATCH /v1/numbers``.

Facts: ../shared/carriers/wavix.md. The list is page-number paginated (max 100 per page), so
after page 1 every other page is fetched concurrently. The bulk PATCH applies one patch to many
ids and is all-or-nothing (an unknown id refuses the whole request); it is idempotent, so it is
retried on 429, 5xx and transport errors. Destinations and the SMS URL land asynchronously: the
applier's verify step re-reads with ``fetch`` until they show.

Every failure raises a ``ProviderError`` subclass naming account, method and path (never the
key): 400 ``InvalidRequestError``, 401 ``AuthError``, 403 ``PermissionError_``, 404
``NotFoundError``, 429 ``RateLimitError``, 5xx ``ServerError``, no response ``TransportError``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from ...errors import NotFoundError, ProviderError, ServerError
from ...models import LiveNumber, unflatten
from ...plan import BulkCall
from ..base import AccountFatal, CallResult, CallStatus, Provider
from ..http import Counter, parse_retry_after, reset_epoch
from .settings import canonical_destinations

log = logging.getLogger(__name__)

PAGE_SIZE = 100
"""Wavix's documented maximum ``per_page``."""
NUMBERS = "/v1/numbers"


class WavixProvider(Provider):
    carrier = "wavix"
    job_based = False
    max_concurrent_calls = 4

    _total_pages: int | None = None

    # ---- the seam
    async def fetch_all(self) -> list[LiveNumber]:
        return await self._fetch_all()

    async def fetch(self, ids: Sequence[str]) -> list[LiveNumber]:
        """Re-read ``ids``: one GET each when that takes fewer requests than a full listing
        (page 1 tells how many pages that is). Ids the account no longer has are left out."""
        wanted = set(ids)
        first: dict[str, Any] | None = None
        if self._total_pages is None:
            first = await self._page(1)
            self._total_pages = int(first["pagination"]["total_pages"])
        if len(wanted) >= self._total_pages:
            listing = await self._fetch_all(first or await self._page(1))
            return [n for n in listing if n.id in wanted]
        interned: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

        async def one(id_: str) -> LiveNumber | None:
            try:
                return _live(await self._request("GET", f"{NUMBERS}/{int(id_)}"), interned)
            except NotFoundError:
                return None

        found = await asyncio.gather(*(one(i) for i in sorted(wanted)))
        return sorted((n for n in found if n is not None), key=lambda n: n.e164)

    async def _fetch_all(self, first: dict[str, Any] | None = None) -> list[LiveNumber]:
        """Every page, ``config.concurrency`` requests in flight.

        Without a known first page, the opening wave asks for pages 1..concurrency/2 at once
        instead of page 1 alone: a round trip saved on accounts bigger than a page, for at most
        three empty pages (default concurrency 8) on a small one. A page asked for ahead of
        knowing the total that lies beyond it is dropped unread, even if the carrier refused it.
        """
        gate = asyncio.Semaphore(self.config.concurrency)

        async def get(n: int) -> dict[str, Any] | ProviderError:
            async with gate:
                try:
                    return await self._page(n)
                except ProviderError as exc:
                    if n == 1:
                        raise
                    return exc  # judged once the total is known

        ahead: list[dict[str, Any] | ProviderError] = []
        if first is None:
            opening = max(1, self.config.concurrency // 2)
            if self._total_pages is not None:  # read before in this run: no need to guess
                opening = min(opening, self._total_pages)
            wave = await asyncio.gather(*(get(n) for n in range(1, opening + 1)))
            first, ahead = wave[0], list(wave[1:])  # type: ignore[assignment]
        assert isinstance(first, dict)
        self._total_pages = total = int(first["pagination"]["total_pages"])
        self._pages_read = 0
        interned: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

        def canonical(body: dict[str, Any] | ProviderError) -> list[LiveNumber]:
            if isinstance(body, ProviderError):
                raise body
            self._page_read(total)
            return [_live(item, interned) for item in body["items"]]

        numbers = [canonical(first)]
        numbers.extend(canonical(body) for body in ahead[: max(0, total - 1)])

        async def later(n: int) -> list[LiveNumber]:
            # Canonicalised as each page arrives: the raw page is dropped right away, so memory
            # holds canonical numbers, not every decoded page of the account at once.
            return canonical(await get(n))

        start = len(ahead) + 2
        numbers.extend(await asyncio.gather(*(later(n) for n in range(start, total + 1))))
        by_id: dict[str, LiveNumber] = {}
        for chunk in numbers:
            for number in chunk:
                by_id[number.id] = number  # a number seen on two pages (it moved) counts once
        return sorted(by_id.values(), key=lambda n: n.e164)

    async def apply(self, call: BulkCall) -> CallResult:
        """One bulk PATCH (idempotent, so the HTTP policy retries it). A refusal fails the whole
        call (Wavix applies all or nothing); no answer leaves the outcome unknown."""
        body = {"ids": [int(i) for i in call.ids], **_request_fields(call.patch)}
        sent = Counter()
        try:
            await self.http.request("PATCH", NUMBERS, json=body, idempotent=True, counter=sent)
        except AccountFatal:
            raise
        except ProviderError as exc:
            unknown = exc.status is None or exc.status >= 500
            return CallResult(
                call,
                CallStatus.FAILED,
                error=str(exc),
                outcome_unknown=unknown,
                requests=sent.n,
                cause=exc,
            )
        return CallResult(call, CallStatus.OK, requests=sent.n)

    # ---- HTTP
    async def _page(self, n: int) -> dict[str, Any]:
        return await self._request("GET", NUMBERS, params={"page": n, "per_page": PAGE_SIZE})

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None
    ) -> Any:
        response = await self.http.request(method, path, params=params)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ServerError(
                "the carrier answered with a body that is not JSON",
                account=self.account,
                method=method,
                path=path,
                status=response.status_code,
            ) from None

    @staticmethod
    def error_text(response: httpx.Response) -> str:
        """Wavix error bodies: ``{"success": false, "message": "..."}``."""
        try:
            data = response.json()
        except ValueError:
            return response.text[:200].strip() or response.reason_phrase
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return data["message"][:500]
        return str(data)[:200]

    @staticmethod
    def retry_hint(response: httpx.Response, wall_now: float) -> float | None:
        """``Retry-After`` when sent, else ``X-RateLimit-Reset`` (a Unix timestamp) on a 429."""
        hint = parse_retry_after(response.headers.get("retry-after"), wall_now)
        if hint is None and response.status_code == 429:
            hint = reset_epoch(response.headers.get("x-ratelimit-reset"), wall_now)
        return hint


# ---- wire ↔ canonical


def _destinations(
    items: list[dict[str, Any]] | None, interned: dict[tuple[Any, ...], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """``canonical_destinations`` of a response's items, shared by value within one read
    (``interned`` lives as long as the read): numbers routed alike hold one list."""
    if not items:
        return []
    key = tuple(
        (d["destination"], d["priority"], d["transport"], d.get("trunk_id")) for d in items
    )
    out = interned.get(key)
    if out is None:
        out = interned[key] = canonical_destinations(items)
    return out


def _live(
    item: dict[str, Any], interned: dict[tuple[Any, ...], list[dict[str, Any]]]
) -> LiveNumber:
    """A response ``Number`` → canonical ``LiveNumber``. Plain dict access (this runs a million
    times on a big account); nulls the spec calls impossible are tolerated."""
    number = item["number"]
    return LiveNumber(
        id=str(item["id"]),
        e164=number if number.startswith("+") else "+" + number,
        status=item.get("status") or "",
        settings={
            "sms_enabled": bool(item.get("sms_enabled")),
            "destinations": _destinations(item.get("destination"), interned),
            "sms_relay_url": item.get("sms_relay_url"),
            "call_recording_enabled": bool(item.get("call_recording_enabled")),
            "transcription_enabled": bool(item.get("transcription_enabled")),
            "transcription_threshold": item.get("transcription_threshold"),
            "call_status_url": item.get("call_status_url"),
        },
        patchable=True,
    )


def _request_fields(patch: dict[str, Any]) -> dict[str, Any]:
    """Flat canonical patch → request body fields (``destinations`` request items)."""
    body = unflatten(patch)
    if "destinations" in body:
        body["destinations"] = [
            {
                "destination": d["destination"],
                "priority": d["priority"],
                "transport": d["transport"],
                **({"trunk_id": d["trunk_id"]} if d.get("trunk_id") is not None else {}),
            }
            for d in body["destinations"]
        ]
    return body
