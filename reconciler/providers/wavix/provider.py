"""Wavix: read ``GET /v1/numbers`` page by page, apply with the bulk ``PATCH /v1/numbers``.

Facts: ../shared/carriers/wavix.md. The list is page-number paginated (max 100 per page), so
after page 1 every other page is fetched concurrently. Responses are read as the live API sends
them, sparse or with nulls the spec forbids (``decode``): a number whose settings cannot be read
is returned unpatchable with a "carrier data" status, never guessed.

The bulk PATCH applies one patch to many ids and is all-or-nothing: one refused number fails the
call with a message naming none. ``apply`` then bisects the call (``bisect``) to apply the rest
and name the refused numbers with the carrier's message (a ``PARTIAL`` result). The PATCH is
idempotent, so the HTTP policy retries it on 429, 5xx and transport errors.

Ids are 64-bit integers on the wire (11-12 digits in the official examples) and strings here:
an id is checked to be digits and sent as read, never narrowed. Destinations and the SMS URL land
asynchronously (``async_fields``): the applier waits ``async_verify_timeout_s`` for them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

import httpx
import orjson

from ...errors import CarrierDataError, NotFoundError, ProviderError, ServerError
from ...models import LiveNumber, unflatten
from ...plan import BulkCall
from ..base import AccountFatal, CallResult, CallStatus, HttpProvider
from ..http import Counter, parse_retry_after, reset_epoch
from .bisect import budget_for, is_refusal, isolate, reason
from .decode import BadData, Interned, live, live_all, page_items, paging

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 100
"""Wavix's documented maximum ``per_page``."""
_E164 = attrgetter("e164")
NUMBERS = "/v1/numbers"


