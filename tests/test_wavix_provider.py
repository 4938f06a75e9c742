"""WavixProvider on the in-process simulator: read, apply, verify, errors, retries, contract."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from conftest import EXAMPLE
from contract import ContractTransport
from helpers import aprovider_factory
from wavix_contract import wavix_spec

from reconciler import errors
from reconciler.carriers import field_paths
from reconciler.clock import FakeClock
from reconciler.config import ProviderConfig
from reconciler.loader import load
from reconciler.plan import BulkCall
from reconciler.planner import plan_account
from reconciler.providers import CallResult, open_account
from reconciler.providers.wavix import WavixProvider
from reconciler.sandbox import Sandbox
from reconciler.sandbox import wavix as sim

ACCOUNT = "wavix-main"
BASE = "http://sandbox.invalid/wavix"
CANARY = "wvx_CANARY_7f3a9c1e"  # a key we can search every message for
MAIN, SECOND = str(sim.FIRST_ID), str(sim.FIRST_ID + 1)  # +13135550100, +13135550101
SIP = {"destination": "sip:new@pbx.example.com", "priority": 1, "transport": 1, "trunk_id": None}

Make = Callable[..., WavixProvider]


@pytest.fixture
async def make(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Make]:
    """``make(key=DEFAULT_KEY, transport=None, **config)`` → a provider on the sandbox."""
    async with aprovider_factory(sandbox, "wavix", clock, ACCOUNT) as build:
        yield build


def call(*ids: str, **patch: Any) -> BulkCall:
    return BulkCall(ACCOUNT, "wavix", patch, tuple(ids))


# ---- reading


async def test_fetch_all_reads_the_seed_in_canonical_form(make: Make) -> None:
    provider = make()
    numbers = await provider.fetch_all()
    assert len(numbers) == 60
    # 60 numbers fit one page of 100; the opening wave also asked for pages 2-4 (concurrency 8).
    assert provider.requests_sent == 4
    assert [n.e164 for n in numbers] == sorted(n.e164 for n in numbers)
    assert all(list(n.settings) == field_paths("wavix") and n.patchable for n in numbers)
    by = {n.e164: n for n in numbers}
    main = by["+13135550100"]
    assert (main.id, main.status) == (MAIN, "active")
    assert main.settings == {
        "sms_enabled": True,
        "destinations": [
            {
                "destination": "sip:inbound@pbx-detroit.example.com",
                "priority": 1,
                "transport": 1,
                "trunk_id": None,
            },
            {"destination": "+13135550199", "priority": 2, "transport": 4, "trunk_id": None},
        ],
        "sms_relay_url": "https://hooks.example.com/wavix/sms",
        "call_recording_enabled": True,
        "transcription_enabled": True,
        "transcription_threshold": 45,
        "call_status_url": "https://hooks.example.com/wavix/calls",
    }
    # canonical destinations are sorted by priority whatever the carrier's order
    swapped = by["+13135550126"].settings["destinations"]
    assert [d["priority"] for d in swapped] == [1, 2]
    assert by["+13135550118"].settings["destinations"][0] == {
        "destination": "32882",
        "priority": 1,
        "transport": 5,
        "trunk_id": 3107,
    }
    assert by["+13135550130"].status == "inactive"
    assert "+442079460100" in by and "+14155550103" in by


async def test_fetch_all_reads_every_page_concurrently(make: Make, sandbox: Sandbox) -> None:
    sim.seed_synthetic(sandbox.store, 250)
    provider = make(concurrency=2)
    numbers = await provider.fetch_all()
    assert len(numbers) == 310 and len({n.id for n in numbers}) == 310
    assert provider.requests_sent == 4


async def test_fetch_tolerates_nulls_the_spec_says_cannot_happen(make: Make) -> None:
    item = {
        "id": 7,
        "number": "13135550177",
        "status": None,
        "sms_enabled": None,
        "destination": None,
        "sms_relay_url": None,
        "call_recording_enabled": None,
        "transcription_enabled": None,
        "transcription_threshold": None,
        "call_status_url": None,
    }
    body = {
        "items": [item],
        "doc_types": [],
        "pagination": {"current_page": 1, "per_page": 100, "total": 1, "total_pages": 1},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    (number,) = await make(transport=transport).fetch_all()
    assert (number.id, number.e164, number.patchable) == ("7", "+13135550177", False)
    # nulls the spec forbids are never read as values (test_wavix_behaviours, item 9)
    assert number.status == (
        "carrier data: sms_enabled is null; call_recording_enabled is null; "
        "transcription_enabled is null; transcription_threshold is null; destination is null"
    )
    assert number.settings["destinations"] is None
    assert number.settings["sms_enabled"] is None
    assert number.settings["sms_relay_url"] is None  # nullable in the spec: unset


async def test_fetch_few_ids_uses_single_gets(make: Make, sandbox: Sandbox) -> None:
    sim.seed_synthetic(sandbox.store, 250)  # 4 pages
    provider = make()
    found = await provider.fetch([SECOND, MAIN, "999"])
    assert [n.id for n in found] == [MAIN, SECOND]  # sorted by e164; unknown ids left out
    assert provider.requests_sent == 1 + 3  # page 1 (to learn the page count) + 3 GETs
    provider.requests_sent = 0
    many = [str(i) for i in range(sim.FIRST_ID, sim.FIRST_ID + 10)]
    assert len(await provider.fetch(many)) == 10
    assert provider.requests_sent == 4  # 10 ids ≥ 4 pages: a full listing is cheaper


async def test_open_provider_wires_the_sandbox(sandbox: Sandbox, clock: FakeClock) -> None:
    config = ProviderConfig.model_validate({"type": "wavix", "sandbox": True})
    provider = open_account(ACCOUNT, config, "providers.yaml:3", sandbox=sandbox, clock=clock)
    try:
        assert isinstance(provider, WavixProvider)
        assert len(await provider.fetch_all()) == 60
    finally:
        await provider.aclose()


# ---- applying


async def test_apply_then_fetch_shows_the_change_after_the_async_delay(
    make: Make, clock: FakeClock
) -> None:
    provider = make()
    result = await provider.apply(
        call(
            MAIN,
            SECOND,
            destinations=[SIP],
            call_recording_enabled=False,
            sms_relay_url="https://hooks.example.com/v2",
        )
    )
    assert (result.status, result.requests) == ("ok", 1)
    now = {n.id: n.settings for n in await provider.fetch([MAIN, SECOND])}
    assert now[MAIN]["call_recording_enabled"] is False  # synchronous field
    assert now[MAIN]["destinations"] != [SIP]  # not yet: applied asynchronously
    clock.advance(sim.DEFAULT_ASYNC_DELAY_S + 0.1)
    now = {n.id: n.settings for n in await provider.fetch([MAIN, SECOND])}
    for settings in now.values():
        assert settings["destinations"] == [SIP]
        assert settings["sms_relay_url"] == "https://hooks.example.com/v2"


async def test_apply_sends_request_shaped_destinations(make: Make, sandbox: Sandbox) -> None:
    sent: list[dict[str, Any]] = []
    inner = httpx.ASGITransport(app=sandbox.app)

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(json.loads(request.content))
            return await inner.handle_async_request(request)

    trunk = {"destination": "32882", "priority": 2, "transport": 5, "trunk_id": 3107}
    await make(transport=Spy()).apply(call(MAIN, destinations=[SIP, trunk]))
    assert sent == [
        {
            "ids": [sim.FIRST_ID],
            "destinations": [
                {"destination": SIP["destination"], "priority": 1, "transport": 1},
                trunk,
            ],
        }
    ]


async def test_the_examples_plan_applies_and_converges(make: Make, clock: FakeClock) -> None:
    """The seed is what docs/sandbox-wavix.md says: 12 drifted, 40 in sync, 8 unmanaged."""
    state = load(EXAMPLE)
    provider = make()
    summary, changes, calls = plan_account(ACCOUNT, "wavix", state, await provider.fetch_all())
    assert (summary.total, summary.in_sync, summary.changed, summary.unmanaged) == (60, 40, 12, 8)
    assert summary.missing == ()
    drifted = {
        c.e164[-4:]: sorted(f.field for f in c.changes)
        for c in changes
        if c.e164.startswith("+1313")
    }
    assert drifted == {
        "0104": ["sms_relay_url"],
        "0107": ["destinations"],
        "0111": ["call_recording_enabled"],
        "0115": ["call_status_url"],
        "0118": ["destinations"],
        "0122": ["sms_enabled", "sms_relay_url"],
        "0126": ["destinations"],
        "0130": ["destinations"],
    }
    for bulk in calls:
        assert (await provider.apply(bulk)).status == "ok"
    clock.advance(sim.DEFAULT_ASYNC_DELAY_S + 0.1)
    summary, changes, calls = plan_account(ACCOUNT, "wavix", state, await provider.fetch_all())
    assert (summary.changed, changes, calls) == (0, [], [])


async def test_retries_an_injected_503_on_the_fake_clock(
    make: Make, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("wavix.fail_next", [503])
    provider = make()
    result = await provider.apply(call(MAIN, sms_enabled=False))
    assert (result.status, result.requests, provider.requests_sent) == ("ok", 2, 2)
    assert clock.slept == [1.0]  # the simulator's Retry-After: 1
    assert (await provider.fetch([MAIN]))[0].settings["sms_enabled"] is False


async def test_backoff_doubles_without_retry_after(make: Make, clock: FakeClock) -> None:
    answers = iter([httpx.Response(500), httpx.ConnectError("refused"), None])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer or httpx.Response(200, json={"items": []})

    provider = make(transport=httpx.MockTransport(handler))
    result = await provider.apply(call(MAIN, sms_enabled=True))
    assert (result.status, result.requests) == ("ok", 3)
    # Full jitter: each wait is drawn from [0, 0.5·2^(attempt-1)].
    assert len(clock.slept) == 2
    assert 0 <= clock.slept[0] <= 0.5 and 0 <= clock.slept[1] <= 1.0


# ---- errors: translated, and never carrying the key


@pytest.fixture
def canary_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sim.KEYS, CANARY, "write")
    monkeypatch.setitem(sim.KEYS, CANARY + "_ro", "read")


async def provoke(make: Make, how: str) -> errors.ProviderError:
    action: Coroutine[Any, Any, object]
    if how == "401":
        action = make(key=CANARY + "_wrong").fetch_all()
    elif how == "403":
        action = make(key=CANARY + "_ro").apply(call(MAIN, sms_enabled=False))
    elif how == "400":
        action = make(key=CANARY).apply(call(MAIN, label="x"))
    elif how == "404":
        action = make(key=CANARY).apply(call("999", sms_enabled=False))
    elif how in ("429", "503"):
        action = make(key=CANARY).apply(call(MAIN, sms_enabled=False))
    else:  # a transport error whose text even contains the Authorization header

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError(f"refused ({request.headers['authorization']})")

        action = make(key=CANARY, transport=httpx.MockTransport(refuse)).fetch_all()
    try:
        outcome = await action
    except errors.ProviderError as exc:
        return exc
    # apply() returns call-level failures (only account-fatal errors raise): unwrap the cause.
    assert isinstance(outcome, CallResult) and outcome.status == "failed", outcome
    assert how not in ("401", "403")
    return outcome.cause  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("how", "cls", "text"),
    [
        (
            "401",
            errors.AuthError,
            "[wavix-main] GET /v1/numbers → 401: the API key was rejected (Unauthorized); "
            "check WAVIX_API_KEY",
        ),
        (
            "403",
            errors.PermissionError_,
            "[wavix-main] PATCH /v1/numbers → 403: forbidden: ",
        ),
        (
            "400",
            errors.InvalidRequestError,
            (
                "[wavix-main] PATCH /v1/numbers → 400: the carrier rejected the request: "
                "Missing or invalid parameter label"
            ),
        ),
        (
            "404",
            errors.NotFoundError,
            "[wavix-main] PATCH /v1/numbers → 404: not found: Record not found",
        ),
        ("429", errors.RateLimitError, "[wavix-main] PATCH /v1/numbers → 429: rate limited"),
        ("503", errors.ServerError, "[wavix-main] PATCH /v1/numbers → 503: carrier server error"),
        (
            "transport",
            errors.TransportError,
            "[wavix-main] GET /v1/numbers: no response after 5 attempts",
        ),
    ],
)
async def test_errors_are_translated_without_the_key(
    make: Make,
    sandbox: Sandbox,
    canary_keys: None,
    caplog: pytest.LogCaptureFixture,
    how: str,
    cls: type[errors.ProviderError],
    text: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    if how in ("429", "503"):
        sandbox.store.set_knob("wavix.fail_next", [int(how)] * 5)  # every attempt
    exc = await provoke(make, how)
    assert type(exc) is cls
    assert str(exc).startswith(text)
    assert exc.account == ACCOUNT and exc.status == (None if how == "transport" else int(how))
    for shown in (str(exc), repr(exc), exc.detail, caplog.text):
        assert CANARY not in shown


async def test_state_is_untouched_by_refused_calls(make: Make, canary_keys: None) -> None:
    before = {n.id: n.settings for n in await make().fetch_all()}
    for how in ("403", "400", "404"):
        await provoke(make, how)
    assert {n.id: n.settings for n in await make().fetch_all()} == before


# ---- contract: every request and response of a real session validates against the spec


async def test_fetch_apply_fetch_honour_the_contract(
    make: Make, sandbox: Sandbox, clock: FakeClock
) -> None:
    sim.seed_synthetic(sandbox.store, 150)  # two pages
    contract = ContractTransport(httpx.ASGITransport(app=sandbox.app), wavix_spec(), sim.MOUNT)
    provider = make(transport=contract)
    assert len(await provider.fetch_all()) == 210
    trunk = {"destination": "32882", "priority": 2, "transport": 5, "trunk_id": 3107}
    await provider.apply(
        call(
            MAIN,
            SECOND,
            destinations=[SIP, trunk],
            sms_enabled=False,
            transcription_threshold=40,
            sms_relay_url="https://h.example.com/s",
            call_status_url="https://h.example.com/c",
        )
    )
    clock.advance(2)
    assert {n.id for n in await provider.fetch([MAIN])} == {MAIN}
    contract.assert_clean(min_exchanges=4)
