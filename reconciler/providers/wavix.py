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
import email.utils
import logging
import time
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import httpx
import orjson

from ..errors import (
    AuthError,
    InvalidRequestError,
    NotFoundError,
    PermissionError_,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ..models import LiveNumber, unflatten
from ..plan import BulkCall
from .base import CallResult, Provider

log = logging.getLogger(__name__)

PAGE_SIZE = 100
"""Wavix's documented maximum ``per_page``."""
ATTEMPTS = 3
BACKOFF_S = 0.5
MAX_RETRY_AFTER_S = 60.0
NUMBERS = "/v1/numbers"


class WavixProvider(Provider):
    carrier = "wavix"
    DEFAULT_BASE_URL = "https://api.wavix.com"
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
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(id_: str) -> LiveNumber | None:
            async with gate:
                try:
                    return _live(await self._request("GET", f"{NUMBERS}/{int(id_)}"))
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

        def canonical(body: dict[str, Any] | ProviderError) -> list[LiveNumber]:
            if isinstance(body, ProviderError):
                raise body
            self._page_read(total)
            return [_live(item) for item in body["items"]]

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
        """One bulk PATCH; raises a ``ProviderError`` when the carrier refuses it (nothing is
        applied then: Wavix refuses the whole request) or never answers (outcome unknown)."""
        body = {"ids": [int(i) for i in call.ids], **_request_fields(call.patch)}
        _, attempts = await self._exchange("PATCH", NUMBERS, json=body)
        return CallResult(call, "ok", requests=attempts)

    # ---- HTTP
    async def _page(self, n: int) -> dict[str, Any]:
        return await self._request("GET", NUMBERS, params={"page": n, "per_page": PAGE_SIZE})

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None
    ) -> Any:
        return (await self._exchange(method, path, params=params))[0]

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> tuple[Any, int]:
        """Send with retries (429, 5xx, no response; every call here is idempotent) and
        translate failures. Returns the decoded JSON body and how many attempts it took."""
        client = self.http
        for attempt in range(1, ATTEMPTS + 1):
            self.requests_sent += 1
            try:
                response = await client.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                if attempt < ATTEMPTS:
                    await self._backoff(attempt, None, f"{type(exc).__name__}", method, path)
                    continue
                raise TransportError(
                    self._scrub(
                        f"no response after {ATTEMPTS} attempts ({type(exc).__name__}: "
                        f"{exc}); check the network and base_url"
                    ),
                    account=self.account,
                    method=method,
                    path=path,
                ) from exc
            status = response.status_code
            if status < 400:
                try:
                    return orjson.loads(response.content), attempt
                except ValueError as exc:
                    raise ServerError(
                        "the carrier answered with a body that is not JSON",
                        account=self.account,
                        method=method,
                        path=path,
                        status=status,
                    ) from exc
            if (status == 429 or status >= 500) and attempt < ATTEMPTS:
                await self._backoff(
                    attempt, response.headers.get("retry-after"), str(status), method, path
                )
                continue
            raise self._error(method, path, response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(
        self, attempt: int, retry_after: str | None, why: str, method: str, path: str
    ) -> None:
        delay = _retry_after(retry_after)
        if delay is None:
            delay = BACKOFF_S * 2 ** (attempt - 1)
        log.info("[%s] %s %s → %s; retrying in %.1fs", self.account, method, path, why, delay)
        await self.clock.sleep(delay)

    def _error(self, method: str, path: str, response: httpx.Response) -> ProviderError:
        status = response.status_code
        said = self._scrub(_carrier_message(response))
        scope = "numbers:write" if method != "GET" else "numbers:read"
        cls: type[ProviderError]
        if status == 400 or status == 422:
            cls, message = InvalidRequestError, f"the carrier rejected the request: {said}"
        elif status == 401:
            cls, message = AuthError, "the API key was rejected; check WAVIX_API_KEY"
        elif status == 403:
            cls = PermissionError_
            message = f"the API key lacks {scope} (use a key with {scope[8:]} scope)"
            if said and "scope" not in said and scope not in said:
                message = f"forbidden: {said} (or the API key lacks {scope})"
        elif status == 404:
            cls = NotFoundError
            message = (
                "an id is not in the account; nothing was applied"
                if method == "PATCH"
                else "no such number in the account"
            )
        elif status == 429:
            cls, message = RateLimitError, f"rate limited ({ATTEMPTS} attempts); try again later"
        elif status >= 500:
            cls, message = ServerError, f"carrier server error after {ATTEMPTS} attempts: {said}"
        else:
            cls, message = ProviderError, f"unexpected answer: {said}"
        if status == 404 and said:
            message += f" (carrier: {said})"
        return cls(
            message, account=self.account, method=method, path=path, status=status, detail=said
        )

    def _scrub(self, text: str) -> str:
        """Never let the key through, even if something echoes it back."""
        return text.replace(self._api_key, "***") if self._api_key else text


# ---- wire ↔ canonical


_DEST_ORDER = itemgetter("priority", "destination", "transport")
"""The sort key of ``models.canonical_destinations`` (a test keeps the two in step)."""


_CANONICAL_CACHE: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
_CACHE_MAX = 4096


def _destinations(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """``models.canonical_destinations`` for the carrier's own items (transport already an int
    code), without its per-item overhead: this runs once per number of the account.

    Numbers routed alike share one canonical list (interned by value, bounded cache), so a big
    account costs a handful of lists instead of one per number; nothing mutates them.
    """
    if not items:
        return []
    key = tuple(
        (d["destination"], d["priority"], d["transport"], d.get("trunk_id")) for d in items
    )
    out = _CANONICAL_CACHE.get(key)
    if out is None:
        out = [
            {"destination": dest, "priority": prio, "transport": tr, "trunk_id": trunk}
            for dest, prio, tr, trunk in key
        ]
        if len(out) > 1:
            out.sort(key=_DEST_ORDER)
        if len(_CANONICAL_CACHE) >= _CACHE_MAX:
            _CANONICAL_CACHE.clear()
        _CANONICAL_CACHE[key] = out
    return out


def _live(item: dict[str, Any]) -> LiveNumber:
    """A response ``Number`` → canonical ``LiveNumber``. Plain dict access (this runs a million
    times on a big account); nulls the spec calls impossible are tolerated."""
    number = item["number"]
    return LiveNumber(
        id=str(item["id"]),
        e164=number if number.startswith("+") else "+" + number,
        status=item.get("status") or "",
        settings={
            "sms_enabled": bool(item.get("sms_enabled")),
            "destinations": _destinations(item.get("destination")),
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


def _carrier_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return str(data)[:200]


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (number or HTTP date), capped; None when absent/unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)
