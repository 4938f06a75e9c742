"""TelnyxProvider against the in-process simulator: the two-listing join, jobs on the fake
clock, partial and lost outcomes, errors, and the contract of every exchange."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from conftest import EXAMPLE, spec_path
from contract import ContractTransport
from helpers import aprovider_factory

from reconciler import errors
from reconciler.carriers import field_paths
from reconciler.clock import FakeClock
from reconciler.config import ProviderConfig
from reconciler.loader import load
from reconciler.plan import BulkCall
from reconciler.planner import plan_account
from reconciler.providers import open_account
from reconciler.providers.telnyx import TelnyxProvider
from reconciler.sandbox import Sandbox
from reconciler.sandbox import telnyx as sim

ACCOUNT = "telnyx-main"
BASE = "http://sandbox.invalid/telnyx/v2"
CANARY = "KEYcanary_9d41e7b2_SECRET"  # a key we can search every message for
JOB = "/phone_numbers/jobs/update_phone_numbers"
VIP, DENVER_FIRST = "+13127367200", "+13035559100"

Make = Callable[..., TelnyxProvider]


@pytest.fixture
async def make(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Make]:
    """``make(key=DEFAULT_KEY, transport=None, **config)`` → a provider on the sandbox."""
    async with aprovider_factory(sandbox, "telnyx", clock, ACCOUNT) as build:
        yield build


@pytest.fixture
async def seed_ids(make: Make) -> dict[str, str]:
    """e164 → id of the seed."""
    return {n.e164: n.id for n in await make().fetch_all()}


def job_call(*ids: str, **patch: Any) -> BulkCall:
    return BulkCall(ACCOUNT, "telnyx", patch, tuple(ids))


async def post_job(sandbox: Sandbox, body: dict[str, Any]) -> None:
    """Create a job directly (someone else's, as far as the provider knows)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app), base_url=BASE
    ) as client:
        response = await client.post(
            JOB, json=body, headers={"Authorization": f"Bearer {sim.DEFAULT_KEY}"}
        )
        assert response.status_code == 202


def jobs_in(sandbox: Sandbox) -> list[tuple[str, str]]:
    rows = sandbox.store.conn.execute("SELECT id, status FROM telnyx_jobs ORDER BY seq")
    return [(r[0], r[1]) for r in rows]