class WavixProvider(HttpProvider):
    # Capabilities (async_fields, max_concurrent_calls...) are in the record, wavix/carrier.py.
    _total_pages: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http.key_hint = self.config.key_hint  # the variable this account's api_key names

    # ---- the seam
    async def fetch_all(self) -> list[LiveNumber]:
        return await self._fetch_all()

    async def fetch(self, ids: Sequence[str]) -> list[LiveNumber]:
        """Re-read ``ids``: one GET each when that takes fewer requests than a full listing
        (page 1 tells how many pages that is). Ids the account no longer has are left out."""
        wanted = {i for i in ids if _is_id(i)}  # anything else cannot be a Wavix number
        first: dict[str, Any] | None = None
        if self._total_pages is None:
            first = await self._page(1)
            self._total_pages = self._decoded(lambda: paging(first, 1), NUMBERS).total_pages
        if len(wanted) >= self._total_pages:
            listing = await self._fetch_all(first or await self._page(1))
            return [n for n in listing if n.id in wanted]
        interned = Interned()

        async def one(id_: str) -> LiveNumber | None:
            path = f"{NUMBERS}/{id_}"
            try:
                body = await self._request("GET", path)
            except NotFoundError:
                return None
            return self._decoded(lambda: live(body, interned), path)

        found = await asyncio.gather(*(one(i) for i in sorted(wanted)))
        return sorted((n for n in found if n is not None), key=_E164)

    async def _fetch_all(self, first: dict[str, Any] | None = None) -> list[LiveNumber]:
        """Every page, ``config.concurrency`` requests in flight, judged in page order.

        Without a known first page, the opening wave asks for pages 1..concurrency/2 at once
        instead of page 1 alone: a round trip saved on accounts bigger than a page, for at most
        three empty pages (default concurrency 8) on a small one. A page asked for ahead of
        knowing the total that lies beyond it is dropped unread, even if the carrier refused it.

        Page 1's ``pagination`` is checked (``decode.paging``) and never trusted further than
        needed: at most ``concurrency`` pages are in flight, each request made as a slot frees;
        the read ends at the first empty page (the listing is shorter than announced: numbers
        released, or a count that lies); a full page adding no number is a "carrier data"
        error (the carrier ignores ``page``), never a read without end.
        """
        # Held through a page's retries (the key's Budget is taken per attempt): a page backing
        # off does not let another page through.
        gate = asyncio.Semaphore(self.config.concurrency)

        async def get(n: int) -> dict[str, Any] | ProviderError:
            async with gate:
                try:
                    return await self._page(n)
                except ProviderError as exc:
                    if n == 1:
                        raise
                    return exc  # judged once the total is known

        got: dict[int, dict[str, Any] | ProviderError] = {}
        flying: dict[asyncio.Task[dict[str, Any] | ProviderError], int] = {}
        asked = 0
        if first is not None:
            got[1], asked = first, 1
        opening = max(1, self.config.concurrency // 2)
        if self._total_pages is not None:  # read before in this run: no need to guess
            opening = min(opening, max(1, self._total_pages))
        total: int | None = None
        size = PAGE_SIZE
        interned = Interned()
        by_id: dict[str, LiveNumber] = {}
        self._pages_read = 0
        n = 1
        try:
            while total is None or n <= total:
                horizon = opening if total is None else total
                while len(flying) < self.config.concurrency and asked < horizon:
                    asked += 1
                    flying[asyncio.ensure_future(get(asked))] = asked
                if n not in got:
                    done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                    failed = [e for e in (t.exception() for t in done) if e is not None]
                    for task in done:
                        page = flying.pop(task)
                        if not task.exception():
                            got[page] = task.result()
                    if failed:
                        raise failed[0]
                    continue
                body = got.pop(n)
                if isinstance(body, ProviderError):
                    raise body
                if total is None:
                    found = self._decoded(partial(paging, body, 1), NUMBERS)
                    self._total_pages = total = found.total_pages
                    size = found.per_page or PAGE_SIZE
                    if n > total:
                        break
                items = self._decoded(partial(page_items, body, n), NUMBERS)
                if not items and n > 1:
                    break  # shorter than announced: every later page is empty too
                self._page_read(total)
                before = len(by_id)
                for number in self._decoded(partial(live_all, items, interned), NUMBERS):
                    by_id[number.id] = number  # a number seen on two pages (it moved) counts once
                if n > 1 and len(items) >= size and len(by_id) == before:
                    raise CarrierDataError(
                        f"page {n}: a full page with no number not already read (the listing "
                        "does not advance: page ignored?)",
                        account=self.account,
                        method="GET",
                        path=NUMBERS,
                        status=200,
                    )
                n += 1
        finally:
            # Pages still in flight past the end: awaited, not cancelled (a request half sent
            # stays whole); on an error they are cancelled.
            if flying:
                if sys.exc_info()[0] is not None:
                    for task in flying:
                        task.cancel()
                await asyncio.gather(*flying, return_exceptions=True)
        return sorted(by_id.values(), key=_E164)

    async def apply(self, call: BulkCall) -> CallResult:
        """One bulk PATCH (idempotent, so the HTTP policy retries it). Wavix applies all or
        nothing: when it refuses the call (400/422, or 404 for an id gone since the plan), the
        call is bisected to apply every number it accepts and name the refused ones with the
        carrier's message (``PARTIAL``). No answer leaves the outcome unknown."""
        bad = [i for i in call.ids if not _is_id(i)]
        if bad:
            why = f"not a Wavix number id: {bad[0][:40]!r}; nothing was sent"
            return CallResult(call, CallStatus.FAILED, error=why, requests=0)
        fields = _request_fields(call.patch)
        sent = Counter()

        async def send(ids: Sequence[str]) -> ProviderError | None:
            body = {"ids": [int(i) for i in ids], **fields}  # digits: exact at any size
            try:
                await self.http.request("PATCH", NUMBERS, json=body, idempotent=True, counter=sent)
            except AccountFatal:
                raise
            except ProviderError as exc:
                return exc
            return None

        error = await send(call.ids)
        if error is None:
            return CallResult(call, CallStatus.OK, requests=sent.n)
        if not is_refusal(error) or len(call.ids) == 1:
            unknown = error.status is None or error.status >= 500
            failed = {call.ids[0]: reason(error)} if is_refusal(error) else {}
            # Rate limited past the policy's budget: nothing was applied, and the PATCH is
            # idempotent, so the applier may send it again in a follow-up round.
            again = frozenset(call.ids) if error.status == 429 else frozenset()
            return CallResult(
                call,
                CallStatus.FAILED,
                failed=failed,
                error=str(error),
                outcome_unknown=unknown,
                requests=sent.n,
                cause=error,
                retry=again,
                refused=is_refusal(error),
            )
        found = await isolate(send, call.ids, error, budget_for(len(call.ids)))
        if found.failed:
            log.info(
                "[%s] PATCH %s refused; %d of %d numbers isolated in %d extra calls",
                self.account,
                NUMBERS,
                len(found.failed),
                len(call.ids),
                found.calls,
            )
        whole = len(found.failed) == len(call.ids)
        return CallResult(
            call,
            CallStatus.FAILED if whole else CallStatus.PARTIAL,
            failed=found.failed,
            error=str(error) if whole else None,
            outcome_unknown=found.unknown,
            requests=sent.n,
            cause=error,
            refused=True,  # bisected: the carrier refused these numbers for their content
        )

    def verify_wait_s(self, fields: Iterable[str]) -> float:
        """The short verify wait, or ``async_verify_timeout_s`` when an async field changed."""
        wait = self.config.verify_timeout_s
        if not self.async_fields.isdisjoint(fields):
            wait = max(wait, getattr(self.config, "async_verify_timeout_s", wait))
        return wait

    def _decoded(self, read: Callable[[], T], path: str) -> T:
        """``read()``, its ``BadData`` turned into a ``CarrierDataError`` naming the account."""
        try:
            return read()
        except BadData as exc:
            raise CarrierDataError(
                str(exc), account=self.account, method="GET", path=path, status=200
            ) from None

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


# ---- wire


def _is_id(id_: str) -> bool:
    """A Wavix number id as we hold it: the decimal digits of a positive integer."""
    return id_.isascii() and id_.isdigit() and id_.strip("0") != ""


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
