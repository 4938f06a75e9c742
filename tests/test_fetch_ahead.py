"""The opening wave of a listing read asks for a few pages before the total is known. Pages
beyond the total are dropped unread even if the carrier refuses them; a refused page within the
total is an error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers import sandbox_provider, sandbox_transport

from reconciler.clock import FakeClock
from reconciler.errors import InvalidRequestError
from reconciler.sandbox import Sandbox
from reconciler.sandbox import telnyx as telnyx_sim
from reconciler.sandbox import wavix as wavix_sim

PAGE_PARAM = {"wavix": "page", "telnyx": "page[number]"}


class RefuseLaterPages(httpx.AsyncBaseTransport):
    """Answers 400 to listing pages ≥ 2, as a carrier might for pages past the end."""

    def __init__(self, inner: httpx.AsyncBaseTransport, param: str) -> None:
        self.inner, self.param, self.refused = inner, param, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page = request.url.params.get(self.param)
        if request.method == "GET" and page is not None and int(page) >= 2:
            self.refused += 1
            return httpx.Response(400, json={"success": False, "message": "invalid page"})
        return await self.inner.handle_async_request(request)


async def fetch(sandbox: Sandbox, clock: FakeClock, carrier: str) -> tuple[Any, RefuseLaterPages]:
    spy = RefuseLaterPages(sandbox_transport(sandbox), PAGE_PARAM[carrier])
    provider = sandbox_provider(sandbox, carrier, account="acct", transport=spy, clock=clock)
    try:
        return await provider.fetch_all(), spy
    finally:
        await provider.aclose()


@pytest.mark.parametrize("carrier,count", [("wavix", 60), ("telnyx", 46)])
async def test_refused_pages_beyond_the_total_are_ignored(
    sandbox: Sandbox, clock: FakeClock, carrier: str, count: int
) -> None:
    numbers, spy = await fetch(sandbox, clock, carrier)
    assert len(numbers) == count
    assert spy.refused > 0  # the opening wave did ask beyond the single page


@pytest.mark.parametrize("carrier", ["wavix", "telnyx"])
async def test_a_refused_page_within_the_total_is_an_error(
    sandbox: Sandbox, clock: FakeClock, carrier: str
) -> None:
    if carrier == "wavix":
        wavix_sim.seed_synthetic(sandbox.store, 150)  # 210 numbers: 3 pages
    else:
        sandbox.store.set_knob("telnyx.rate_limit", 0)
        telnyx_sim.seed_synthetic(sandbox.store, 300, prefix="1415")  # 346: 2 pages
    with pytest.raises(InvalidRequestError):
        await fetch(sandbox, clock, carrier)
