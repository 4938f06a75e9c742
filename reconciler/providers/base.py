"""The provider seam: everything carrier-specific lives behind these few methods.

A provider reads an account's numbers into canonical ``LiveNumber`` values and applies one
``BulkCall`` (the same flat patch to ≤ ``max_batch`` ids). The core (planner, applier, render)
never sees HTTP. Carrier errors are translated here into the ``ProviderError`` family
(``reconciler.errors``), with the account, method and path in the message and never the key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import httpx

from ..clock import Clock
from ..config import DEFAULT_MAX_IDS, ProviderConfig
from ..models import LiveNumber, field_paths
from ..plan import BulkCall
from .http import make_client


@dataclass
class CallResult:
    """What one bulk call did. ``failed`` maps id → carrier error text for numbers that failed;
    every id of the call not in ``failed`` succeeded. ``error`` is set when the whole call failed
    (nothing applied, or unknown outcome — see ``outcome_unknown``)."""

    call: BulkCall
    status: str  # "ok" | "partial" | "failed"
    failed: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    job_id: str | None = None
    outcome_unknown: bool = False
    requests: int = 1


class Provider(ABC):
    carrier: ClassVar[str]
    DEFAULT_BASE_URL: ClassVar[str]
    job_based: ClassVar[bool] = False
    max_concurrent_calls: ClassVar[int] = 4

    def __init__(
        self,
        account: str,
        config: ProviderConfig,
        *,
        base_url: str,
        api_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.account = account
        self.config = config
        self.clock = clock or Clock()
        self.max_batch = config.max_ids_per_call or DEFAULT_MAX_IDS[self.carrier]
        self.settable_fields = frozenset(field_paths(self.carrier))
        self._base_url = base_url
        self._api_key = api_key
        self._transport = transport
        self.requests_sent = 0
        self.on_progress: Callable[[str, int, int], None] | None = None
        """Called as listing pages arrive: (account, pages read, pages in all). For the CLI."""
        self._pages_read = 0
        self._client: httpx.AsyncClient | None = None

    @property
    def http_concurrency(self) -> int:
        """Connections the HTTP client may hold open (enough for reads and calls in flight)."""
        return self.config.concurrency

    @property
    def http(self) -> httpx.AsyncClient:
        """The account's HTTP client, built on first use by the one factory (``http.py``)."""
        if self._client is None:
            self._client = make_client(
                self._base_url,
                self._api_key,
                transport=self._transport,
                concurrency=self.http_concurrency,
            )
        return self._client

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
        """Run one bulk call to the end (for job carriers: create the job and poll it)."""

    async def aclose(self) -> None:
        """Release the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
