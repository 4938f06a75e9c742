"""Carrier providers, registered in a plain dict by carrier type."""

from __future__ import annotations

import os

import httpx

from ..clock import Clock
from ..config import ProviderConfig
from ..errors import ConfigError
from .base import CallResult, Provider
from .telnyx import TelnyxProvider
from .wavix import WavixProvider

PROVIDERS: dict[str, type[Provider]] = {"wavix": WavixProvider, "telnyx": TelnyxProvider}

SANDBOX_ORIGIN = "http://sandbox.invalid"
"""Base of in-process sandbox URLs; never resolved (the ASGI transport handles every request)."""


def open_provider(
    account: str,
    config: ProviderConfig,
    *,
    sandbox: object | None = None,
    clock: Clock | None = None,
) -> Provider:
    """Build the provider for one account. ``sandbox`` (a ``reconciler.sandbox.Sandbox``) is
    required when ``config.sandbox`` is true and no ``base_url`` is set."""
    from ..sandbox import SIMULATORS

    cls = PROVIDERS[config.type]
    sim = SIMULATORS[config.type]
    transport: httpx.AsyncBaseTransport | None = None
    if config.base_url:
        base_url = config.base_url.rstrip("/")
    elif config.sandbox:
        if sandbox is None:
            raise ConfigError(f"providers.{account}: sandbox requested but none is open")
        transport = httpx.ASGITransport(app=sandbox.app)  # type: ignore[attr-defined]
        base_url = SANDBOX_ORIGIN + sim.MOUNT
    else:
        base_url = cls.DEFAULT_BASE_URL
    if config.api_key is not None:
        api_key = config.api_key.get_secret_value()
    elif config.sandbox or (config.base_url and _is_loopback(config.base_url)):
        api_key = sim.DEFAULT_KEY
    else:
        env = f"{config.type.upper()}_API_KEY"
        api_key = os.environ.get(env, "")
        if not api_key:
            raise ConfigError(
                f"providers.{account}: no api_key; set api_key: ${{{env}}} and export {env}"
            )
    return cls(account, config, base_url=base_url, api_key=api_key, transport=transport, clock=clock)


def _is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    return host in ("localhost", "::1") or host.startswith("127.")


__all__ = ["PROVIDERS", "CallResult", "Provider", "open_provider"]
