"""The HTTP side of a provider: ``HttpProvider`` builds the account's ``Http`` (retries, backoff,
rate hints, the key's request budget, error translation, key scrubbing) so a carrier's provider
only says what is carrier-specific.

The seam itself (``Provider``, ``CallResult``, ``CallStatus``, ``PendingJob``, ``AccountFatal``,
``LiveNumber``) lives in the core, ``reconciler.seam``, with the contract of ``apply``; those
types are re-exported here so ``from reconciler.providers.base import CallResult`` keeps working.
Here (and in ``reconciler.providers``) the name ``Provider`` is kept for compatibility as an alias
of ``HttpProvider``, the class a carrier's provider subclasses; the core annotates with
``reconciler.seam.Provider``, the interface ``HttpProvider`` implements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from .. import seam
from ..clock import Clock
from ..config import ProviderConfig
from ..seam import AccountFatal, CallResult, CallStatus, LiveNumber, PendingJob
from .http import Budget, Http, retry_after_hint
from .open import open_account


class HttpProvider(seam.Provider):
    """A provider whose carrier speaks HTTP: every request goes through ``self.http``, built
    with the carrier record's ``retry_policy``."""

    @classmethod
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
    ) -> seam.Provider:
        """The provider of a configured account (``providers/open.py``: key, base URL, the
        embedded sandbox, a budget shared by accounts using the same key)."""
        return open_account(
            name, config, source, sandbox=sandbox, transport=transport, clock=clock, budgets=budgets
        )

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
            policy=config.carrier.retry_policy,
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

    def _page_read(self, total: int, *, first: bool = False) -> None:
        """Providers call this once per listing page they have read."""
        self._pages_read = 1 if first else self._pages_read + 1
        if self.on_progress is not None:
            self.on_progress(self.account, self._pages_read, total)

    async def aclose(self) -> None:
        """Release the HTTP client."""
        await self.http.aclose()


Provider = HttpProvider  # compatibility: what carriers' providers subclass

__all__ = [
    "AccountFatal",
    "CallResult",
    "CallStatus",
    "HttpProvider",
    "LiveNumber",
    "PendingJob",
    "Provider",
]
