"""Wavix behaviours the kind sandbox used to hide (issue 7, items 9-13), each reproduced with a
sandbox knob and checked through the provider or the whole plan → apply → plan path.

9  sparse or null items          → a carrier-data report naming the number, never a KeyError
10 all-or-nothing bulk PATCH      → bisected: the rest applied, the refused named with the reason
11 async fields slower than 30 s  → a separate, longer wait; "not visible yet" apart from "refused"
12 64-bit ids                     → strings end to end
13 per-key rate limits            → a multi-call plan converges under a low limit
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EXAMPLE
from helpers import aprovider_factory, sandbox_transport

from reconciler import errors
from reconciler.applier import EXIT_OK, EXIT_PARTIAL, ApplyReport, apply_plan
from reconciler.clock import FakeClock
from reconciler.loader import load
from reconciler.plan import BulkCall, Plan
from reconciler.planner import plan_account
from reconciler.providers.base import CallStatus
from reconciler.runner import open_accounts, plan_accounts
from reconciler.sandbox import Sandbox
from reconciler.sandbox import wavix as sim

ACCOUNT = "wavix-main"
FIRST = sim.FIRST_ID
UK = str(FIRST + 52)  # +442079460100, London
INACTIVE = str(FIRST + 30)  # +13135550130, status inactive
SMS_REFUSED = "Inbound SMS can only be activated on US and CA phone numbers"

Make = Callable[..., Any]


@pytest.fixture
async def make(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Make]:
    async with aprovider_factory(sandbox, "wavix", clock, ACCOUNT) as build:
        yield build


def call(*ids: str, **patch: Any) -> BulkCall:
    return BulkCall(ACCOUNT, "wavix", patch, tuple(ids), tuple(f"+{i}" for i in ids))


def us(n: int) -> list[str]:
    """The ids of the first ``n`` Detroit numbers (+13135550100 on), all active but one."""
    return [str(FIRST + i) for i in range(n)]


class StatusSpy(httpx.AsyncBaseTransport):
    """The sandbox transport, recording every (method, status)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner = sandbox_transport(sandbox)
        self.seen: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.seen.append((request.method, response.status_code))
        return response


def wavix_config(tmp_path: Path, options: str = "", extra_numbers: str = "") -> Path:
    """The example desired state with its Wavix account only (``options`` are account options
    in YAML flow style, e.g. ``"async_verify_timeout_s: 60"``)."""
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE, root)
    (root / "numbers" / "telnyx.yaml").unlink()
    flow = f", {options}" if options else ""
    (root / "providers.yaml").write_text(
        f"providers:\n  {ACCOUNT}: {{type: wavix, sandbox: true{flow}}}\n"
    )
    if extra_numbers:
        with (root / "numbers" / "wavix.yaml").open("a") as f:
            f.write(extra_numbers)
    return root


