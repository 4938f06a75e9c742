"""Shared test helpers: providers built through the public seam, on the in-process sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from reconciler import carriers
from reconciler.clock import Clock
from reconciler.config import ProviderConfig
from reconciler.providers import SANDBOX_ORIGIN, Provider, open_provider


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def sandbox_transport(sandbox: Any) -> httpx.AsyncBaseTransport:
    """The in-process transport to a sandbox (wrap it to spy on or alter requests)."""
    return httpx.ASGITransport(app=sandbox.app)


def sandbox_provider(
    sandbox: Any,
    carrier: str,
    *,
    account: str | None = None,
    key: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    **config: Any,
) -> Provider:
    """A provider of ``carrier`` on ``sandbox`` (its documented key unless ``key``), built with
    the public ``open_provider(..., transport=)``."""
    import importlib

    sim = importlib.import_module(carriers.get(carrier).simulator or "")
    cfg = ProviderConfig.model_validate({"type": carrier, "sandbox": True, **config})
    return open_provider(
        account or f"{carrier}-main",
        cfg,
        api_key=key or sim.DEFAULT_KEY,
        base_url=SANDBOX_ORIGIN + sim.MOUNT,
        transport=transport or sandbox_transport(sandbox),
        clock=clock,
    )


@contextmanager
def provider_factory(
    sandbox: Any, carrier: str, clock: Clock, account: str | None = None
) -> Iterator[Callable[..., Any]]:
    """``make(key=None, transport=None, **config)`` → providers closed when the block ends."""
    made: list[Provider] = []

    def build(
        key: str | None = None, transport: httpx.AsyncBaseTransport | None = None, **config: Any
    ) -> Any:
        provider = sandbox_provider(
            sandbox, carrier, account=account, key=key, transport=transport, clock=clock, **config
        )
        made.append(provider)
        return provider

    yield build
    for provider in made:
        run(provider.aclose())
