"""Telnyx v2: read two listings joined on id, apply through ``update_phone_numbers`` jobs.

Reading. A number's settings are split over two listings (``shared/carriers/telnyx.md`` §5):
``GET /phone_numbers`` has tags, connection, references, PIN, HD voice, deletion lock and the only
readable ``caller_id_name_enabled``; ``GET /phone_numbers/voice`` has every other ``voice.*``
setting. Both are paged 250 at a time following ``meta.total_pages``, concurrently (at most
``config.concurrency`` requests in flight), and joined on ``id``. Items are decoded with plain dict
access (a million numbers are read in a benchmark).

Applying. One ``BulkCall`` is one job: ``POST /phone_numbers/jobs/update_phone_numbers`` with the
explicit id list (never E.164, never the filter form) and the patch, then ``GET
/phone_numbers/jobs/{id}`` every ``config.poll_interval_s`` until the job is completed, failed or
expired, or ``config.job_timeout_s`` runs out. Every wait is on the injected clock.

Job creation is not idempotent (no idempotency key), so the POST is never retried blindly:

* **429**, or **422 "at most 20 pending or in progress jobs"**: the job was not created. Wait
  (``x-ratelimit-reset`` seconds when given, else the poll interval) and send it again, until
  ``job_timeout_s``.
* **5xx, timeout or lost connection**: the job may or may not exist. Look for it: list
  ``GET /phone_numbers/jobs?filter[type]=update_phone_numbers`` (newest first) and adopt a job
  created since this provider's first apply whose ``phone_numbers`` are exactly our ids (and whose
  ``parameters``, when the API returns them, carry our patch) and that no other call of ours has
  claimed. "Since" is measured on the carrier's clock: before its first job the provider notes
  the newest existing job (one extra GET per run), so jobs of earlier runs are never adopted.
  None found → send the POST once more; still unknown → the call fails with
  ``outcome_unknown=True`` and a message to check the jobs list before re-running.
* Any other 4xx: the call failed and nothing was created. 401 and 403 raise (the applier stops).

GETs are retried on 429, 5xx and transport errors with exponential backoff on the clock.
Errors become the ``ProviderError`` family at this seam; the API key is never in a message.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import httpx
import orjson

from ...config import PollingConfig
from ...errors import (
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ...gcpause import without_gc
from ...models import LiveNumber, unflatten
from ...plan import BulkCall
from ..base import AccountFatal, CallResult, CallStatus, Provider
from ..http import Counter, parse_retry_after, reset_seconds
from .settings import canonical_tags

log = logging.getLogger(__name__)

NUMBERS = "/phone_numbers"
VOICE = "/phone_numbers/voice"
JOBS = "/phone_numbers/jobs"
CREATE_JOB = "/phone_numbers/jobs/update_phone_numbers"
PAGE_SIZE = 250
JOB_SEARCH_PAGES = 4
DONE = ("completed", "failed", "expired")
CAP_DETAIL = (
    "pending or in progress jobs"  # 422 "You can have at most 20 pending or in progress jobs"
)

T = TypeVar("T")

NUMBER_PATHS = (
    "tags",
    "connection_id",
    "customer_reference",
    "billing_group_id",
    "external_pin",
    "hd_voice_enabled",
    "deletion_lock_enabled",
    "voice.caller_id_name_enabled",
)
"""Settings read from ``GET /phone_numbers`` (``caller_id_name_enabled`` is only there)."""
VOICE_PATHS = (
    "voice.call_forwarding.call_forwarding_enabled",
    "voice.call_forwarding.forwarding_type",
    "voice.call_forwarding.forwards_to",
    "voice.call_recording.inbound_call_recording_enabled",
    "voice.call_recording.inbound_call_recording_channels",
    "voice.call_recording.inbound_call_recording_format",
    "voice.cnam_listing.cnam_listing_enabled",
    "voice.cnam_listing.cnam_listing_details",
    "voice.inbound_call_screening",
    "voice.media_features.accept_any_rtp_packets_enabled",
    "voice.media_features.rtp_auto_adjust_enabled",
    "voice.media_features.t38_fax_gateway_enabled",
    "voice.tech_prefix_enabled",
    "voice.translated_number",
    "voice.usage_payment_method",
)
"""Settings read from ``GET /phone_numbers/voice``, in ``voice_values`` order."""


def _in_model_order(numbers: tuple[Any, ...], voice: tuple[Any, ...]) -> tuple[Any, ...]:
    """Both value tuples → one, in ``field_paths("telnyx")`` order (caller_id_name_enabled sits
    between voice.call_recording and voice.cnam_listing)."""
    return numbers[:7] + voice[:6] + numbers[7:] + voice[6:]


SETTING_PATHS: tuple[str, ...] = _in_model_order(NUMBER_PATHS, VOICE_PATHS)
_UNREAD_VOICE = (None,) * len(VOICE_PATHS)
_EMPTY: dict[str, Any] = {}


def number_values(item: dict[str, Any]) -> tuple[Any, ...]:
    """One ``GET /phone_numbers`` item → values in ``NUMBER_PATHS`` order."""
    get = item.get
    return (
        canonical_tags(get("tags")),
        get("connection_id"),
        get("customer_reference"),
        get("billing_group_id"),
        get("external_pin"),
        get("hd_voice_enabled"),
        get("deletion_lock_enabled"),
        get("caller_id_name_enabled", False),
    )


def voice_values(item: dict[str, Any]) -> tuple[Any, ...]:
    """One ``GET /phone_numbers/voice`` item → values in ``VOICE_PATHS`` order. A leaf the
    carrier leaves out takes the spec's default, so the diff never shows noise."""
    get = item.get
    fwd = get("call_forwarding") or _EMPTY
    rec = get("call_recording") or _EMPTY
    cnam = get("cnam_listing") or _EMPTY
    media = get("media_features") or _EMPTY
    return (
        fwd.get("call_forwarding_enabled", True),
        fwd.get("forwarding_type"),
        fwd.get("forwards_to"),
        rec.get("inbound_call_recording_enabled", False),
        rec.get("inbound_call_recording_channels", "single"),
        rec.get("inbound_call_recording_format", "wav"),
        cnam.get("cnam_listing_enabled", False),
        cnam.get("cnam_listing_details"),
        get("inbound_call_screening", "disabled"),
        media.get("accept_any_rtp_packets_enabled", False),
        media.get("rtp_auto_adjust_enabled", True),
        media.get("t38_fax_gateway_enabled", False),
        get("tech_prefix_enabled", False),
        get("translated_number", ""),
        get("usage_payment_method", "pay-per-minute"),
    )