async def plan_apply_plan(
    config: Path,
    sandbox: Sandbox,
    clock: FakeClock,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[Plan, ApplyReport, Plan]:
    state = load(config, env={})
    transports = {ACCOUNT: transport} if transport is not None else None
    async with open_accounts(
        state, clock=clock, sandbox=sandbox, transports=transports
    ) as providers:
        for provider in providers.values():
            provider.http.rng.seed(7)  # the backoff's jitter, fixed so runs repeat
        before = await plan_accounts(state, providers)
        report = await apply_plan(before, providers, clock=clock)
        clock.advance(1.0)  # the default async delay, for what the verify did not wait for
        after = await plan_accounts(state, providers)
        return before, report, after


# ---- 9. sparse or null items


async def test_a_destination_without_transport_is_reported_for_that_number_never_a_keyerror(
    make: Make, sandbox: Sandbox
) -> None:
    sandbox.store.set_knob(
        "wavix.sparse_items", {"+13135550104": {"drop": ["destination.transport"]}}
    )
    numbers = {n.e164: n for n in await make().fetch_all()}
    assert len(numbers) == 60
    odd = numbers["+13135550104"]
    assert not odd.patchable
    assert odd.status == (
        "carrier data: destination 1 has no transport; destination 2 has no transport"
    )
    assert odd.settings["destinations"] is None and odd.settings["sms_enabled"] is True
    assert numbers["+13135550105"].patchable  # its neighbours read as usual

    summary, changes, _ = plan_account(ACCOUNT, "wavix", load(EXAMPLE), list(numbers.values()))
    assert ("+13135550104", odd.status) in summary.not_patchable  # named in the plan
    assert "+13135550104" not in {c.e164 for c in changes}  # never planned from a guess
    assert len(changes) == 11  # the other drifted numbers are planned as usual


async def test_nulls_in_non_null_fields_are_never_read_as_a_value(
    make: Make, sandbox: Sandbox
) -> None:
    # +13135550100 is in sync; a null sms_enabled must not become False (and a change to True)
    sandbox.store.set_knob(
        "wavix.sparse_items",
        {"+13135550100": {"null": ["sms_enabled"]}, "+13135550101": {"drop": ["status"]}},
    )
    numbers = {n.e164: n for n in await make().fetch_all()}
    main = numbers["+13135550100"]
    assert not main.patchable and main.status == "carrier data: sms_enabled is null"
    assert main.settings["transcription_threshold"] == 45  # what reads, reads
    assert main.settings.get("sms_enabled") is not False
    summary, changes, _ = plan_account(ACCOUNT, "wavix", load(EXAMPLE), list(numbers.values()))
    assert "+13135550100" not in {c.e164 for c in changes}
    assert [e for e, _ in summary.not_patchable] == ["+13135550100"]
    # a missing status is not a setting: the number reads, with its status unknown
    assert numbers["+13135550101"].patchable and numbers["+13135550101"].status == ""


async def test_documented_nullable_fields_read_as_unset(make: Make, sandbox: Sandbox) -> None:
    sandbox.store.set_knob("wavix.sparse_items", {"+13135550104": {"null": ["sms_relay_url"]}})
    (number,) = [n for n in await make().fetch_all() if n.e164 == "+13135550104"]
    assert number.patchable and number.settings["sms_relay_url"] is None


async def test_an_item_without_its_phone_number_is_a_carrier_data_error_naming_its_id(
    make: Make,
) -> None:
    item = {**sim.seed_numbers()[0]}
    del item["number"]
    body = {
        "items": [item],
        "doc_types": [],
        "pagination": {"current_page": 1, "per_page": 100, "total": 1, "total_pages": 1},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with pytest.raises(errors.ProviderError, match="carrier data") as info:
        await make(transport=transport).fetch_all()
    assert str(FIRST) in str(info.value) and "number" in str(info.value)
    assert not isinstance(info.value, KeyError)


async def test_a_page_without_pagination_is_a_carrier_data_error(make: Make) -> None:
    body = {"items": [], "doc_types": []}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with pytest.raises(errors.ProviderError, match="carrier data.*pagination"):
        await make(transport=transport).fetch_all()


# ---- 10. the all-or-nothing bulk PATCH


@pytest.mark.parametrize(("where", "halvings"), [("last", 1), ("first", 2)])
async def test_one_refused_number_is_bisected_out_and_the_rest_applied(
    make: Make, sandbox: Sandbox, where: str, halvings: int
) -> None:
    sandbox.store.set_knob("wavix.refuse_sms_outside_us_ca", True)
    ids = [*us(15), UK] if where == "last" else [UK, *us(15)]
    provider = make()
    result = await provider.apply(call(*ids, sms_enabled=True, transcription_enabled=True))
    assert result.status is CallStatus.PARTIAL
    assert result.failed == {UK: f"refused by the carrier: {SMS_REFUSED}"}
    assert result.refused  # the seam's mark: follow-ups never re-send a refused number
    # log₂ n extra calls when the refusal lies in second halves (a first half that goes
    # through proves it), two per halving when it lies in first halves
    assert result.requests == 1 + halvings * math.ceil(math.log2(len(ids)))
    live = {n.id: n for n in await provider.fetch(ids)}
    assert all(live[i].settings["transcription_enabled"] for i in us(15))
    assert live[UK].settings["transcription_enabled"] is False  # nothing applied to it


@pytest.mark.parametrize("status", [400, 422])
async def test_several_refused_numbers_each_get_their_own_reason(
    make: Make, sandbox: Sandbox, status: int
) -> None:
    sandbox.store.set_knob("wavix.refuse_sms_outside_us_ca", True)
    sandbox.store.set_knob("wavix.refuse_inactive", True)
    sandbox.store.set_knob("wavix.refusal_status", status)
    ids = [*us(40), UK]  # Detroit includes the inactive +13135550130
    provider = make()
    result = await provider.apply(call(*ids, sms_enabled=True))
    assert result.status is CallStatus.PARTIAL
    assert result.failed == {
        UK: f"refused by the carrier: {SMS_REFUSED}",
        INACTIVE: "refused by the carrier: The phone number is not active",
    }
    assert result.requests <= 1 + 2 * 2 * math.ceil(math.log2(len(ids)))
    applied = [n for n in await provider.fetch(ids) if n.id not in result.failed]
    assert len(applied) == 39 and all(n.settings["sms_enabled"] for n in applied)


async def test_a_number_gone_since_the_plan_fails_alone(make: Make) -> None:
    gone = "987654321098"
    result = await make().apply(call(*us(3), gone, call_recording_enabled=False))
    assert result.status is CallStatus.PARTIAL
    assert list(result.failed) == [gone] and "not found" in result.failed[gone].lower()


async def test_a_refusal_of_every_number_fails_the_call_within_a_bounded_number_of_requests(
    make: Make, sandbox: Sandbox
) -> None:
    sandbox.store.set_knob(
        "wavix.refuse_numbers", [f"+{n}" for n in range(13135550100, 13135550140)]
    )
    ids = us(40)
    result = await make().apply(call(*ids, call_recording_enabled=False))
    assert result.status is CallStatus.FAILED
    assert set(result.failed) == set(ids)
    assert all("Missing or invalid parameter ids" in r for r in result.failed.values())
    # down one path to three refused numbers, then the last number alone: the patch is refused
    assert result.requests <= 2 + math.ceil(math.log2(len(ids))) + 3  # not 2n - 1 = 79


async def test_refused_numbers_clustered_first_do_not_pass_for_a_refused_patch(
    make: Make, sandbox: Sandbox
) -> None:
    first_three = ["+13135550100", "+13135550101", "+13135550102"]
    sandbox.store.set_knob("wavix.refuse_numbers", first_three)
    ids = us(40)
    result = await make().apply(call(*ids, call_recording_enabled=False))
    assert result.status is CallStatus.PARTIAL
    assert sorted(result.failed) == ids[:3]  # the other 37 were applied


async def test_a_refused_number_is_named_in_the_apply_report(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    sandbox.store.set_knob("wavix.refuse_inactive", True)
    _, report, after = await plan_apply_plan(wavix_config(tmp_path), sandbox, clock)
    assert report.exit_code == EXIT_PARTIAL
    assert report.failed == {
        (ACCOUNT, "+13135550130"): "refused by the carrier: The phone number is not active"
    }
    assert [c.e164 for c in after.changes] == ["+13135550130"]  # every other number converged


# ---- 11. async fields slower than the verify wait


async def test_async_fields_slower_than_30s_converge_within_the_async_wait(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    sandbox.store.set_knob("wavix.async_delay_s", {"destinations": 45, "sms_relay_url": 50})
    start = clock.now()
    _, report, after = await plan_apply_plan(wavix_config(tmp_path), sandbox, clock)
    assert (report.exit_code, report.failed) == (EXIT_OK, {})
    assert report.verified == 12
    assert clock.now() - start >= 50  # it waited past the 30 s verify for the async fields
    assert not after.has_changes


async def test_the_report_tells_not_visible_yet_from_refused(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    sandbox.store.set_knob("wavix.async_delay_s", {"destinations": 600})
    sandbox.store.set_knob("wavix.refuse_sms_outside_us_ca", True)
    london = "  - {provider: wavix-main, number: '+442079460100', settings: {sms_enabled: true}}\n"
    config = wavix_config(tmp_path, "async_verify_timeout_s: 90", extra_numbers=london)
    _, report, _ = await plan_apply_plan(config, sandbox, clock)
    assert report.exit_code == EXIT_PARTIAL
    reasons = {e164: why for (_, e164), why in report.failed.items()}
    assert reasons.pop("+442079460100") == f"refused by the carrier: {SMS_REFUSED}"
    # the destination changes were accepted and are still on their way
    assert set(reasons) == {
        "+13135550107",
        "+13135550118",
        "+13135550126",
        "+13135550130",
        "+12125550108",
    }
    for why in reasons.values():
        assert why.startswith("not visible yet after 90s: destinations"), why


class StuckField(httpx.AsyncBaseTransport):
    """The sandbox transport, but every read shows ``field`` of ``number`` as ``value``: a
    synchronous change the carrier accepted and does not show."""

    def __init__(self, sandbox: Sandbox, number: str, field: str, value: Any) -> None:
        self.inner = sandbox_transport(sandbox)
        self.number, self.field, self.value = number, field, value

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if request.method != "GET" or response.status_code != 200:
            return response
        body = json.loads(response.content)
        for item in body.get("items", [body]):
            if item.get("number") == self.number:
                item[self.field] = self.value
        return httpx.Response(200, json=body)


async def test_synchronous_fields_keep_the_short_verify_wait(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    stuck = StuckField(sandbox, "13135550111", "call_recording_enabled", False)
    start = clock.now()
    _, report, _ = await plan_apply_plan(wavix_config(tmp_path), sandbox, clock, stuck)
    assert clock.now() - start < 60  # not the long async wait: the field is synchronous
    assert report.failed == {
        (ACCOUNT, "+13135550111"): "still differs after apply: call_recording_enabled (waited 30s)"
    }


# ---- 12. 64-bit ids


@pytest.mark.parametrize("id_", [47_832_123_321, 987_654_321_098, 2**63 - 1])
async def test_64_bit_ids_are_strings_end_to_end(make: Make, sandbox: Sandbox, id_: int) -> None:
    sim.bulk_insert(sandbox.store, [sim.make_number(id_, "14155550198", sms_enabled=False)])
    provider = make()
    (number,) = [n for n in await provider.fetch_all() if n.e164 == "+14155550198"]
    assert number.id == str(id_)
    result = await provider.apply(call(number.id, sms_enabled=True))
    assert result.status is CallStatus.OK
    (again,) = await provider.fetch([number.id])  # one GET /v1/numbers/{id}
    assert (again.id, again.settings["sms_enabled"]) == (str(id_), True)


async def test_a_non_numeric_id_is_refused_before_anything_is_sent(make: Make) -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    result = await make(transport=transport).apply(call("12ab", sms_enabled=True))
    assert result.status is CallStatus.FAILED and "12ab" in (result.error or "")
    assert sent == []


# ---- 13. rate limits


@pytest.mark.parametrize(
    "headers",
    [
        ["retry-after"],
        ["retry-after-date"],
        ["x-ratelimit-reset"],
        [],
    ],
)
async def test_a_multi_call_plan_converges_under_a_low_rate_limit(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path, headers: list[str]
) -> None:
    sandbox.store.set_knob("wavix.async_delay_s", 0)
    sandbox.store.set_knob("wavix.rate_limit", 2)
    sandbox.store.set_knob("wavix.rate_window_s", 1)
    sandbox.store.set_knob("wavix.rate_limit_headers", headers)
    spy = StatusSpy(sandbox)
    config = wavix_config(tmp_path, "grouping: exact, max_ids_per_call: 2")
    before, report, after = await plan_apply_plan(config, sandbox, clock, spy)
    assert len(before.calls) >= 8
    assert (report.exit_code, report.failed) == (EXIT_OK, {})
    assert not after.has_changes
    assert ("PATCH", 429) in spy.seen  # the limit did bite on the bulk calls


async def test_a_configured_request_rate_stays_under_the_limit(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    sandbox.store.set_knob("wavix.async_delay_s", 0)
    sandbox.store.set_knob("wavix.rate_limit", 2)
    sandbox.store.set_knob("wavix.rate_window_s", 1)
    spy = StatusSpy(sandbox)
    config = wavix_config(tmp_path, "requests_per_second: 1")
    _, report, after = await plan_apply_plan(config, sandbox, clock, spy)
    assert report.exit_code == EXIT_OK and not after.has_changes
    assert all(status != 429 for _, status in spy.seen)
