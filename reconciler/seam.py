"""The provider seam: the types the core and every carrier's provider share.

Everything carrier-specific lives behind these few methods.

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
  unchanged numbers after verify (not those of a call it marked ``refused``, e.g. a bisected
  refusal). A refusal (bad value, not owned, a Wavix bisected refusal) is never in ``retry``.
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

from .clock import Clock
from .config import ProviderConfig
from .errors import AuthError, PermissionError_
from .models import LiveNumber
from .plan import BulkCall

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
    refused: bool = False
    """The carrier refused the call for its content (Wavix: a 4xx, bisected to name the refused
    numbers): its failed numbers include refused ones, never sent again in this run (only ids
    in ``retry``). Set by the provider, so the applier never reads an HTTP status."""

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
    operation: str | None = None
    """The carrier operation the job is (``carriers.Operation.name``; None: the primary one)."""

    live: ClassVar[tuple[str, ...]] = ("pending", "in_progress")
    """The statuses of a job that has not finished (a provider maps its carrier's to these):
    the only place they are spelled out."""


class Provider(ABC):
    """What the core (planner, applier, journal, pending) asks of one account's provider.

    ``reconciler.providers.base.HttpProvider`` implements the HTTP side (retries, budget, key
    scrubbing) for carriers that speak HTTP; the core only sees this interface."""

    account: str
    config: ProviderConfig
    clock: Clock
    max_batch: int
    on_progress: Callable[[str, int, int], None] | None
    """Called as listing pages arrive: (account, pages read, pages in all). For the CLI."""

    @classmethod
    @abstractmethod
    def open(
        cls,
        name: str,
        config: ProviderConfig,
        source: str,
        *,
        sandbox: Any = None,
        transport: Any = None,
        clock: Any = None,
        budgets: dict[Any, Any] | None = None,
    ) -> Provider:
        """The provider of the configured account ``name`` (``source``, "file:line", locates
        configuration errors); ``carriers.open_account`` calls this."""

    # The carrier's name and capabilities, read from its record (``carriers.Carrier``), where
    # they are stated once.
    @property
    def carrier(self) -> str:
        return self.config.type

    @property
    def job_based(self) -> bool:
        return self.config.carrier.job_based

    @property
    def max_concurrent_calls(self) -> int:
        return self.config.carrier.max_concurrent_calls

    @property
    def async_fields(self) -> frozenset[str]:
        return self.config.carrier.async_fields

    @property
    @abstractmethod
    def requests_sent(self) -> int:
        """Requests sent so far (every attempt counts)."""

    def verify_wait_s(self, fields: Iterable[str]) -> float:
        """How long verify waits for these changed fields of one number to show."""
        return self.config.verify_timeout_s

    def unsettled(self, number: LiveNumber, fields: Collection[str]) -> tuple[str, bool] | None:
        """A re-read number shows its new values for ``fields``; are they final? None: yes.
        Else (reason, failed): ``failed`` the carrier says they will not take effect (verify
        reports the reason), otherwise it is still working on them (verify keeps waiting;
        Telnyx: ``emergency_status`` provisioning)."""
        return None

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

    async def ended_jobs(self, started: float) -> list[PendingJob] | None:
        """The account's jobs that ended since ``started`` (``clock.now()`` taken before the
        read's first request), asked beside the read (``pending.beside``): their numbers may be
        stale in it. None: the carrier's answer cannot tell (the whole read is re-done).
        Carriers without jobs: nothing can end."""
        return []

    async def find_job(
        self, ids: Sequence[str], patch: dict[str, Any], job_id: str | None
    ) -> PendingJob | None:
        """The job an earlier run created for this call (by id, else by its content), if any."""
        return None

    async def follow(self, call: BulkCall, job_id: str) -> CallResult:
        """Wait for an existing job (one an earlier run created) and read its outcome."""
        raise NotImplementedError(f"{self.carrier} has no jobs")

    @abstractmethod
    async def aclose(self) -> None:
        """Release what the provider holds (its HTTP client)."""


__all__ = [
    "AccountFatal",
    "CallResult",
    "CallStatus",
    "LiveNumber",
    "PendingJob",
    "Provider",
]
