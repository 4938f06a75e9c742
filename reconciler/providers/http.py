"""The one HTTP policy every provider sends through.

A provider says only what is carrier-specific (how its error bodies read, which header tells when
a rate window resets); this module does the rest, the same way for every carrier:

* **the client**: one ``httpx.AsyncClient`` per account, the key in one header and nowhere else;
  GETs (listing pages, job polls) go through ``wire.Wire`` (``http.client`` in a thread pool, a
  fifth of httpx's CPU per request) unless a transport was injected (tests, the embedded
  sandbox), a proxy variable applies to the base URL, or ``RECONCILER_HTTP=httpx``
  (``wire_refused``); both senders answer ``httpx.Response``/``httpx.TransportError``, and
  everything below is the same for both;
* **retries**: idempotent requests (GET, and writes a provider declares idempotent, like Wavix's
  bulk PATCH) are retried on 408, 409, 429, any 5xx and transport errors, with exponential
  backoff and full jitter on the injected clock, honouring the carrier's hint (``Retry-After`` in
  seconds or as an HTTP date, Telnyx ``x-ratelimit-reset`` seconds, Wavix ``X-RateLimit-Reset``
  Unix time), bounded by ``attempts`` and by ``total_s`` of waiting; then a ``ProviderError``
  naming account, method and path. Non-idempotent requests are retried only on the statuses the
  caller names as "nothing was done" (Telnyx job creation on 429);
* **budget**: one ``Budget`` per API key bounds requests in flight and, when configured,
  requests per second, shared by reads, polls and calls of every account using that key; the
  bound adapts (AIMD) to the carrier's 429s and rate-limit headers, up to the account's
  ``concurrency`` (a ceiling); closing an account logs (INFO) what the window did and why;
* **secrets**: ``check_key`` refuses a key that cannot be sent in a header (control or non-ASCII
  characters) without echoing it, and ``Http.scrub`` removes the key, in any escaped form, from
  every message this module builds.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx

from .. import __version__
from ..carriers import RetryPolicy  # the carrier record holds its policy (issue 16)
from ..clock import Clock
from ..errors import (
    AuthError,
    ConfigError,
    InvalidRequestError,
    NotFoundError,
    PermissionError_,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)

if TYPE_CHECKING:
    from .wire import Wire

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
"""Methods retried by default; a provider marks other requests idempotent per call."""
_SPENT = httpx.ByteStream(b"")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
"""RFC 3986 path characters (and ``%``, so an encoded path stays as it is)."""


def parse_retry_after(value: str | None, wall_now: float) -> float | None:
    """``Retry-After``: delta seconds or an HTTP date → seconds from now (≥ 0), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - wall_now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def reset_seconds(value: str | None) -> float | None:
    """A rate-limit reset header given in seconds from now (Telnyx ``x-ratelimit-reset``)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return max(0.0, seconds) if seconds is not None and seconds == seconds else None


def reset_epoch(value: str | None, wall_now: float) -> float | None:
    """A rate-limit reset header given as a Unix timestamp (Wavix ``X-RateLimit-Reset``)."""
    try:
        when = float(value) if value else None
    except ValueError:
        return None
    return max(0.0, when - wall_now) if when is not None and when == when else None


SENDER_ENV = "RECONCILER_HTTP"
"""``httpx``: every request through httpx (the escape hatch); unset or ``auto``: GETs through
the wire when ``wire_refused`` finds no reason against it."""


def wire_refused(
    base_url: str,
    transport: httpx.AsyncBaseTransport | None,
    environ: Any = os.environ,
) -> str | None:
    """Why GETs to ``base_url`` must go through httpx rather than the wire, or None.

    A proxy applies when ``HTTP_PROXY``/``HTTPS_PROXY`` (the URL's scheme) or ``ALL_PROXY`` is
    set, unless ``NO_PROXY`` is ``*``, as httpx reads them; httpx then honours them (and any
    other ``NO_PROXY`` entry) itself. ``environ`` is for tests; proxies are read from
    ``os.environ`` by ``urllib.request.getproxies`` as httpx does."""
    choice = environ.get(SENDER_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "httpx"):
        raise ConfigError(
            f"{SENDER_ENV}={environ.get(SENDER_ENV)!r}: expected httpx (every request through "
            "httpx) or auto (the default); unset it or fix the value"
        )
    if choice == "httpx":
        return f"{SENDER_ENV}=httpx"
    if transport is not None:
        return "a transport was given"
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    if parts.username is not None or parts.query or parts.fragment:
        return "the base URL has user info, a query or a fragment"
    proxies = urllib.request.getproxies()
    no_proxy = [h.strip() for h in proxies.get("no", "").split(",")]
    if "*" not in no_proxy:
        for scheme in (parts.scheme, "all"):
            if proxies.get(scheme):
                return f"a proxy is configured for {scheme}:// ({scheme.upper()}_PROXY)"
    return None


RetryHint = Callable[[httpx.Response, float], float | None]
"""(response, wall-clock now) → seconds the carrier asked us to wait, or None."""


def retry_after_hint(response: httpx.Response, wall_now: float) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"), wall_now)


def check_key(key: str) -> str | None:
    """Why ``key`` cannot be sent as a bearer token (never quoting it), or None when it can."""
    if not key:
        return "the API key is empty"
    if key != key.strip():
        return "the API key has leading or trailing whitespace"
    if any(not (0x21 <= ord(c) <= 0x7E) for c in key):
        return "the API key contains control, space or non-ASCII characters"
    return None


START_WINDOW = 4
"""Requests in flight a key starts with before the carrier's answers show room for more."""


def rate_state(response: httpx.Response, wall_now: float) -> tuple[int | None, float | None]:
    """The carrier's rate-limit headers → (requests left in the window, seconds until it resets).

    Telnyx sends ``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (seconds) on every answer;
    a Wavix ``X-RateLimit-Reset`` is a Unix time (told apart by size: no window lasts 30 years).
    """
    headers = response.headers
    left = headers.get("x-ratelimit-remaining")
    try:
        remaining = max(0, int(left)) if left else None
    except ValueError:
        remaining = None
    raw = headers.get("x-ratelimit-reset")
    if remaining is None or not raw:
        return remaining, None
    seconds = reset_seconds(raw)
    if seconds is not None and seconds > 1e9:
        seconds = reset_epoch(raw, wall_now)
    return remaining, seconds


class Budget:
    """The request budget of one API key, shared by every account using it: a window of requests
    in flight that adapts to what the carrier says, and, when ``per_second`` is set, no more than
    that many started per second (a token bucket on the injected clock, one second's burst).

    The window starts at ``start`` (default ``START_WINDOW``) and never exceeds ``concurrency``
    (the account's ceiling). It grows while the requests it lets through fill it and the carrier
    shows room: by one per answer until the first back-off (slow start), then by one per
    window's worth of answers (additive increase). It halves (multiplicative decrease, at most
    once per round of requests) on a 429, or when ``x-ratelimit-remaining`` would run out within
    two rounds while the reset is further away than that. A carrier that sends no rate-limit
    headers (Wavix documents none) shows room by answering without 429.
    """

    def __init__(
        self,
        concurrency: int,
        per_second: float | None,
        clock: Clock,
        *,
        start: int = START_WINDOW,
    ) -> None:
        self.concurrency = concurrency
        self.per_second = per_second
        self.window = self.start = self.peak = max(1, min(concurrency, start))
        self.why = "no answer yet"
        """Why the window is what it is (the last reason it moved), for the verbose log."""
        self.cuts = 0
        self._inside = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._slow_start = True
        self._credit = 0.0
        self._issued = 0
        self._full: set[int] = set()  # tickets sent while the window was the limit
        self._cut_at = 0  # answers to tickets up to here belong to a round already cut
        self._latency: float | None = None
        self._clock = clock
        self._tokens = per_second or 0.0
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> int:
        """Wait for a slot → this request's ticket (hand it to ``observe``)."""
        if self._inside >= self.window or self._waiters:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif not waiter.cancelled():
                    self._inside -= 1  # handed a slot, then cancelled: give it back
                    self._wake()
                raise
        else:
            self._inside += 1
        if self.per_second:
            try:
                await self._take()
            except BaseException:
                self._release()
                raise
        self._issued += 1
        if self._inside >= self.window or self._waiters:
            self._full.add(self._issued)
        return self._issued

    async def __aexit__(self, *_: object) -> None:
        self._release()

    async def _take(self) -> None:
        rate = self.per_second or 1.0
        async with self._lock:
            while True:
                now = self._clock.now()
                if self._stamp is not None:
                    self._tokens = min(rate, self._tokens + (now - self._stamp) * rate)
                self._stamp = now
                if self._tokens >= 1.0 - 1e-9:  # float dust must not spin the loop
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                await self._clock.sleep(max((1.0 - self._tokens) / rate, 1e-3))

    def _release(self) -> None:
        self._inside -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._inside < self.window:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._inside += 1  # the slot passes to the waiter
                waiter.set_result(None)

    def observe(
        self,
        ticket: int,
        status: int,
        remaining: int | None = None,
        reset_s: float | None = None,
        elapsed: float = 0.0,
    ) -> None:
        """Adapt the window to one answer (``ticket`` from entering the budget)."""
        full = ticket in self._full
        self._full.discard(ticket)
        if elapsed > 0:
            self._latency = (
                elapsed if self._latency is None else 0.8 * self._latency + 0.2 * elapsed
            )
        if status == 429:
            self._cut(ticket, "the carrier answered 429")
            return
        if status >= 400:
            return
        if remaining is None or reset_s is None:
            if remaining is None and reset_s is None:
                self._grow(full, "answers without 429 (no rate-limit headers)")
            return
        rounds_left = remaining / self.window
        rounds_to_reset = reset_s / max(self._latency or 0.0, 1e-3)
        if remaining <= 0 or (rounds_left < 2 and rounds_to_reset > rounds_left):
            self._cut(ticket, f"x-ratelimit-remaining {remaining} with the reset {reset_s:g}s away")
        elif remaining / (self.window + 1) >= min(4.0, rounds_to_reset):
            self._grow(full, "the rate limit showed room")

    def _grow(self, full: bool, why: str) -> None:
        if not full or self.window >= self.concurrency:
            return  # an unused window proves nothing; the ceiling is the account's
        if self._slow_start:
            self.window += 1
        else:
            self._credit += 1.0 / self.window
            if self._credit < 1.0:
                return
            self._credit -= 1.0
            self.window += 1
        self.peak = max(self.peak, self.window)
        self.why = why
        self._wake()

    def _cut(self, ticket: int, why: str) -> None:
        if ticket <= self._cut_at:
            return  # sent before the last cut: that round was already answered for
        self._cut_at = self._issued
        self._slow_start = False
        self._credit = 0.0
        self.window = max(1, self.window // 2)
        self.cuts += 1
        self.why = f"backed off: {why}"

    def describe(self) -> str:
        """What the window did, in words: "up to 16 requests in flight (ramped from 4: …)"."""
        if self.peak > self.start:
            how = (
                f"ramped from {self.start}: {self.why}"
                if not self.cuts
                else (f"ramped from {self.start}, {self.why}, now {self.window}")
            )
        elif self.cuts:
            how = f"{self.why}, now {self.window}"
        elif self.start >= self.concurrency:
            how = "the ceiling from the start"
        else:
            how = "the window was never full" if self.why == "no answer yet" else self.why
        return (
            f"up to {self.peak} requests in flight ({how}; ceiling concurrency={self.concurrency})"
        )


@dataclass
class Counter:
    """Requests sent on behalf of one piece of work (e.g. ``CallResult.requests``)."""

    n: int = 0


ErrorText = Callable[[httpx.Response], str]
"""The carrier's error body → one line of text (its own shape)."""


@dataclass
class Http:
    """One account's HTTP: the client, the retry policy, the key's budget, error translation.

    Providers call ``request``; it returns a 2xx ``httpx.Response`` or raises the matching
    ``ProviderError`` (every message scrubbed of the key).
    """

    account: str
    base_url: str
    api_key: str
    clock: Clock
    budget: Budget
    transport: httpx.AsyncBaseTransport | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    error_text: ErrorText | None = None
    retry_hint: RetryHint = retry_after_hint
    key_hint: str = "the account's api_key"
    connections: int = 8
    rng: random.Random = field(default_factory=random.Random)
    requests_sent: int = 0
    _client: httpx.AsyncClient | None = None
    _wire: Wire | None = None
    _wire_refused: str | None = None
    _headers: dict[str, str] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """What every request carries: the key (checked first), Accept, User-Agent."""
        if self._headers is None:
            why = check_key(self.api_key)
            if why:  # never let an HTTP library echo a key it cannot encode
                raise ConfigError(f"[{self.account}] {why}; the key was not sent")
            self._headers = {
                "Authorization": f"Bearer {self.api_key}",
                "Accept": "application/json",
                "User-Agent": f"reconciler/{__version__}",
            }
        return self._headers

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self.headers,
                transport=self.transport,
                timeout=DEFAULT_TIMEOUT,
                limits=httpx.Limits(
                    max_connections=self.connections, max_keepalive_connections=self.connections
                ),
            )
        return self._client

    @property
    def wire(self) -> Wire | None:
        """The GET sender on ``http.client``, or None when ``wire_refused`` says httpx."""
        if self._wire is None and self._wire_refused is None:
            why = wire_refused(self.base_url, self.transport)
            if why is not None:
                self._wire_refused = why
                log.debug("[%s] every request through httpx: %s", self.account, why)
            else:
                from .wire import Wire  # only where a GET goes out on the network

                self._wire = Wire(
                    self.base_url, connections=self.connections, timeout=DEFAULT_TIMEOUT
                )
                log.debug("[%s] GETs through http.client, the rest through httpx", self.account)
        return self._wire

    async def _send(
        self, method: str, path: str, params: dict[str, Any] | None, json: Any
    ) -> httpx.Response:
        """One attempt through the wire (GETs it takes) or httpx (the rest): the answer, or an
        ``httpx.TransportError``."""
        if method == "GET" and json is None:
            headers = self.headers  # the key is checked before any sender sees it
            wire = self.wire
            if wire is not None:
                target = wire.target(path, params)
                if target is not None:
                    return await wire.send(method, target, headers)
        return await self.client.request(method, path, params=params, json=json)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        retry_statuses: frozenset[int] = frozenset(),
        counter: Counter | None = None,
    ) -> httpx.Response:
        """Send under the budget, retrying as the policy allows; 2xx → the response.

        ``idempotent`` (default: by method) allows retries on every retryable outcome;
        otherwise only the statuses in ``retry_statuses`` (answers that mean nothing was done)
        are retried, and a transport error raises at once (the outcome is unknown).
        """
        retry_all = method in IDEMPOTENT if idempotent is None else idempotent
        # Paths carry ids the carrier sent: characters a URL cannot hold are percent-encoded
        # (the carrier then answers for that id), never an InvalidURL traceback.
        path = quote(path, safe=_PATH_SAFE)
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            if counter is not None:
                counter.n += 1
            try:
                async with self.budget as ticket:
                    started = self.clock.now()
                    response = await self._send(method, path, params, json)
            except httpx.TransportError as exc:
                why = type(exc).__name__
                if retry_all:
                    delay = self._delay(attempt, waited, None)
                    if delay is not None:
                        waited += await self._wait(delay, method, path, why)
                        continue
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise TransportError(
                    self.scrub(
                        f"no response{tries} ({why}: {exc}); check the network and base_url"
                    ),
                    account=self.account,
                    method=method,
                    path=path,
                ) from None
            status = response.status_code
            remaining, reset = rate_state(response, self.clock.wall())
            self.budget.observe(ticket, status, remaining, reset, self.clock.now() - started)
            if status < 400:
                # The body is read: drop httpx's stream, which refers back to the response. That
                # cycle kept every page of a read alive while the collector is paused (gcpause).
                response.stream = _SPENT
                return response
            if retry_all and self.policy.retryable(status) or status in retry_statuses:
                hint = self.retry_hint(response, self.clock.wall())
                # A 429 without a hint says only "not now" (Wavix documents no rate headers):
                # nothing was done and probing is cheap, so only the time budget bounds it.
                paced = status == 429 and hint is None
                delay = self._delay(attempt, waited, hint, by_time_only=paced)
                if delay is not None:
                    waited += await self._wait(delay, method, path, str(status))
                    continue
            raise self.error(method, path, response, attempts=attempt)

    def _delay(
        self, attempt: int, waited: float, hint: float | None, *, by_time_only: bool = False
    ) -> float | None:
        """The next wait, or None when the attempts or the time budget are spent."""
        if attempt >= self.policy.attempts and not by_time_only:
            return None
        delay = hint if hint is not None else self.policy.backoff(attempt, self.rng)
        if waited + delay > self.policy.total_s:
            return None
        return delay

    async def _wait(self, delay: float, method: str, path: str, why: str) -> float:
        log.info("[%s] %s %s → %s; retrying in %.2fs", self.account, method, path, why, delay)
        await self.clock.sleep(delay)
        return delay

    def error(
        self, method: str, path: str, response: httpx.Response, *, attempts: int = 1
    ) -> ProviderError:
        """A non-2xx answer → the matching ``ProviderError`` (scrubbed)."""
        status = response.status_code
        said = self.scrub(self.error_text(response) if self.error_text else _plain_text(response))
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        cls: type[ProviderError]
        if status == 401:
            cls, message = AuthError, f"the API key was rejected ({said}); check {self.key_hint}"
        elif status == 403:
            cls, message = PermissionError_, f"forbidden: {said}"
        elif status == 404:
            cls, message = NotFoundError, f"not found: {said}"
        elif status == 429:
            cls, message = RateLimitError, f"rate limited{tries}: {said}; try again later"
        elif status >= 500:
            cls, message = ServerError, f"carrier server error{tries}: {said}"
        elif status in (400, 409, 422):
            cls, message = InvalidRequestError, f"the carrier rejected the request: {said}"
        else:
            cls, message = ProviderError, f"unexpected answer{tries}: {said}"
        error = cls(
            message, account=self.account, method=method, path=path, status=status, detail=said
        )
        error.retry_after = self.retry_hint(response, self.clock.wall())
        return error

    def scrub(self, text: str) -> str:
        """``text`` without the key, in plain, repr-escaped or JSON-escaped form."""
        return scrub(text, self.api_key)

    async def aclose(self) -> None:
        if self._client is not None or self._wire is not None:
            log.info("[%s] read with %s", self.account, self.budget.describe())
        if self._wire is not None:
            await self._wire.aclose()
            self._wire = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def scrub(text: str, key: str) -> str:
    if not key:
        return text
    forms = {key, repr(key)[1:-1], key.encode("unicode_escape").decode("ascii", "replace")}
    try:
        forms.add(key.encode("utf-8").decode("latin-1"))
    except UnicodeError:  # pragma: no cover
        pass
    for form in sorted(forms, key=len, reverse=True):
        if form:
            text = text.replace(form, "***")
    return text


def _plain_text(response: httpx.Response) -> str:
    text = response.text[:200].strip()
    return text or response.reason_phrase or f"HTTP {response.status_code}"