class Spy(httpx.AsyncBaseTransport):
    """Forwards to ``inner``; records requests, in-flight peak, and can replace answers."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        fault: Callable[[httpx.Request], Exception | int | httpx.Response | None] | None = None,
    ) -> None:
        self.inner, self.fault = inner, fault
        self.requests: list[tuple[str, str]] = []
        self.in_flight = self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path.removeprefix("/telnyx/v2")))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0)  # let concurrent requests overlap
            response = await self.inner.handle_async_request(request)
            fault = self.fault(request) if self.fault else None
            if isinstance(fault, Exception):
                raise fault
            if isinstance(fault, int):  # the carrier acted, the answer is replaced
                fault = httpx.Response(fault, json={"errors": [{"code": "10007"}]})
            if isinstance(fault, httpx.Response):
                await response.aread()
                return fault
            return response
        finally:
            self.in_flight -= 1


# ---- reading


async def test_fetch_all_joins_both_listings(make: Make) -> None:
    provider = make()
    numbers = await provider.fetch_all()
    assert len(numbers) == 46
    # One page of each listing; the opening wave also asked for pages 2-4 of each (concurrency 8).
    assert provider.requests_sent == 8
    assert [n.e164 for n in numbers] == sorted(n.e164 for n in numbers)
    assert all(list(n.settings) == field_paths("telnyx") for n in numbers)
    by = {n.e164: n for n in numbers}
    vip = by[VIP].settings
    assert vip["tags"] == ["chicago", "support", "vip"]  # canonical: sorted set
    assert (vip["connection_id"], vip["hd_voice_enabled"], vip["external_pin"]) == (
        "1684641123236054244",
        True,
        None,
    )
    assert vip["voice.cnam_listing.cnam_listing_details"] == "ACME Help Line"
    assert vip["voice.call_forwarding.forwarding_type"] == "on-failure"
    assert vip["voice.inbound_call_screening"] == "flag_calls"
    # caller_id_name_enabled exists only on /phone_numbers, never in the voice listing
    assert vip["voice.caller_id_name_enabled"] is True
    assert by["+16505550104"].settings["voice.caller_id_name_enabled"] is True
    assert by[DENVER_FIRST].settings["voice.caller_id_name_enabled"] is False
    assert by[DENVER_FIRST].settings["voice.usage_payment_method"] == "channel"
    assert by["+16505550101"].settings["external_pin"] == "4417"
    assert [n.e164 for n in numbers if not n.patchable] == ["+13127367227", "+16505550105"]


async def test_fetch_all_pages_both_listings_concurrently_within_the_bound(
    make: Make, sandbox: Sandbox
) -> None:
    sim.seed_synthetic(sandbox.store, 1200, settings=sim.CHICAGO_SUPPORT)  # 5 pages of 250
    spy = Spy(httpx.ASGITransport(app=sandbox.app))
    provider = make(transport=spy, concurrency=3)
    numbers = await provider.fetch_all()
    assert len(numbers) == len({n.id for n in numbers}) == 1246
    assert sorted(spy.requests).count(("GET", "/phone_numbers")) == 5
    assert sorted(spy.requests).count(("GET", "/phone_numbers/voice")) == 5
    assert 1 < spy.peak <= 3
    clone = next(n for n in numbers if n.e164 == "+14152000000")
    assert clone.settings["voice.call_forwarding.forwards_to"] == "+13125550100"


async def test_fetch_ids_uses_single_gets_when_cheaper(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    spy = Spy(httpx.ASGITransport(app=sandbox.app))
    provider = make(transport=spy)
    await provider.fetch_all()  # 1 page per listing: learns the account is small
    spy.requests.clear()
    [vip] = await provider.fetch([seed_ids[VIP]])
    assert sorted(spy.requests) == [
        ("GET", f"/phone_numbers/{seed_ids[VIP]}"),
        ("GET", f"/phone_numbers/{seed_ids[VIP]}/voice"),
    ]
    assert vip.settings == next(n for n in await provider.fetch_all() if n.e164 == VIP).settings
    spy.requests.clear()
    two = await provider.fetch([seed_ids[VIP], seed_ids[DENVER_FIRST]])  # 4 GETs > 2 listings
    assert sorted(spy.requests) == [("GET", "/phone_numbers"), ("GET", "/phone_numbers/voice")]
    assert [n.e164 for n in two] == [DENVER_FIRST, VIP]
    assert await provider.fetch(["1000000000000000000"]) == []  # gone: left out


# ---- applying


async def test_apply_polls_on_the_fake_clock_until_completed(
    make: Make, sandbox: Sandbox, clock: FakeClock, seed_ids: dict[str, str]
) -> None:
    provider = make(poll_interval_s=0.25)
    ids = (seed_ids["+13127367203"], seed_ids["+13127367206"])
    started = time.monotonic()
    result = await provider.apply(
        job_call(*ids, tags=["chicago", "support"], **{"voice.caller_id_name_enabled": False})
    )
    assert time.monotonic() - started < 2  # never real time
    assert (result.status, result.failed, result.error, result.outcome_unknown) == (
        "ok",
        {},
        None,
        False,
    )
    assert clock.slept == [0.25, 0.25, 0.25, 0.25]  # pending 0.5 s + running 0.5 s
    assert result.job_id == jobs_in(sandbox)[0][0]
    assert result.requests == 6  # watermark + POST + 4 polls
    after = {n.id: n.settings for n in await provider.fetch(ids)}
    assert all(s["tags"] == ["chicago", "support"] for s in after.values())
    assert all(s["voice.caller_id_name_enabled"] is False for s in after.values())


async def test_apply_sends_the_explicit_ids_and_nested_patch(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    bodies: list[bytes] = []

    def record(request: httpx.Request) -> None:
        if request.method == "POST":
            bodies.append(request.content)

    provider = make(transport=Spy(httpx.ASGITransport(app=sandbox.app), fault=record))
    patch = {"voice.call_forwarding.forwards_to": "+13125550100", "hd_voice_enabled": True}
    await provider.apply(job_call(seed_ids["+13127367209"], **patch))
    assert json.loads(bodies[0]) == {
        "phone_numbers": [seed_ids["+13127367209"]],
        "hd_voice_enabled": True,
        "voice": {"call_forwarding": {"forwards_to": "+13125550100"}},
    }


async def test_partial_failure_names_each_number(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.fail_numbers", [DENVER_FIRST])
    ids = (seed_ids[DENVER_FIRST], seed_ids["+13035559101"])
    result = await make().apply(job_call(*ids, tags=["fax", "x"]))
    assert result.status == "partial"
    assert result.failed == {
        seed_ids[
            DENVER_FIRST
        ]: "10007 Unexpected error: The phone number could not be updated. Please try again."
    }
    after = {n.e164: n.settings["tags"] for n in await make().fetch(ids)}
    assert after == {DENVER_FIRST: ["fax"], "+13035559101": ["fax", "x"]}


async def test_expired_job_is_a_failed_call(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.expire_jobs", True)
    ids = (seed_ids[DENVER_FIRST], seed_ids["+13035559101"])
    result = await make().apply(job_call(*ids, tags=["x"]))
    assert result.status == "failed" and result.job_id
    assert "expired" in (result.error or "")
    assert set(result.failed) == set(ids)


async def test_job_timeout_gives_up_and_says_the_job_may_still_run(
    make: Make, sandbox: Sandbox, clock: FakeClock, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.job_pending_s", 3600)
    result = await make(job_timeout_s=5).apply(job_call(seed_ids[VIP], tags=["x"]))
    assert (result.status, result.outcome_unknown) == ("failed", True)
    # Said once, seconds rounded; the next run finds the live job and waits for it (issue 15).
    assert result.error == (
        f"job {result.job_id} still pending after 5 s: its numbers are held; the next run "
        "settles it"
    )
    assert sum(clock.slept) == pytest.approx(5)


async def test_lost_answer_to_the_post_adopts_the_job_instead_of_duplicating(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    earlier = await make().apply(job_call(seed_ids[VIP], tags=["x"]))  # same ids, an older job
    ids = (seed_ids[VIP],)
    spy = Spy(
        httpx.ASGITransport(app=sandbox.app), fault=lambda r: 502 if r.method == "POST" else None
    )
    provider = make(transport=spy)
    result = await provider.apply(job_call(*ids, tags=["x"]))
    assert [m for m, _ in spy.requests].count("POST") == 1  # never sent again
    assert result.status == "ok"
    all_jobs = jobs_in(sandbox)
    assert len(all_jobs) == 2  # the earlier run's job and exactly one new one
    assert result.job_id == all_jobs[1][0] != earlier.job_id


async def test_garbled_2xx_answer_to_the_post_is_an_unknown_outcome_too(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    proxy_page = httpx.Response(200, text="<html>upstream proxy</html>")
    spy = Spy(
        httpx.ASGITransport(app=sandbox.app),
        fault=lambda r: proxy_page if r.method == "POST" else None,
    )
    result = await make(transport=spy).apply(job_call(seed_ids[VIP], tags=["x"]))
    assert result.status == "ok"
    assert [job_id for job_id, _ in jobs_in(sandbox)] == [result.job_id]


async def test_lost_answer_via_the_fail_next_knob(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    provider = make()
    await provider.apply(job_call(seed_ids[DENVER_FIRST], tags=["a"]))  # notes the watermark
    sandbox.store.set_knob("telnyx.fail_next", [{"status": 502, "processed": True}])
    result = await provider.apply(job_call(seed_ids[VIP], tags=["b"]))
    assert result.status == "ok"
    assert len(jobs_in(sandbox)) == 2
    assert result.job_id == jobs_in(sandbox)[1][0]


async def test_job_not_created_by_a_5xx_is_posted_once_more(
    make: Make, sandbox: Sandbox, clock: FakeClock, seed_ids: dict[str, str]
) -> None:
    provider = make()
    await provider.apply(job_call(seed_ids[DENVER_FIRST], tags=["a"]))
    sandbox.store.set_knob("telnyx.fail_next", [503])  # refused before anything happened
    result = await provider.apply(job_call(seed_ids[VIP], tags=["b"]))
    assert result.status == "ok"
    assert len(jobs_in(sandbox)) == 2  # the search found nothing, the retry created it


async def test_outcome_unknown_when_every_post_is_lost(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    inner = httpx.ASGITransport(app=sandbox.app)

    class DropPosts(httpx.AsyncBaseTransport):  # the POST never reaches the carrier
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                raise httpx.ConnectError("connection refused")
            return await inner.handle_async_request(request)

    result = await make(transport=DropPosts()).apply(job_call(seed_ids[VIP], tags=["x"]))
    assert (result.status, result.outcome_unknown, result.job_id) == ("failed", True, None)
    assert "check GET /phone_numbers/jobs" in (result.error or "")
    assert set(result.failed) == {seed_ids[VIP]}
    assert jobs_in(sandbox) == []


async def test_429_and_the_job_cap_wait_and_retry(
    make: Make, sandbox: Sandbox, clock: FakeClock, seed_ids: dict[str, str]
) -> None:
    provider = make()
    await provider.apply(job_call(seed_ids[DENVER_FIRST], tags=["a"]))
    clock.slept.clear()
    sandbox.store.set_knob("telnyx.rate_limit", 100)
    sandbox.store.set_knob("telnyx.fail_next", [429])
    result = await provider.apply(job_call(seed_ids[VIP], tags=["b"]))
    assert result.status == "ok"
    assert clock.slept[0] == 59  # x-ratelimit-reset: the window opened 1 s (one poll) ago
    assert len(jobs_in(sandbox)) == 2

    for _ in range(20):
        await post_job(sandbox, {"phone_numbers": [seed_ids[VIP]], "tags": ["c"]})
    assert sum(1 for _, s in jobs_in(sandbox) if s == "pending") == 20
    clock.slept.clear()
    result = await provider.apply(job_call(seed_ids[VIP], tags=["d"]))
    assert result.status == "ok"
    assert clock.slept[0] == 1.0  # refused once by the cap, waited a poll interval
    assert len(jobs_in(sandbox)) == 23


async def test_refused_job_is_a_failed_call_with_the_carrier_reason(make: Make) -> None:
    result = await make().apply(job_call("1000000000000000000", tags=["x"]))
    assert result.status == "failed" and result.job_id is None
    assert result.error == (
        "[telnyx-main] POST /phone_numbers/jobs/update_phone_numbers → 422: "
        "the carrier rejected the request: You must own every number in the bulk request"
    )


async def test_gets_retry_5xx_with_backoff_on_the_clock(
    make: Make, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.fail_next", [500, 503])
    assert len(await make(concurrency=1).fetch_all()) == 46
    # Full jitter: waits drawn from [0, 0.5] then [0, 1.0], on the fake clock.
    assert len(clock.slept) == 2 and clock.slept[0] <= 0.5 and clock.slept[1] <= 1.0
    sandbox.store.set_knob("telnyx.fail_next", [500] * 5)
    with pytest.raises(errors.ServerError, match=r"GET /phone_numbers → 500: carrier server"):
        await make(concurrency=1).fetch_all()


# ---- errors and secrets


async def test_errors_are_translated_and_never_carry_the_key(
    make: Make, sandbox: Sandbox, caplog: pytest.LogCaptureFixture, seed_ids: dict[str, str]
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = make(key=CANARY)
    with pytest.raises(errors.AuthError) as auth:
        await bad.fetch_all()
    assert str(auth.value).startswith("[telnyx-main] GET /phone_numbers")
    assert "401" in str(auth.value) and "TELNYX_API_KEY" in str(auth.value)
    with pytest.raises(errors.AuthError):
        await bad.apply(job_call(seed_ids[VIP], tags=["x"]))

    class Refused(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError(f"refused {request.headers['authorization']}")

    with pytest.raises(errors.TransportError) as transport:
        await make(key=CANARY, transport=Refused()).fetch_all()
    assert transport.value.status is None and "***" in str(transport.value)
    sandbox.store.set_knob("telnyx.keys", [CANARY])
    sandbox.store.set_knob("telnyx.fail_next", [403])
    with pytest.raises(errors.PermissionError_):
        await make(key=CANARY).fetch_all()
    messages = [str(auth.value), str(transport.value), *(r.getMessage() for r in caplog.records)]
    assert not [m for m in messages if CANARY in m]


async def test_open_provider_wires_the_sandbox(sandbox: Sandbox, clock: FakeClock) -> None:
    config = ProviderConfig.model_validate({"type": "telnyx", "sandbox": True})
    provider = open_account(ACCOUNT, config, "providers.yaml:7", sandbox=sandbox, clock=clock)
    assert isinstance(provider, TelnyxProvider)
    assert provider.max_batch == 1000 and provider.job_based
    assert len(await provider.fetch_all()) == 46
    await provider.aclose()


# ---- end to end and contract


async def test_the_examples_plan_applies_and_converges(make: Make, sandbox: Sandbox) -> None:
    provider = make()
    state = load(EXAMPLE)
    summary, changes, calls = plan_account(ACCOUNT, "telnyx", state, await provider.fetch_all())
    assert (summary.changed, summary.unmanaged, len(summary.not_patchable)) == (11, 6, 1)
    for bulk in calls:
        assert (await provider.apply(bulk)).status == "ok"
    summary, changes, calls = plan_account(ACCOUNT, "telnyx", state, await provider.fetch_all())
    assert (summary.changed, changes, calls) == (0, [], [])


async def test_every_exchange_of_the_provider_honours_the_contract(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    contract = ContractTransport(
        httpx.ASGITransport(app=sandbox.app),
        spec_path("telnyx-phone-numbers.openapi.json"),
        sim.MOUNT,
    )
    provider = make(transport=contract)
    await provider.fetch_all()
    ids = (seed_ids["+13127367212"], seed_ids["+13127367215"])
    result = await provider.apply(
        job_call(
            *ids,
            tags=["chicago", "support"],
            external_pin="2468",
            deletion_lock_enabled=False,
            **{
                "voice.call_recording.inbound_call_recording_enabled": True,
                "voice.cnam_listing.cnam_listing_details": "ACME Support",
                "voice.media_features.t38_fax_gateway_enabled": False,
            },
        )
    )
    assert result.status == "ok"
    await provider.fetch(ids[:1])
    await provider.apply(job_call("1000000000000000000", tags=["x"]))  # a 422 is in the spec too
    contract.assert_clean(min_exchanges=8)
