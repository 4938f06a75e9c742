"""Shared test helpers: providers built through the public seam, on the in-process sandbox."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result
from conftest import EXAMPLE

from reconciler import carriers
from reconciler.cli import main
from reconciler.clock import Clock
from reconciler.config import ProviderConfig
from reconciler.desired import DesiredState
from reconciler.providers import SANDBOX_ORIGIN, Provider, open_account, open_provider


def run(coro: Any) -> Any:
    """Run ``coro`` on a fresh event loop: only for sync code that cannot be async (hypothesis
    examples, click commands); tests await instead."""
    return asyncio.run(coro)


def cli(
    db: Path, *args: Any, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """``reconciler *args`` in-process on the sandbox file ``db``, without colour (``env`` adds
    to that environment)."""
    return CliRunner().invoke(
        main,
        [str(a) for a in args],
        input=input,
        env={"RECONCILER_SANDBOX_DB": str(db), "NO_COLOR": "1", **(env or {})},
        catch_exceptions=False,
    )


def example_copy(tmp_path: Path, **account: Any) -> Path:
    """The shipped example copied to ``tmp_path/desired-state``, with ``account`` settings (e.g.
    ``poll_interval_s=0.05``) added to every sandbox account of providers.yaml."""
    dest = tmp_path / "desired-state"
    shutil.copytree(EXAMPLE, dest)
    providers = dest / "providers.yaml"
    extra = "".join(f"\n    {key}: {value}" for key, value in account.items())
    providers.write_text(
        providers.read_text().replace("    sandbox: true", "    sandbox: true" + extra)
    )
    return dest


def fast_sandbox_db(tmp_path: Path) -> Path:
    """A sandbox database whose asynchronous carrier work settles in 0.05 s (CLI tests)."""
    from reconciler.sandbox import Sandbox

    path = tmp_path / "sandbox.sqlite3"
    sb = Sandbox.open(path)
    sb.store.set_knob("wavix.async_delay_s", 0.05)
    sb.store.set_knob("telnyx.job_pending_s", 0.05)
    sb.store.set_knob("telnyx.job_run_s", 0.05)
    sb.close()
    return path


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


def state_provider(state: DesiredState, account: str, sandbox: Any, clock: Clock) -> Provider:
    """The provider of ``account`` of a loaded desired state, opened on ``sandbox`` the way the
    CLI opens it (``open_account`` with the account's config and file:line); the caller closes
    it."""
    entry = state.accounts[account]
    return open_account(account, entry.config, entry.source, sandbox=sandbox, clock=clock)


class _Factory:
    """Builds providers of one carrier on one sandbox and remembers them to close them."""

    def __init__(self, sandbox: Any, carrier: str, clock: Clock, account: str | None) -> None:
        self.sandbox, self.carrier, self.clock, self.account = sandbox, carrier, clock, account
        self.made: list[Provider] = []

    def build(
        self,
        key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **config: Any,
    ) -> Any:
        provider = sandbox_provider(
            self.sandbox,
            self.carrier,
            account=self.account,
            key=key,
            transport=transport,
            clock=self.clock,
            **config,
        )
        self.made.append(provider)
        return provider

    async def aclose(self) -> None:
        for provider in self.made:
            await provider.aclose()


@asynccontextmanager
async def aprovider_factory(
    sandbox: Any, carrier: str, clock: Clock, account: str | None = None
) -> AsyncIterator[Callable[..., Any]]:
    """``make(key=None, transport=None, **config)`` → providers closed (awaited, on the test's
    own event loop) when the block ends. For async fixtures::

        @pytest.fixture
        async def make(sandbox, clock):
            async with aprovider_factory(sandbox, "wavix", clock) as build:
                yield build
    """
    factory = _Factory(sandbox, carrier, clock, account)
    try:
        yield factory.build
    finally:
        await factory.aclose()


@contextmanager
def provider_factory(
    sandbox: Any, carrier: str, clock: Clock, account: str | None = None
) -> Iterator[Callable[..., Any]]:
    """The sync form of :func:`aprovider_factory` for sync tests: providers are closed on a
    fresh event loop when the block ends."""
    factory = _Factory(sandbox, carrier, clock, account)
    try:
        yield factory.build
    finally:
        run(factory.aclose())
