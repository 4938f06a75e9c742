"""The provider seam: everything carrier-specific lives behind these few methods.

A provider reads an account's numbers into canonical ``LiveNumber`` values and applies one
``BulkCall`` (the same flat patch to ≤ ``max_batch`` ids). The core (planner, applier, render)
never sees HTTP. Every request goes through the account's ``Http`` (``http.py``: retries,
backoff, rate hints, the key's request budget, error translation, key scrubbing); a provider
only says what is carrier-specific.

The contract of ``apply`` (one contract for every carrier):

* It **returns** a ``CallResult`` for everything that concerns one call: the call succeeded
  (``CallStatus.OK``); some numbers failed (``PARTIAL``, with a reason per failed id); the whole
  call failed (``FAILED``, with ``error`` and a reason per id) because the carrier refused it,
  kept failing after the HTTP policy's retries, or never answered (then ``outcome_unknown`` is
  true: the change may have landed; verify decides).
* ``CallResult.retry`` names the failed ids that are safe to send again with the same patch in
  the same run. On a result whose outcome is known: numbers the carrier did not change and whose
  failure it calls transient (Telnyx: a job's failed operation with a "try again" code, or a job
  ``failed``/``expired`` before it processed them); the applier sends them once more right away
  (``applier.FOLLOW_UP_ROUNDS``). On an ``outcome_unknown`` result: ids of a call the provider
  looked for and found nothing of (Telnyx: no job in the jobs list); the applier re-sends them
  only after verify shows them unchanged and a fresh ``find_job`` finds nothing. Idempotent
  carriers (not ``job_based``) need not mark unanswered calls: the applier may re-send their
  unchanged numbers after verify (not those of a refused, bisected call). A refusal (bad value,
  not owned, a Wavix bisected refusal) is never in ``retry``.
* It **raises** only ``AccountFatal`` errors (``AuthError``: the key was rejected;
  ``PermissionError_`` meaning the key lacks a scope). These concern the whole account: the
  applier stops sending that account's remaining calls and goes on with other accounts.
  A 403 about one field of one call (e.g. a billing group the account does not own) is a call
  failure, not account-fatal: the provider returns it as ``FAILED``.

``fetch_all`` and ``fetch`` raise a ``ProviderError`` when the account cannot be read (after the
policy's retries); nothing is planned or verified from a partial read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from ..clock import Clock
from ..config import ProviderConfig
from ..errors import AuthError, PermissionError_
from ..models import LiveNumber
from ..plan import BulkCall
from .http import Budget, Http, RetryPolicy, retry_after_hint

AccountFatal = (AuthError, PermissionError_)
"""The only errors ``Provider.apply`` raises; they stop the account's remaining calls."""


class CallStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


@dataclass
class CallResult:
    """What one bulk call did. ``failed`` maps id → carrier reason for numbers that failed;
    every id of the call not in ``failed`` succeeded (unless ``status`` is ``FAILED``, when none
    did or the outcome is unknown). ``error`` says why the whole call failed."""

    call: BulkCall
    status: CallStatus
    failed: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    job_id: str | None = None
    outcome_unknown: bool = False
    requests: int = 1
    cause: Exception | None = field(default=None, repr=False, compare=False)
    """The ``ProviderError`` behind a failed call, when there was one (for logs and tests)."""
    retry: frozenset[str] = frozenset()
    """Ids of ``failed`` safe to send again in this run with the same patch (module docstring)."""

    def __post_init__(self) -> None:
        self.status = CallStatus(self.status)
        if self.status is CallStatus.FAILED:
            reason = self.error or "call failed"
            for id_ in self.call.ids:
                self.failed.setdefault(id_, reason)


@dataclass(frozen=True)
class PendingJob:
    """A carrier job of this account that has not finished (``Provider.pending_work``).
    ``patch`` is flat like a ``BulkCall``'s; None when the carrier kept no parameters."""

    job_id: str
    status: str
    ids: tuple[str, ...]
    patch: dict[str, Any] | None


class Provider(ABC):
    carrier: ClassVar[str]
    job_based: ClassVar[bool] = False
    max_concurrent_calls: ClassVar[int] = 4
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()
    async_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields the carrier applies after the call answers: verify may wait longer for them
    (``verify_wait_s``) and reports them "not visible yet" rather than "still differs"."""

    def __init__(
        self,
        account: str,
        config: ProviderConfig,
        *,
        base_url: str,
        api_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.account = account
        self.config = config
        self.clock = clock or Clock()
        self.max_batch = config.max_batch
        self.http = Http(
            account=account,
            base_url=base_url,
            api_key=api_key,
            clock=self.clock,
            budget=budget or Budget(config.concurrency, config.requests_per_second, self.clock),
            transport=transport,
            policy=self.retry_policy,
            error_text=self.error_text,
            retry_hint=self.retry_hint,
            key_hint=config.key_hint,  # the variable this account's api_key names
            connections=self.http_concurrency,
        )
        self.on_progress: Callable[[str, int, int], None] | None = None
        """Called as listing pages arrive: (account, pages read, pages in all). For the CLI."""
        self._pages_read = 0

    @property
    def requests_sent(self) -> int:
        """Requests sent so far (every attempt counts); tests reset it to 0 between steps."""
        return self.http.requests_sent

    @requests_sent.setter
    def requests_sent(self, value: int) -> None:
        self.http.requests_sent = value

    @property
    def http_concurrency(self) -> int:
        """Connections the HTTP client may hold open (enough for reads and calls in flight)."""
        return self.config.concurrency

    @staticmethod
    def error_text(response: httpx.Response) -> str:
        """The carrier's error body → one line (override for the carrier's own shape)."""
        return response.text[:200].strip() or response.reason_phrase

    @staticmethod
    def retry_hint(response: httpx.Response, wall_now: float) -> float | None:
        """Seconds the carrier asked us to wait before retrying (override per carrier)."""
        return retry_after_hint(response, wall_now)

    def verify_wait_s(self, fields: Iterable[str]) -> float:
        """How long verify waits for these changed fields of one number to show."""
        return self.config.verify_timeout_s

    def _page_read(self, total: int, *, first: bool = False) -> None:
        """Providers call this once per listing page they have read."""
        self._pages_read = 1 if first else self._pages_read + 1
        if self.on_progress is not None:
            self.on_progress(self.account, self._pages_read, total)

    @abstractmethod
    async def fetch_all(self) -> list[LiveNumber]:
        """Every number of the account, canonical, in a deterministic order."""

    @abstractmethod
    async def fetch(self, ids: Sequence[str]) -> list[LiveNumber]:
        """The given numbers, re-read from the carrier (used to verify an apply)."""

    @abstractmethod
    async def apply(self, call: BulkCall) -> CallResult:
        """Run one bulk call to the end (for job carriers: create the job and poll it).
        See the module docstring for what returns and what raises."""

    async def pending_work(self, ids: Collection[str] | None) -> list[PendingJob]:
        """The account's unfinished jobs (touching ``ids`` when given; see ``pending.py``)."""
        return []

    async def find_job(
        self, ids: Sequence[str], patch: dict[str, Any], job_id: str | None
    ) -> PendingJob | None:
        """The job an earlier run created for this call (by id, else by its content), if any."""
        return None

    async def follow(self, call: BulkCall, job_id: str) -> CallResult:
        """Wait for an existing job (one an earlier run created) and read its outcome."""
        raise NotImplementedError(f"{self.carrier} has no jobs")

    async def aclose(self) -> None:
        """Release the HTTP client."""
        await self.http.aclose()