class _Join:
    """Both listings, decoded page by page as they arrive (values only: a million numbers are
    held while the other listing is read), joined on id at the end."""

    def __init__(self) -> None:
        self.numbers: list[tuple[str, str, str, tuple[Any, ...]]] = []
        self.voice: dict[str, tuple[Any, ...]] = {}

    @without_gc
    def numbers_page(self, body: dict[str, Any]) -> None:
        self.numbers.extend(
            (item["id"], item["phone_number"], item["status"], number_values(item))
            for item in body["data"]
        )

    @without_gc
    def voice_page(self, body: dict[str, Any]) -> None:
        self.voice.update((item["id"], voice_values(item)) for item in body["data"])

    @without_gc
    def result(self) -> list[LiveNumber]:
        """Sorted by e164; a number missing from the voice listing gets ``None`` voice values."""
        pop, paths, order = self.voice.pop, SETTING_PATHS, _in_model_order
        out = [
            LiveNumber(
                id_,
                e164,
                status,
                dict(zip(paths, order(values, pop(id_, _UNREAD_VOICE)), strict=True)),
                status == "active",
            )
            for id_, e164, status, values in self.numbers
        ]
        out.sort(key=_by_e164)
        return out


def _by_e164(number: LiveNumber) -> str:
    return number.e164


