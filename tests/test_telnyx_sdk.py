"""Telnyx's official Python SDK (PyPI ``telnyx``, a client no one here wrote) against the
simulator served on loopback, with strict response validation: every body must parse into the
SDK's own models, so a field the simulator forgot or mistyped fails here."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import telnyx

from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox
from reconciler.sandbox import telnyx as sim
from reconciler.sandbox.serve import served

VIP = "+13127367200"


@pytest.fixture
def requests() -> list[str]:
    return []


@pytest.fixture
def client(sandbox: Sandbox, requests: list[str]) -> Iterator[telnyx.Telnyx]:
    """The SDK on the served sandbox; ``requests`` records each request line it sends."""

    def log(request: httpx.Request) -> None:
        requests.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")

    with (
        served(sandbox) as url,
        httpx.Client(timeout=10.0, event_hooks={"request": [log]}) as http,
        telnyx.Telnyx(
            api_key=sim.DEFAULT_KEY,
            base_url=url + sim.MOUNT,
            max_retries=0,
            http_client=http,
            _strict_response_validation=True,
        ) as sdk,
    ):
        yield sdk


def test_sdk_auto_pages_both_listings(client: telnyx.Telnyx, requests: list[str]) -> None:
    numbers = list(client.phone_numbers.list(page_size=20))
    assert len(numbers) == 46 and len(requests) == 3  # pages 1..3 from meta.total_pages
    assert "page%5Bnumber%5D=3" in requests[-1] or "page[number]=3" in requests[-1]
    vip = numbers[0]
    assert (vip.phone_number, vip.status, vip.tags, vip.deletion_lock_enabled) == (
        VIP,
        "active",
        ["support", "chicago", "vip"],
        False,
    )
    assert vip.created_at.year == 2025  # parsed as a datetime
    settings = list(client.phone_numbers.voice.list(page_size=20))
    assert [v.id for v in settings] == [n.id for n in numbers]
    assert settings[0].cnam_listing is not None
    assert settings[0].cnam_listing.cnam_listing_details == "ACME Help Line"
    fax = list(client.phone_numbers.list(filter={"tag": "fax"}, page_size=250))
    assert {n.phone_number for n in fax} == {f"+1303555910{i}" for i in range(10)}


def test_sdk_reads_and_patches_one_number(client: telnyx.Telnyx) -> None:
    [vip] = list(client.phone_numbers.list(filter={"phone_number": "13127367200"}))
    assert client.phone_numbers.retrieve(vip.id).data.hd_voice_enabled is True  # type: ignore[union-attr]
    voice = client.phone_numbers.voice.retrieve(vip.id).data
    assert voice is not None and voice.usage_payment_method == "pay-per-minute"
    updated = client.phone_numbers.update(vip.id, tags=["a", "b"], customer_reference="r")
    assert updated.data is not None and updated.data.tags == ["a", "b"]
    voice_updated = client.phone_numbers.voice.update(vip.id, tech_prefix_enabled=True)
    assert voice_updated.data is not None and voice_updated.data.tech_prefix_enabled is True


def test_sdk_creates_lists_and_retrieves_a_job(client: telnyx.Telnyx, clock: FakeClock) -> None:
    denver = list(client.phone_numbers.list(filter={"tag": "fax"}))
    created = client.phone_numbers.jobs.update_batch(
        phone_numbers=[n.id for n in denver[:2]],
        tags=["fax", "sdk"],
        voice={"call_forwarding": {"forwards_to": "+13035559123", "forwarding_type": "always"}},
    ).data
    assert created is not None and created.id is not None
    assert (created.status, created.type, len(created.pending_operations or [])) == (
        "pending",
        "update_phone_numbers",
        2,
    )
    assert created.etc is not None and created.etc.isoformat() == "2026-01-01T00:00:01+00:00"
    assert created.parameters is not None and created.parameters.tags == ["fax", "sdk"]

    clock.advance(1.0)
    done = client.phone_numbers.jobs.retrieve(created.id).data
    assert done is not None and done.status == "completed"
    assert {op.id for op in done.successful_operations or []} == {n.id for n in denver[:2]}
    listed = list(client.phone_numbers.jobs.list(filter={"type": "update_phone_numbers"}))
    assert [j.id for j in listed] == [created.id]
    after = client.phone_numbers.voice.retrieve(denver[0].id).data
    assert after is not None and after.call_forwarding is not None
    assert (after.call_forwarding.forwards_to, after.call_forwarding.call_forwarding_enabled) == (
        "+13035559123",
        True,
    )


def test_sdk_sees_the_documented_errors(client: telnyx.Telnyx, sandbox: Sandbox) -> None:
    with pytest.raises(telnyx.UnprocessableEntityError, match="You must own every number"):
        client.phone_numbers.jobs.update_batch(phone_numbers=["1000000000000000000"], tags=["x"])
    with pytest.raises(telnyx.NotFoundError):
        client.phone_numbers.jobs.retrieve("6f1c3c8e-0000-4000-8000-000000000000")
    with pytest.raises(telnyx.AuthenticationError):
        client.with_options(api_key="KEYwrong").phone_numbers.list()
    sandbox.store.set_knob("telnyx.keys", ["KEYsandbox_telnyx_second"])
    sandbox.store.set_knob("telnyx.rate_limit", 1)  # per key: the second key's window is fresh
    second = client.with_options(api_key="KEYsandbox_telnyx_second")
    second.phone_numbers.jobs.list()
    with pytest.raises(telnyx.RateLimitError):
        second.phone_numbers.jobs.list()
