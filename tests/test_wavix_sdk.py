"""Wavix's official Python SDK (wavix-python-sdk, a client no one here wrote) against the
simulator served on loopback: if the SDK can read and bulk-update, the simulator speaks Wavix."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from wavix import NumberDestination, Wavix
from wavix.errors import ForbiddenError, NotFoundError, UnauthorizedError

from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox
from reconciler.sandbox import wavix as sim
from reconciler.sandbox.serve import served


@pytest.fixture
def base_url(sandbox: Sandbox) -> Iterator[str]:
    with served(sandbox) as url:
        yield url + sim.MOUNT


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """Our own httpx client for the SDK, so its sockets are closed when the test ends."""
    with httpx.Client(timeout=10.0) as http:
        yield http


def sdk(base_url: str, http: httpx.Client, key: str = sim.DEFAULT_KEY) -> Wavix:
    return Wavix(token=key, base_url=base_url, max_retries=0, httpx_client=http)


def test_sdk_lists_gets_and_bulk_updates(
    base_url: str, http: httpx.Client, clock: FakeClock
) -> None:
    wavix = sdk(base_url, http)

    page = wavix.numbers.list(page=2, per_page=50)
    assert (page.pagination.current_page, page.pagination.total, page.pagination.total_pages) == (
        2,
        60,
        2,
    )
    assert [n.id for n in page.items] == list(range(sim.FIRST_ID + 50, sim.FIRST_ID + 60))
    assert {d.name for d in page.doc_types} == {"id", "address", "localaddress"}

    number = wavix.numbers.get(sim.FIRST_ID)
    assert (number.number, number.label, number.transcription_threshold) == (
        "13135550100",
        "Detroit main line",
        45,
    )
    assert [d.transport for d in number.destination] == [1, 4]

    new_route = NumberDestination(destination="sip:sdk@pbx.example.com", priority=1, transport=1)
    updated = wavix.numbers.bulk_update(
        ids=[sim.FIRST_ID, sim.FIRST_ID + 1], destinations=[new_route], call_recording_enabled=False
    )
    assert [n.id for n in updated.items or []] == [sim.FIRST_ID, sim.FIRST_ID + 1]
    assert all(n.call_recording_enabled is False for n in updated.items or [])

    clock.advance(sim.DEFAULT_ASYNC_DELAY_S + 0.1)  # destinations land asynchronously
    for id_ in (sim.FIRST_ID, sim.FIRST_ID + 1):
        assert [d.destination for d in wavix.numbers.get(id_).destination] == [
            "sip:sdk@pbx.example.com"
        ]


def test_sdk_sees_the_carrier_errors(base_url: str, http: httpx.Client) -> None:
    with pytest.raises(ForbiddenError) as forbidden:
        sdk(base_url, http, sim.READONLY_KEY).numbers.bulk_update(
            ids=[sim.FIRST_ID], sms_enabled=False
        )
    assert forbidden.value.status_code == 403
    assert "numbers:write" in str(forbidden.value.body)

    with pytest.raises(UnauthorizedError):
        sdk(base_url, http, "wvx_wrong").numbers.list()
    with pytest.raises(NotFoundError):
        sdk(base_url, http).numbers.bulk_update(ids=[sim.FIRST_ID, 999], sms_enabled=False)
    assert sdk(base_url, http).numbers.get(sim.FIRST_ID).sms_enabled is True  # nothing was applied