class TelnyxProvider(Provider):
    carrier: ClassVar[str] = "telnyx"
    job_based: ClassVar[bool] = True
    max_concurrent_calls: ClassVar[int] = 20  # the account's cap on pending/in-progress jobs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: int | None = None  # listing pages seen by the last fetch_all
        self._watermark: tuple[datetime | None, frozenset[str]] | None = None
        self._watermark_lock = asyncio.Lock()
        self._claimed: set[str] = set()  # job ids already bound to one of our calls
        self.config: PollingConfig = self.config  # type: ignore[assignment]

    @property
    def http_concurrency(self) -> int:
        # Up to 20 jobs are polled at once besides the listing reads.
        return max(self.config.concurrency, self.max_concurrent_calls)

    # ---- reading
    async def fetch_all(self) -> list[LiveNumber]:
        """Both listings, ``config.concurrency`` requests in flight, joined on id.

        The opening wave asks for pages 1..concurrency/2 of each listing at once (not page 1
        alone): a round trip saved on accounts bigger than a page, for at most six empty pages
        (default concurrency 8) on a small one. Pages asked for ahead of knowing the totals that
        lie beyond them are dropped unread, even if the carrier refused them. A provider that
        has read the listings before asks for no more pages than they had.
        """
        gate = asyncio.Semaphore(self.config.concurrency)
        join = _Join()
        decode = {NUMBERS: join.numbers_page, VOICE: join.voice_page}
        opening = max(1, self.config.concurrency // 2)
        if self._pages is not None:  # read before in this run: no need to guess
            opening = min(opening, self._pages)

        async def ahead(path: str, page: int) -> dict[str, Any] | ProviderError:
            try:
                return await self._bounded(gate, self._page(path, page))
            except ProviderError as exc:
                if page == 1:
                    raise
                return exc  # judged once the totals are known

        listings = (NUMBERS, VOICE)
        wave = await asyncio.gather(
            *(ahead(path, page) for path in listings for page in range(1, opening + 1))
        )
        bodies = {path: wave[i * opening : (i + 1) * opening] for i, path in enumerate(listings)}
        totals = {path: _total_pages(bodies[path][0]) for path in listings}  # type: ignore[arg-type]
        self._pages = max(totals.values())
        everything = sum(totals.values())
        self._pages_read = 0
        for path in listings:
            for body in bodies[path][: totals[path]]:
                if isinstance(body, ProviderError):
                    raise body
                decode[path](body)
                self._page_read(everything)

        async def load(path: str, page: int) -> None:
            body = await self._bounded(gate, self._page(path, page))
            decode[path](body)  # decoded as it arrives: the raw page is dropped right away
            self._page_read(everything)

        await asyncio.gather(
            *(load(path, p) for path in listings for p in range(opening + 1, totals[path] + 1))
        )
        return join.result()

    async def fetch(self, ids: Sequence[str]) -> list[LiveNumber]:
        """Re-read ``ids``: per number (2 GETs each) when that is fewer requests than both
        listings, else the listings filtered. Ids the carrier no longer has are left out."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        if self._pages is None:
            probe = await self._get(NUMBERS, {"page[size]": 1})
            self._pages = math.ceil(int(probe.get("meta", {}).get("total_results", 0)) / PAGE_SIZE)
        if len(wanted) > self._pages:
            keep = set(wanted)
            return [n for n in await self.fetch_all() if n.id in keep]
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(id_: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
            got = await asyncio.gather(
                self._bounded(gate, self._get(f"{NUMBERS}/{id_}", missing_ok=True)),
                self._bounded(gate, self._get(f"{NUMBERS}/{id_}/voice", missing_ok=True)),
            )
            return got[0].get("data"), got[1].get("data")

        join = _Join()
        for number, voice in await asyncio.gather(*(one(i) for i in wanted)):
            if number is not None:
                join.numbers_page({"data": [number]})
            if voice is not None:
                join.voice_page({"data": [voice]})
        return join.result()

    async def _page(self, path: str, number: int) -> dict[str, Any]:
        return await self._get(path, {"page[number]": number, "page[size]": PAGE_SIZE})

    @staticmethod
    async def _bounded(gate: asyncio.Semaphore, work: Awaitable[T]) -> T:
        async with gate:
            return await work

    # ---- applying
    async def apply(self, call: BulkCall) -> CallResult:
        body = {"phone_numbers": list(call.ids), **unflatten(call.patch)}
        sent = Counter()
        deadline = self.clock.now() + self.config.job_timeout_s
        await self._note_watermark(sent)
        job: dict[str, Any] | None = None
        unknown: list[str] = []
        while job is None:
            try:
                # 429 means the job was not created: the HTTP policy may send it again.
                response = await self.http.request(
                    "POST", CREATE_JOB, json=body, retry_statuses=frozenset({429}), counter=sent
                )
                job = self._decode("POST", CREATE_JOB, response).get("data")
                if not isinstance(job, dict) or "id" not in job:
                    raise self._bad_answer("POST", CREATE_JOB, "a 2xx answer without a job")
            except AccountFatal:
                raise
            except (RateLimitError, InvalidRequestError) as exc:
                retryable = isinstance(exc, RateLimitError) or CAP_DETAIL in exc.detail
                if not retryable or self.clock.now() >= deadline:
                    return CallResult(
                        call, CallStatus.FAILED, error=str(exc), requests=sent.n, cause=exc
                    )
                wait = getattr(exc, "retry_after", None) or self.config.poll_interval_s
                log.info("%s; job not created, retrying in %.1fs", exc, wait)
                await self.clock.sleep(min(wait, max(0.0, deadline - self.clock.now())))
            except (ServerError, TransportError) as exc:
                unknown.append(str(exc))
                log.warning("%s; looking for a job it may have created", exc)
                await self.clock.sleep(self.config.poll_interval_s)
                try:
                    job = await self._find_job(call, body, sent)
                except AccountFatal:
                    raise
                except ProviderError as search_exc:
                    unknown.append(f"looking for the job: {search_exc}")
                    return self._unknown(call, unknown, sent)
                if job is None and len(unknown) >= 2:
                    return self._unknown(call, unknown, sent)
            except ProviderError as exc:  # any other 4xx: rejected, nothing created
                return CallResult(
                    call, CallStatus.FAILED, error=str(exc), requests=sent.n, cause=exc
                )
        self._claimed.add(job["id"])
        return await self._poll(call, job, deadline, sent)

    async def _poll(
        self, call: BulkCall, job: dict[str, Any], deadline: float, sent: Counter
    ) -> CallResult:
        job_id = job["id"]
        path = f"{JOBS}/{job_id}"
        while job.get("status") not in DONE:
            left = deadline - self.clock.now()
            if left <= 0:
                return self._settled(call, job, sent, timed_out=True)
            await self.clock.sleep(min(self.config.poll_interval_s, left))
            try:
                job = (await self._get(path, counter=sent))["data"]
            except AccountFatal:
                raise
            except ProviderError as exc:
                return CallResult(
                    call,
                    CallStatus.FAILED,
                    failed={i: f"job {job_id}: {exc}" for i in call.ids},
                    error=f"lost track of job {job_id}: {exc}; check GET {path} before re-running",
                    job_id=job_id,
                    outcome_unknown=True,
                    requests=sent.n,
                )
        return self._settled(call, job, sent)

    def _settled(
        self, call: BulkCall, job: dict[str, Any], sent: Counter, timed_out: bool = False
    ) -> CallResult:
        """A finished (or given-up-on) job → per-number outcome."""
        job_id, status = job["id"], job.get("status")
        ok = {op.get("id") for op in job.get("successful_operations") or ()}
        failed = {
            op.get("id"): "; ".join(map(describe, op.get("errors") or ())) or "failed"
            for op in job.get("failed_operations") or ()
        }
        if status == "completed" and not timed_out:
            for id_ in call.ids:
                if id_ not in ok and id_ not in failed:
                    failed[id_] = f"not reported by job {job_id}"
            failed = {i: r for i, r in failed.items() if i in set(call.ids)}
            if not failed:
                return CallResult(call, CallStatus.OK, job_id=job_id, requests=sent.n)
            if ok & set(call.ids):
                return CallResult(
                    call, CallStatus.PARTIAL, failed=failed, job_id=job_id, requests=sent.n
                )
            return CallResult(
                call,
                CallStatus.FAILED,
                failed=failed,
                job_id=job_id,
                requests=sent.n,
                error=f"job {job_id} completed but every number failed",
            )
        if timed_out:
            reason = (
                f"job {job_id} still {status} after {self.config.job_timeout_s:g}s; it may "
                f"still run: check GET {JOBS}/{job_id} before re-running"
            )
        elif status == "expired":
            reason = f"job {job_id} expired before it ran; nothing was applied"
        else:
            reason = f"job {job_id} ended {status}"
        for id_ in call.ids:
            if id_ not in ok:
                failed.setdefault(id_, reason)
        return CallResult(
            call,
            CallStatus.FAILED,
            failed=failed,
            error=reason,
            job_id=job_id,
            outcome_unknown=timed_out,
            requests=sent.n,
        )

    def _unknown(self, call: BulkCall, errors: list[str], sent: Counter) -> CallResult:
        message = (
            f"outcome unknown: {'; '.join(errors)}. A job may have been created: check "
            f"GET {JOBS}?filter[type]=update_phone_numbers before re-running"
        )
        return CallResult(
            call,
            CallStatus.FAILED,
            failed={i: message for i in call.ids},
            error=message,
            outcome_unknown=True,
            requests=sent.n,
        )

    async def _note_watermark(self, sent: Counter) -> None:
        """Once per provider: remember the newest existing job, so adoption ignores old jobs."""
        async with self._watermark_lock:
            if self._watermark is not None:
                return
            body = await self._get(JOBS, _job_query(1), counter=sent)
            jobs = body.get("data") or []
            times = [t for t in (_parse_time(j.get("created_at")) for j in jobs) if t is not None]
            self._watermark = (max(times) if times else None, frozenset(j.get("id") for j in jobs))

    async def _find_job(
        self, call: BulkCall, body: dict[str, Any], sent: Counter
    ) -> dict[str, Any] | None:
        """Our job if the carrier created it although we got no answer (newest first)."""
        since, seen = self._watermark or (None, frozenset())
        ids = set(call.ids)
        patch = {k: v for k, v in body.items() if k != "phone_numbers"}
        for page in range(1, JOB_SEARCH_PAGES + 1):
            found = await self._get(JOBS, _job_query(page), counter=sent)
            jobs = found.get("data") or []
            for job in jobs:
                created = _parse_time(job.get("created_at"))
                if since is not None and created is not None and created < since:
                    return None  # older than this run: stop looking
                if job.get("id") in seen or job.get("id") in self._claimed:
                    continue
                if {p.get("id") for p in job.get("phone_numbers") or ()} != ids:
                    continue
                if "parameters" in job and not _contains(job["parameters"] or {}, patch):
                    continue
                log.warning("adopting job %s created by a request that got no answer", job["id"])
                return job
            if page >= _total_pages(found):
                break
        return None

    # ---- HTTP
    async def _get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        missing_ok: bool = False,
        counter: Counter | None = None,
    ) -> dict[str, Any]:
        """GET → decoded body (the HTTP policy retries it). ``missing_ok``: 404 → {}."""
        try:
            response = await self.http.request("GET", path, params=params, counter=counter)
        except NotFoundError:
            if missing_ok:
                return {}
            raise
        return self._decode("GET", path, response)

    def _decode(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise self._bad_answer(method, path, "the answer is not a JSON object")
        return body

    def _bad_answer(self, method: str, path: str, what: str) -> ServerError:
        return ServerError(what, account=self.account, method=method, path=path)

    @staticmethod
    def error_text(response: httpx.Response) -> str:
        """Telnyx error bodies: ``{"errors": [{"code", "title", "detail"}]}``."""
        try:
            errors = response.json().get("errors") or []
            texts = [str(e.get("detail") or e.get("title") or e.get("code")) for e in errors]
            if texts:
                return "; ".join(texts)[:500]
        except (ValueError, AttributeError):
            pass
        return response.reason_phrase or f"HTTP {response.status_code}"

    @staticmethod
    def retry_hint(response: httpx.Response, wall_now: float) -> float | None:
        """``x-ratelimit-reset`` (seconds until the window resets), else ``Retry-After``."""
        hint = None
        if response.status_code == 429:
            hint = reset_seconds(response.headers.get("x-ratelimit-reset"))
        if hint is None:
            hint = parse_retry_after(response.headers.get("retry-after"), wall_now)
        return hint


def describe(error: dict[str, Any]) -> str:
    """One Telnyx error item → ``"10015 Bad Request: detail"``."""
    head = " ".join(str(error[k]) for k in ("code", "title") if error.get(k))
    detail = error.get("detail")
    return f"{head}: {detail}" if head and detail else head or str(detail or "error")


def _total_pages(body: dict[str, Any]) -> int:
    return int((body.get("meta") or {}).get("total_pages") or 1)


def _job_query(page: int) -> dict[str, Any]:
    return {"filter[type]": "update_phone_numbers", "page[number]": page, "page[size]": PAGE_SIZE}


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))  # 3.11 reads the trailing "Z"
    except ValueError:
        return None


def _contains(have: dict[str, Any], want: dict[str, Any]) -> bool:
    """Every leaf of ``want`` is in ``have`` with the same value (tags compared as sets)."""
    for key, value in want.items():
        if isinstance(value, dict):
            if not isinstance(have.get(key), dict) or not _contains(have[key], value):
                return False
        elif key == "tags":
            if canonical_tags(have.get(key)) != canonical_tags(value):
                return False
        elif have.get(key) != value:
            return False
    return True


__all__ = ["SETTING_PATHS", "TelnyxProvider", "describe", "number_values", "voice_values"]
