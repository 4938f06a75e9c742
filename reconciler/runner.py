"""Wiring shared by the commands: open the accounts' providers, read live state, plan, apply.

The CLI calls these; tests and the benchmark call them too, so every entry point runs the same
path a user runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .applier import ApplyReport, apply_plan
from .clock import Clock
from .errors import ConfigError, ConfigIssue
from .gcpause import gc_paused
from .loader import DesiredState
from .models import LiveNumber
from .plan import Plan
from .planner import make_plan
from .providers import Provider, open_account


@asynccontextmanager
async def open_accounts(
    state: DesiredState,
    *,
    accounts: Iterable[str] | None = None,
    clock: Clock | None = None,
    sandbox: Any = None,
    sandbox_path: str | Path | None = None,
    transports: Mapping[str, Any] | None = None,
) -> AsyncIterator[dict[str, Provider]]:
    """Providers for the named accounts (default: every account with numbers entries).

    The embedded sandbox is opened only if an account uses it; pass ``sandbox`` to share one.
    ``transports`` (account → ``httpx`` transport) replaces the network for those accounts.
    Accounts sharing an API key and base URL share one request budget.
    """
    names = sorted(accounts if accounts is not None else state.rules)
    issues = []
    for name in names:
        account = state.accounts[name]
        for var in account.missing_env:
            file, _, line = account.source.rpartition(":")
            issues.append(
                ConfigIssue(
                    file,
                    int(line) if line.isdigit() else None,
                    f"providers.{name}: environment variable {var} is not set or empty; export "
                    "it (the key never goes in the YAML)",
                )
            )
    if issues:
        raise ConfigError(issues)
    own_sandbox = None
    if sandbox is None and any(
        state.accounts[n].config.sandbox and not state.accounts[n].config.base_url for n in names
    ):
        from .sandbox import Sandbox

        sandbox = own_sandbox = Sandbox.open(sandbox_path)
    budgets: dict[Any, Any] = {}
    providers: dict[str, Provider] = {}
    try:
        for n in names:
            account = state.accounts[n]
            providers[n] = open_account(
                n,
                account.config,
                account.source,
                sandbox=sandbox,
                transport=(transports or {}).get(n),
                clock=clock,
                budgets=budgets,
            )
    except BaseException:
        for p in providers.values():
            await p.aclose()
        if own_sandbox is not None:
            own_sandbox.close()
        raise
    try:
        yield providers
    finally:
        for p in providers.values():
            await p.aclose()
        if own_sandbox is not None:
            own_sandbox.close()


async def fetch_current(providers: Mapping[str, Provider]) -> dict[str, list[LiveNumber]]:
    """Every account's live numbers, accounts read concurrently."""
    names = list(providers)
    lists = await asyncio.gather(*(providers[n].fetch_all() for n in names))
    return dict(zip(names, lists, strict=True))


async def plan_accounts(
    state: DesiredState, providers: Mapping[str, Provider], meta: dict[str, Any] | None = None
) -> Plan:
    with gc_paused():
        current = await fetch_current(providers)
        limits = {name: p.max_batch for name, p in providers.items()}
        return make_plan(state, current, limits=limits, meta=meta)


async def apply(
    plan: Plan,
    providers: Mapping[str, Provider],
    *,
    clock: Clock | None = None,
    record: Any = None,
    on_call_done: Any = None,
) -> ApplyReport:
    return await apply_plan(plan, providers, clock=clock, record=record, on_call_done=on_call_done)
