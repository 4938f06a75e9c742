"""Telnyx v2: read two listings joined on id, apply through ``update_phone_numbers`` jobs.

Reading (``listing``). ``GET /phone_numbers`` (always with ``handle_messaging_profile_error=true``:
without it a messaging-profile lookup failure is a 503 for the whole page) and ``GET
/phone_numbers/voice`` are paged 250 at a time, concurrently (at most ``config.concurrency``
requests in flight), decoded as pages arrive and joined on ``id``, one entry per id. A listing
ends at an empty or short page, or at ``meta.total_pages`` when the totals did not move during
the read (``total_pages`` is optional in the spec). A number seen in one listing only (bought or
released mid-read) is read alone (``GET /phone_numbers/{id}`` or ``/{id}/voice``); one the
carrier no longer has is left out. Nothing is built from half a number.

Applying. One ``BulkCall`` is one job: ``POST /phone_numbers/jobs/update_phone_numbers`` with the
explicit id list (never E.164, never the filter form) and the patch, then ``GET
/phone_numbers/jobs/{id}`` every ``config.poll_interval_s`` until the job is completed, failed or
expired, or ``config.job_timeout_s`` runs out; the outcome is read number by number (``jobs``).
A 404 for a new job not yet read is replication lag: polled again for ``JOB_READ_LAG_S`` from
the first 404.
Every wait is on the injected clock; every request goes through the account's HTTP policy.

Job creation is not idempotent (no idempotency key), so the POST is never retried blindly:

* **429**, or **422 "at most 20 pending or in progress jobs"**: the job was not created. Wait
  (``x-ratelimit-reset`` seconds when given, else the poll interval) and send it again, until
  ``job_timeout_s``.
* **5xx, timeout or lost connection**: the job may or may not exist. Look for it: list
  ``GET /phone_numbers/jobs?filter[type]=update_phone_numbers`` (newest first) and adopt a job
  created since this provider's first apply that ``jobs.matches`` the call (exactly our ids,
  its kept parameters agree with what we sent) and that no other call of ours has claimed.
  "Since" is measured on the carrier's clock: before its first job the provider notes the
  newest existing job (one extra GET per run), so jobs of earlier runs are never adopted. None
  found → send the POST once more; still unknown → the call fails with ``outcome_unknown=True``
  and a message to check the jobs list before re-running.
* **403**: Telnyx keys carry no scopes (a bad key is a 401), so a 403 on job creation is about
  what the job asks for (e.g. code 10010, a billing group the account does not own): that call
  fails, the account goes on. A 403 on a read still raises (the account cannot be read).
* Any other 4xx: the call failed and nothing was created. 401 raises (the applier stops).

Jobs of earlier runs (``pending_work``, ``find_job``, ``follow``): the account's pending and
in-progress update jobs are listed (``filter[status][]`` repeated, every page) so the core does
not post a second job for numbers a live one covers (``reconciler/pending.py``); a job an
earlier run created is found by id or by content (``jobs.matches``, the same predicate as
adoption) and polled like our own.

Nested voice objects are sent whole (``settings.WHOLE_OBJECTS``; the planner fills unmanaged
subfields from the live read), so merge and replace semantics leave them as they were.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
import orjson

from ...config import PollingConfig
from ...errors import (
    CarrierDataError,
    InvalidRequestError,
    NotFoundError,
    PermissionError_,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ...models import LiveNumber, unflatten
from ...plan import BulkCall
from ..base import AccountFatal, CallResult, CallStatus, HttpProvider, PendingJob
from ..http import Counter, parse_retry_after, reset_seconds
from . import messaging
from .carrier import EMERGENCY, MESSAGING
from .jobs import (
    DONE,
    JOB_TYPES,
    JOBS,
    UPDATE_JOB,
    describe,
    ended_since,
    flat_parameters,
    job_ids,
    job_query,
    live_job_query,
    lost,
    matches,
    parse_time,
    settle,
    unknown_outcome,
)
from .listing import (
    EMERGENCY_STATUS,
    PAGE_SIZE,
    SETTING_PATHS,
    Join,
    PageInfo,
    Unusable,
    number_values,
    read_listing,
    settle_orphans,
    voice_values,
)

log = logging.getLogger(__name__)

NUMBERS = "/phone_numbers"
VOICE = "/phone_numbers/voice"
CREATE_JOB = f"{JOBS}/{UPDATE_JOB}"
NUMBERS_QUERY = {"handle_messaging_profile_error": "true"}
"""Sent with every ``GET /phone_numbers``: messaging fields left out instead of a 503."""
JOB_SEARCH_PAGES = 4
LIVE_JOB_PAGES = 40
JOB_READ_LAG_S = 30.0
"""How long a new job may answer 404 (read replicas lagging its creation) before it is lost."""
CAP_DETAIL = (
    "pending or in progress jobs"  # 422 "You can have at most 20 pending or in progress jobs"
)

T = TypeVar("T")


class TelnyxProvider(HttpProvider):
    # Capabilities (job_based, max_concurrent_calls...) are in the record, telnyx/carrier.py.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: int | None = None  # listing pages seen by the last fetch_all
        self._watermark: dict[str, tuple[datetime | None, frozenset[str]]] = {}
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

        Each listing opens with a wave of pages 1..concurrency/2 at once (not page 1 alone): a
        round trip saved on accounts bigger than a page, for at most six empty pages (default
        concurrency 8) on a small one. Once page 1 tells how many pages there are, the rest
        are asked for at once; when it does not, waves go on until the listing ends. Pages are
        decoded as they arrive; a refused page past the listing's end is ignored. A provider
        that has read the listings before opens with no more pages than they had.
        """
        gate = asyncio.Semaphore(self.config.concurrency)
        join = Join()
        wave = max(1, self.config.concurrency // 2)
        opening = wave if self._pages is None else min(wave, self._pages)
        self._pages_read = 0
        done = {NUMBERS: 0, VOICE: 0}
        total = {NUMBERS: 0, VOICE: 0}

        def progress(path: str, info: PageInfo) -> None:
            if not info.count:
                return  # a page past the end: not one of the listing's pages
            done[path] += 1
            total[path] = max(info.pages or 0, done[path])
            self._page_read(sum(total.values()))

        counts = await asyncio.gather(
            *(
                self._listing(path, decode, gate, opening, wave, progress)
                for path, decode in ((NUMBERS, join.numbers_page), (VOICE, join.voice_page))
            )
        )
        self._pages = max(counts)
        await self._settle_orphans(join, gate)
        return self._joined(join, NUMBERS)

    async def _listing(
        self,
        path: str,
        decode: Callable[[dict[str, Any]], int],
        gate: asyncio.Semaphore,
        opening: int,
        wave: int,
        progress: Callable[[str, PageInfo], None],
    ) -> int:
        """Read one listing to its end → the pages it had."""
        try:
            pages, first, last = await read_listing(
                lambda page: self._bounded(gate, lambda: self._page(path, page)),
                decode,
                opening=opening,
                wave=wave,
                window=self.config.concurrency,
                progress=lambda info: progress(path, info),
            )
        except Unusable as exc:
            raise self._unusable(path, exc) from None
        if last.total_results != first.total_results:
            log.warning(
                "[%s] %s changed while it was read (%s → %s numbers): run plan again to see "
                "numbers bought or released meanwhile",
                self.account,
                path,
                first.total_results,
                last.total_results,
            )
        return pages

    async def _settle_orphans(self, join: Join, gate: asyncio.Semaphore) -> None:
        """Read alone every number seen in one listing only; forget those that are gone."""
        no_voice, no_number = join.orphans()
        if join.repeats or no_voice or no_number:
            log.warning(
                "[%s] the listings shifted while they were read (%d repeated, %d read alone)",
                self.account,
                join.repeats,
                len(no_voice) + len(no_number),
            )
        try:
            await settle_orphans(
                join,
                lambda path: self._bounded(gate, lambda: self._get(path, missing_ok=True)),
                numbers=NUMBERS,
            )
        except Unusable as exc:
            raise self._unusable(f"{NUMBERS}/{{id}}", exc) from None

    def _joined(self, join: Join, path: str) -> list[LiveNumber]:
        try:
            return join.result()
        except Unusable as exc:
            raise self._unusable(path, exc) from None

    def _unusable(self, path: str, exc: Unusable) -> CarrierDataError:
        return CarrierDataError(str(exc), account=self.account, method="GET", path=path, status=200)

    async def fetch(self, ids: Sequence[str]) -> list[LiveNumber]:
        """Re-read ``ids``: per number (2 GETs each) when that is fewer requests than both
        listings, else the listings filtered. Ids the carrier no longer has are left out."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        if self._pages is None:
            probe = await self._get(NUMBERS, {**NUMBERS_QUERY, "page[size]": 1})
            total = PageInfo.of(probe).total_results
            self._pages = None if total is None else -(-total // PAGE_SIZE)
        if self._pages is None or len(wanted) > self._pages:
            keep = set(wanted)
            return [n for n in await self.fetch_all() if n.id in keep]
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(id_: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
            got = await asyncio.gather(
                self._bounded(gate, lambda: self._get(f"{NUMBERS}/{id_}", missing_ok=True)),
                self._bounded(gate, lambda: self._get(f"{NUMBERS}/{id_}/voice", missing_ok=True)),
            )
            return got[0].get("data"), got[1].get("data")

        join = Join()
        try:
            for number, voice in await asyncio.gather(*(one(i) for i in wanted)):
                if number is not None and voice is not None:
                    join.numbers_page({"data": [number]})
                    join.voice_page({"data": [voice]})
        except Unusable as exc:
            raise self._unusable(f"{NUMBERS}/{{id}}", exc) from None
        return self._joined(join, f"{NUMBERS}/{{id}}")

    async def _page(self, path: str, number: int) -> dict[str, Any]:
        query = NUMBERS_QUERY if path == NUMBERS else {}
        return await self._get(path, {**query, "page[number]": number, "page[size]": PAGE_SIZE})

    @staticmethod
    async def _bounded(gate: asyncio.Semaphore, work: Callable[[], Awaitable[T]]) -> T:
        """``work()`` holding a slot of ``gate`` through all its attempts: the key's ``Budget``
        is taken per attempt, so without this a read backing off would let another one through.
        The coroutine is made only once the slot is taken: one made before would be left never
        awaited when the wait is cancelled (another account failed)."""
        async with gate:
            return await work()

    # ---- applying
    async def apply(self, call: BulkCall) -> CallResult:
        if call.operation == MESSAGING.name:
            return await messaging.apply(self, call)
        kind = call.operation or UPDATE_JOB
        create = f"{JOBS}/{kind}"
        body = {"phone_numbers": list(call.ids), **job_body(call)}
        sent = Counter()
        deadline = self.clock.now() + self.config.job_timeout_s
        await self._note_watermark(sent, kind)
        job: dict[str, Any] | None = None
        unknown: list[str] = []
        while job is None:
            try:
                # 429 means the job was not created: the HTTP policy may send it again.
                response = await self.http.request(
                    "POST", create, json=body, retry_statuses=frozenset({429}), counter=sent
                )
                job = self._decode("POST", create, response).get("data")
                if not isinstance(job, dict) or "id" not in job:
                    raise self._bad_answer("POST", create, "a 2xx answer without a job")
            except PermissionError_ as exc:  # about this job's content: no key scopes here
                return CallResult(
                    call, CallStatus.FAILED, error=str(exc), requests=sent.n, cause=exc
                )
            except AccountFatal:
                raise
            except (RateLimitError, InvalidRequestError) as exc:
                retryable = isinstance(exc, RateLimitError) or CAP_DETAIL in exc.detail
                if not retryable or self.clock.now() >= deadline:
                    return CallResult(
                        call, CallStatus.FAILED, error=str(exc), requests=sent.n, cause=exc
                    )
                wait = exc.retry_after or self.config.poll_interval_s
                log.info("%s; job not created, retrying in %.1fs", exc, wait)
                await self.clock.sleep(min(wait, max(0.0, deadline - self.clock.now())))
            except (ServerError, TransportError) as exc:
                unknown.append(str(exc))
                log.warning("%s; looking for a job it may have created", exc)
                await self.clock.sleep(self.config.poll_interval_s)
                try:
                    job = await self._find_job(call, sent, kind)
                except AccountFatal:
                    raise
                except ProviderError as search_exc:
                    unknown.append(f"looking for the job: {search_exc}")
                    return unknown_outcome(call, unknown, sent.n)
                if job is None and len(unknown) >= 2:  # searched: no job of ours exists
                    return unknown_outcome(call, unknown, sent.n, searched=True)
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
        # The lag window opens at the first 404, not at creation: rate-limit waits may delay
        # the first poll past it. Once the job has been read, a 404 means it is gone.
        lag_until: float | None = None
        readable = False
        started = self.clock.now()
        while job.get("status") not in DONE:
            left = deadline - self.clock.now()
            if left <= 0:
                return settle(call, job, sent.n, gave_up_after=self.clock.now() - started)
            await self.clock.sleep(min(self.config.poll_interval_s, left))
            try:
                job = (await self._get(path, counter=sent))["data"]
                readable = True
            except AccountFatal:
                raise
            except NotFoundError as exc:
                if lag_until is None:
                    lag_until = self.clock.now() + JOB_READ_LAG_S
                if not readable and self.clock.now() < min(lag_until, deadline):
                    log.info(
                        "[%s] job %s not readable yet (%s); polling again",
                        self.account,
                        job_id,
                        exc,
                    )
                    continue
                return lost(call, job_id, exc, sent.n)
            except ProviderError as exc:
                return lost(call, job_id, exc, sent.n)
        return settle(call, job, sent.n)

    async def _note_watermark(self, sent: Counter, kind: str = UPDATE_JOB) -> None:
        """Once per provider and job type: remember the newest existing job, so adoption
        ignores old jobs."""
        async with self._watermark_lock:
            if kind in self._watermark:
                return
            body = await self._get(JOBS, job_query(1, PAGE_SIZE, kind), counter=sent)
            jobs = body.get("data") or []
            times = [t for t in (parse_time(j.get("created_at")) for j in jobs) if t is not None]
            self._watermark[kind] = (
                max(times) if times else None,
                frozenset(j.get("id") for j in jobs),
            )

    async def _find_job(
        self, call: BulkCall, sent: Counter, kind: str = UPDATE_JOB
    ) -> dict[str, Any] | None:
        """Our job if the carrier created it although we got no answer: one created since this
        provider's watermark (jobs of earlier runs are never adopted) that no other call of
        ours has claimed."""
        since, seen = self._watermark.get(kind) or (None, frozenset())
        job = await self._search(
            call.ids, call.patch, skip=seen | self._claimed, since=since, counter=sent, kind=kind
        )
        if job is not None:
            log.warning("adopting job %s created by a request that got no answer", job["id"])
        return job

    async def _search(
        self,
        ids: Sequence[str],
        patch: Mapping[str, Any],
        *,
        skip: Collection[str],
        since: datetime | None = None,
        counter: Counter | None = None,
        kind: str = UPDATE_JOB,
    ) -> dict[str, Any] | None:
        """The newest job of type ``kind`` that ``jobs.matches`` these ids and patch, among the
        first ``JOB_SEARCH_PAGES`` pages of the jobs list (newest first), not in ``skip`` and
        created no earlier than ``since``."""
        canonical = self.config.carrier.canonical
        for page in range(1, JOB_SEARCH_PAGES + 1):
            found = await self._get(JOBS, job_query(page, PAGE_SIZE, kind), counter=counter)
            for job in found.get("data") or []:
                created = parse_time(job.get("created_at")) if isinstance(job, dict) else None
                if since is not None and created is not None and created < since:
                    return None  # older than the watermark: stop looking
                if matches(job, ids, patch, canonical) and job.get("id") not in skip:
                    return dict(job)
            info = PageInfo.of(found)
            if info.ends(page, info):
                break
        return None

    # ---- jobs of earlier runs (pending-job awareness, the journal)
    async def pending_work(self, ids: Collection[str] | None) -> list[PendingJob]:
        """Pending and in-progress jobs of both types this client creates (update and
        emergency; touching ``ids`` when given), every page. Messaging orders cannot be listed
        (the carrier documents no listing): the journal is their only guard."""
        wanted = None if ids is None else set(ids)

        async def live(kind: str) -> list[PendingJob]:
            found: list[PendingJob] = []
            for page in range(1, LIVE_JOB_PAGES + 1):  # at most 20 live: one page in practice
                body = await self._get(JOBS, live_job_query(page, PAGE_SIZE, kind))
                for job in body.get("data") or []:
                    mine = [i for i in job_ids(job) if wanted is None or i in wanted]
                    if mine and job.get("status") in PendingJob.live:
                        found.append(_pending(job, mine, kind))
                info = PageInfo.of(body)
                if info.ends(page, info):
                    break
            return found

        # Both types at once: one round trip, not two, before (or beside) the read.
        return [j for kind in await asyncio.gather(*map(live, JOB_TYPES)) for j in kind]

    async def ended_jobs(self, started: float) -> list[PendingJob] | None:
        """Update and emergency jobs that ended since ``started`` (``jobs.ended_since``)."""

        async def get(params: dict[str, Any]) -> tuple[dict[str, Any], list[str], float]:
            response = await self.http.request("GET", JOBS, params=params)
            body = self._decode("GET", JOBS, response)
            return body, response.headers.get_list("date"), self.clock.now()

        found = await asyncio.gather(
            *(ended_since(get, kind, started, PAGE_SIZE) for kind in JOB_TYPES)
        )
        if any(jobs is None for jobs in found):
            return None
        return [
            _pending(job, job_ids(job), kind)
            for kind, jobs in zip(JOB_TYPES, found, strict=True)
            for job in jobs or ()
        ]

    async def find_job(
        self, ids: Sequence[str], patch: dict[str, Any], job_id: str | None
    ) -> PendingJob | None:
        """By id when the earlier run learnt it; else the newest job ``jobs.matches`` finds for
        these ids and patch (its POST got no answer), not claimed by a call of this run."""
        kind = self._kind_of(patch)
        if kind == MESSAGING.name:  # orders: by id only (no listing to search)
            return await messaging.find(self, ids, job_id) if job_id else None
        if job_id:
            job = (await self._get(f"{JOBS}/{job_id}", missing_ok=True)).get("data")
            return _pending(job, job_ids(job), kind) if isinstance(job, dict) else None
        found = await self._search(ids, patch, skip=self._claimed, kind=kind)
        return None if found is None else _pending(found, job_ids(found), kind)

    def unsettled(self, number: LiveNumber, fields: Collection[str]) -> tuple[str, bool] | None:
        """Emergency settings are final once ``emergency_status`` leaves provisioning or
        deprovisioning (it moves after the job completes); ``provisioning-failed`` is a
        per-number failure with that reason."""
        if not any(f in EMERGENCY.fields for f in fields):
            return None
        status = number.settings.get(EMERGENCY_STATUS)
        if status in ("provisioning", "deprovisioning"):
            return f"emergency_status still {status}", False
        if status == "provisioning-failed":
            return "emergency provisioning failed (emergency_status provisioning-failed)", True
        return None

    def _kind_of(self, patch: Mapping[str, Any]) -> str:
        """The operation a (journal's) patch was sent by: its fields belong to one."""
        first = next(iter(patch), None)
        if first is None:
            return UPDATE_JOB
        return self.config.carrier.operation_of(first).name

    async def follow(self, call: BulkCall, job_id: str) -> CallResult:
        """Poll a job (or messaging order) an earlier run created until it ends or
        ``job_timeout_s`` runs out."""
        if call.operation == MESSAGING.name:
            return await messaging.follow(self, call, job_id)
        sent = Counter()
        deadline = self.clock.now() + self.config.job_timeout_s
        self._claimed.add(job_id)
        try:
            job = (await self._get(f"{JOBS}/{job_id}", counter=sent))["data"]
        except AccountFatal:
            raise
        except ProviderError as exc:
            return lost(call, job_id, exc, sent.n)
        return await self._poll(call, job, deadline, sent)

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


def _pending(job: dict[str, Any], ids: list[str], kind: str = UPDATE_JOB) -> PendingJob:
    return PendingJob(
        str(job.get("id")),
        str(job.get("status")),
        tuple(ids),
        flat_parameters(job.get("parameters")),
        None if kind == UPDATE_JOB else kind,
    )


def job_body(call: BulkCall) -> dict[str, Any]:
    """A job's body besides ``phone_numbers``. Emergency jobs: ``emergency_enabled`` always
    (the planner sends it: ``Operation.always_sent``), the address only when enabling (the
    carrier requires it then and wants it null or absent when disabling)."""
    if call.operation != EMERGENCY.name:
        return unflatten(call.patch)
    enabled = call.patch.get("emergency_enabled")
    body: dict[str, Any] = {"emergency_enabled": enabled}
    if enabled:
        body["emergency_address_id"] = call.patch.get("emergency_address_id") or None
    return body


__all__ = [
    "SETTING_PATHS",
    "TelnyxProvider",
    "describe",
    "number_values",
    "voice_values",
]
