"""The one place an httpx client is made. Keys go into a header and nowhere else."""

from __future__ import annotations

import httpx

from .. import __version__

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def make_client(
    base_url: str,
    api_key: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    concurrency: int = 8,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"reconciler/{__version__}",
        },
        transport=transport,
        timeout=timeout,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )
