"""Opening a configured account: the key (only a ``sandbox: true`` account may go without one),
the base URL, for the embedded sandbox the in-process transport, and a request budget shared by
accounts using the same key. ``HttpProvider.open`` (what ``carriers.open_account`` calls) comes
here; a real account never imports the simulator, nor does one talking to a served sandbox
(``base_url``): the carrier record names its key and mount.

``open_provider`` builds a provider from explicit connection facts (tests and embedders pass a
``transport=``, e.g. ``httpx.MockTransport``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import httpx

from .. import seam
from ..clock import Clock
from ..config import ProviderConfig
from ..errors import ConfigError, ConfigIssue
from .http import Budget, check_key

if TYPE_CHECKING:
    from ..carriers import Carrier
    from .base import HttpProvider

SANDBOX_ORIGIN = "http://sandbox.invalid"
"""Base of in-process sandbox URLs; never resolved (the ASGI transport handles every request)."""


def open_provider(
    account: str,
    config: ProviderConfig,
    *,
    api_key: str,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    budget: Budget | None = None,
) -> seam.Provider:
    """The provider of one account. ``base_url`` defaults to the carrier's public API;
    ``transport`` replaces the network (``httpx.ASGITransport``, ``httpx.MockTransport``)."""
    carrier = config.carrier
    url = (base_url or config.base_url or carrier.default_base_url).rstrip("/")
    cls = cast("type[HttpProvider]", carrier.provider_class)
    return cls(
        account,
        config,
        base_url=url,
        api_key=api_key,
        transport=transport,
        clock=clock,
        budget=budget,
    )


def open_account(
    name: str,
    config: ProviderConfig,
    source: str,
    *,
    sandbox: Any = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    budgets: dict[tuple[str, str], Budget] | None = None,
) -> seam.Provider:
    """The provider of a configured account; ``source`` ("file:line") locates config errors.

    ``sandbox`` (a ``reconciler.sandbox.Sandbox``) serves a ``sandbox: true`` account without
    ``base_url``. ``budgets`` shares one request budget between accounts using the same key.
    """
    carrier = config.carrier
    file, _, line = source.rpartition(":")

    def problem(message: str) -> ConfigError:
        return ConfigError(ConfigIssue(file, int(line) if line.isdigit() else None, message))

    simulated = bool(config.sandbox)
    if simulated and carrier.simulator is None:
        raise problem(
            f"providers.{name}: sandbox: true, but carrier {carrier.name} has no simulator"
        )
    if config.api_key is not None:
        key = config.api_key.get_secret_value()
        why = check_key(key)
        if why:
            raise problem(
                f"providers.{name}.api_key: {why}; export the variable its ${{...}} names "
                "with the key exactly as the carrier issued it"
            )
    elif simulated:
        key = carrier.sandbox_key or _simulator(carrier).DEFAULT_KEY
    else:
        raise problem(
            f"providers.{name}: no api_key; add api_key: ${{{carrier.key_env}}} and export "
            f"{carrier.key_env} (or set sandbox: true to use the simulator)"
        )
    if config.base_url:
        base_url = config.base_url
        example = (
            f"http://127.0.0.1:8765{_mount(carrier)}"  # a served sandbox
            if simulated
            else carrier.default_base_url
        )
        why = _url_problem(base_url, example)
        if why:
            raise problem(f"providers.{name}.base_url: {why}")
    elif simulated:
        if sandbox is None:
            raise problem(f"providers.{name}: sandbox requested but none is open")
        transport = transport or httpx.ASGITransport(app=sandbox.app)
        base_url = SANDBOX_ORIGIN + _mount(carrier)
    else:
        base_url = carrier.default_base_url
    budget = None
    if budgets is not None:
        slot = (base_url.rstrip("/"), hashlib.sha256(key.encode()).hexdigest())
        if slot not in budgets:
            budgets[slot] = Budget(config.concurrency, config.requests_per_second, clock or Clock())
        budget = budgets[slot]
    return open_provider(
        name,
        config,
        api_key=key,
        base_url=base_url,
        transport=transport,
        clock=clock,
        budget=budget,
    )


def _url_problem(url: str, example: str) -> str | None:
    """Why ``url`` is not a usable http(s) base URL (without echoing more than 80 chars)."""
    shown = url if len(url) <= 80 else url[:77] + "..."
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        return f"{shown!r} is not a valid URL ({str(exc)[:80]}); write e.g. https://host:port/path"
    if parts.scheme not in ("http", "https") or not host:
        return f"{shown!r} is not an absolute http(s) URL; write e.g. {example}"
    if port is not None and not 0 < port < 65536:  # pragma: no cover - urlsplit checks this
        return f"{shown!r}: port out of range"
    return None


def _mount(carrier: Carrier) -> str:
    """Where ``sandbox serve`` mounts the simulator (the record says, else its package)."""
    return carrier.sandbox_mount or str(_simulator(carrier).MOUNT)


def _simulator(carrier: Carrier) -> Any:
    module = carrier.simulator_module
    assert module is not None  # checked by the caller: sandbox: true needs a simulator
    return module
