"""The Telnyx provider against the harsher real-carrier behaviours of issue 7.

Each test turns on the sandbox knob that reproduces one behaviour (docs/sandbox-telnyx.md,
"Knobs") and checks the provider copes, through the public seam (``open_provider(...,
transport=)``, the planner, the sandbox in-process). Items: 1 listings that shift while read,
2 handle_messaging_profile_error, 3 no total_pages, 4 adoption with normalised job parameters,
5 a 403 about one field, 6 replace semantics of nested voice objects, 7 replication lag on a new
job, 8 progressive / failed / expired jobs, 13 a low rate limit end to end, 14 empty values.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import aprovider_factory

from reconciler.clock import FakeClock
from reconciler.loader import DesiredState, load
from reconciler.models import LiveNumber
from reconciler.plan import BulkCall
from reconciler.planner import plan_account
from reconciler.providers import CallStatus
from reconciler.sandbox import Sandbox
from reconciler.sandbox import telnyx as sim

ACCOUNT = "telnyx-main"
VIP, DENVER_FIRST = "+13127367200", "+13035559100"
FORWARDING = "voice.call_forwarding."

Make = Callable[..., Any]


@pytest.fixture
async def make(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Make]:
    """``make(key=None, transport=None, **config)`` → a Telnyx provider on the sandbox."""
    async with aprovider_factory(sandbox, "telnyx", clock, ACCOUNT) as build:
        yield build


@pytest.fixture
async def seed_ids(make: Make) -> dict[str, str]:
    """e164 → id of the seed."""
    return {n.e164: n.id for n in await make().fetch_all()}


class Recorder(httpx.AsyncBaseTransport):
    """Forwards to ``inner`` and records (method, path, query) of every request, and the
    paths answered 404."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.missing: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(sim.MOUNT)
        self.requests.append((request.method, path, dict(request.url.params)))
        response = await self.inner.handle_async_request(request)
        if response.status_code == 404:
            self.missing.append(path)
        return response

    def paths(self, method: str = "GET") -> list[str]:
        return [p for m, p, _ in self.requests if m == method]


def recorder(sandbox: Sandbox) -> Recorder:
    return Recorder(httpx.ASGITransport(app=sandbox.app))


def job_call(*ids: str, **patch: Any) -> BulkCall:
    return BulkCall(ACCOUNT, "telnyx", patch, tuple(ids))


def jobs_in(sandbox: Sandbox) -> list[tuple[str, str]]:
    rows = sandbox.store.conn.execute("SELECT id, status FROM telnyx_jobs ORDER BY seq")
    return [(r[0], r[1]) for r in rows]


async def truth(make: Make, sandbox: Sandbox) -> dict[str, LiveNumber]:
    """The account as it is now, read with every harsh listing knob off (id → number)."""
    knobs = {
        name: sandbox.store.knob(name)
        for name in ("telnyx.shift_listing", "telnyx.voice_listing_omits")
    }
    for name in knobs:
        sandbox.store.set_knob(name, None)
    try:
        return {n.id: n for n in await make().fetch_all()}
    finally:
        for name, value in knobs.items():
            sandbox.store.set_knob(name, value)


def desired(tmp_path: Path, numbers: str) -> DesiredState:
    """A desired state of the one sandbox Telnyx account with the given ``numbers:`` YAML."""
    (tmp_path / "numbers").mkdir()
    (tmp_path / "providers.yaml").write_text(
        f"providers:\n  {ACCOUNT}:\n    type: telnyx\n    sandbox: true\n"
    )
    (tmp_path / "numbers" / "telnyx.yaml").write_text("numbers:\n" + numbers)
    return load(tmp_path)


async def converge(make: Make, state: DesiredState, **config: Any) -> tuple[list[Any], int]:
    """fetch → plan → apply every call (concurrently) → (results, numbers still to change)."""
    provider = make(**config)
    _, _, calls = plan_account(ACCOUNT, "telnyx", state, await provider.fetch_all())
    results = list(await asyncio.gather(*(provider.apply(c) for c in calls)))
    summary, _, _ = plan_account(ACCOUNT, "telnyx", state, await make().fetch_all())
    return results, summary.changed


# ---- 1. listings that shift while they are read


async def test_1_a_listing_that_shifts_while_read_gives_one_entry_per_id(
    make: Make, sandbox: Sandbox
) -> None:
    sim.seed_synthetic(sandbox.store, 700, settings=sim.CHICAGO_SUPPORT)  # 3 pages of 250
    sandbox.store.set_knob("telnyx.shift_listing", {"buy": 3})  # after every page served
    numbers = await make().fetch_all()
    ids = [n.id for n in numbers]
    assert len(ids) == len(set(ids))  # pages repeated numbers: still one entry per id
    now = await truth(make, sandbox)
    wrong = [n.e164 for n in numbers if n.settings != now[n.id].settings]
    assert wrong == []  # numbers bought mid-read were never planned from None voice values


async def test_1_a_number_released_while_read_is_left_out(make: Make, sandbox: Sandbox) -> None:
    sim.seed_synthetic(sandbox.store, 700, settings=sim.CHICAGO_SUPPORT)
    sandbox.store.set_knob("telnyx.shift_listing", {"release": 3})
    spy = recorder(sandbox)
    numbers = await make(transport=spy).fetch_all()
    assert len({n.id for n in numbers}) == len(numbers)
    # released between its two listings: read alone, found gone, left out (never half-built)
    gone = {p.split("/")[2] for p in spy.missing if p.startswith("/phone_numbers/")}
    assert gone and not gone & {n.id for n in numbers}
    now = await truth(make, sandbox)  # numbers released after both halves were read may be listed
    assert [n.e164 for n in numbers if n.id in now and n.settings != now[n.id].settings] == []


async def test_1_a_number_missing_from_the_voice_listing_is_read_alone(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.voice_listing_omits", [VIP])
    spy = recorder(sandbox)
    by = {n.e164: n for n in await make(transport=spy).fetch_all()}
    assert by[VIP].settings["voice.cnam_listing.cnam_listing_details"] == "ACME Help Line"
    assert by[VIP].settings == (await truth(make, sandbox))[seed_ids[VIP]].settings
    assert f"/phone_numbers/{seed_ids[VIP]}/voice" in spy.paths()


# ---- 2. handle_messaging_profile_error


async def test_2_listing_reads_ask_to_handle_messaging_profile_errors(
    make: Make, sandbox: Sandbox
) -> None:
    sandbox.store.set_knob("telnyx.messaging_profile_error", True)
    spy = recorder(sandbox)
    assert len(await make(transport=spy).fetch_all()) == 46
    reads = [q for m, p, q in spy.requests if (m, p) == ("GET", "/phone_numbers")]
    assert reads and all(q.get("handle_messaging_profile_error") == "true" for q in reads)


# ---- 3. meta without total_pages


@pytest.mark.parametrize("omit", [["total_pages"], ["total_pages", "total_results"]])
async def test_3_pages_are_read_until_a_short_page_without_total_pages(
    make: Make, sandbox: Sandbox, omit: list[str]
) -> None:
    sim.seed_synthetic(sandbox.store, 1200, settings=sim.CHICAGO_SUPPORT)  # 5 pages, 246 on p.5
    sandbox.store.set_knob("telnyx.omit_page_meta", omit)
    numbers = await make().fetch_all()
    assert len(numbers) == len({n.id for n in numbers}) == 1246
    ids = {n.id for n in numbers}
    assert (await make().fetch([sim.number_id(1246)]))[0].id in ids  # fetch pages the same way


# ---- 4. adoption when the job's saved parameters are normalised


@pytest.mark.parametrize("normalise", [True, {"empty": True}])
async def test_4_a_lost_post_adopts_the_job_whose_saved_parameters_were_normalised(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str], normalise: Any
) -> None:
    provider = make()
    await provider.apply(job_call(seed_ids[DENVER_FIRST], tags=["fax"]))  # an earlier job
    sandbox.store.set_knob("telnyx.job_parameters", normalise)
    sandbox.store.set_knob("telnyx.fail_next", [{"status": 502, "processed": True}])
    patch = {"tags": ["b", "a"], "voice.translated_number": "+13125550000"}
    result = await provider.apply(job_call(seed_ids[VIP], **patch))
    assert result.status == CallStatus.OK
    assert len(jobs_in(sandbox)) == 2  # adopted: never posted twice
    assert result.job_id == jobs_in(sandbox)[1][0]


# ---- 5. a 403 about one field


async def test_5_a_403_about_one_field_fails_that_call_only(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    provider = make()
    refused = await provider.apply(job_call(seed_ids[VIP], billing_group_id="not-ours"))
    assert refused.status == CallStatus.FAILED and not refused.outcome_unknown
    assert "billing group" in (refused.error or "")
    assert set(refused.failed) == {seed_ids[VIP]}
    after = await provider.apply(job_call(seed_ids[DENVER_FIRST], tags=["fax", "x"]))
    assert after.status == CallStatus.OK  # the account goes on


# ---- 6. nested voice objects: replace semantics


async def test_6_unmanaged_voice_subfields_survive_replace_semantics(
    make: Make, sandbox: Sandbox, tmp_path: Path
) -> None:
    state = desired(
        tmp_path,
        '  - provider: telnyx-main\n    number: "+1312736*"\n    settings:\n'
        "      voice:\n        call_forwarding:\n"
        '          forwards_to: "+13125550177"\n',
    )
    before = await truth(make, sandbox)
    sandbox.store.set_knob("telnyx.voice_replace", True)
    results, left = await converge(make, state)
    assert results and all(r.status == CallStatus.OK for r in results)
    assert left == 0
    after = await truth(make, sandbox)
    types = {
        n.e164: (
            n.settings[FORWARDING + "forwarding_type"],
            n.settings[FORWARDING + "call_forwarding_enabled"],
        )
        for n in after.values()
        if n.e164.startswith("+1312736") and n.patchable
    }
    assert types == {
        n.e164: (
            n.settings[FORWARDING + "forwarding_type"],
            n.settings[FORWARDING + "call_forwarding_enabled"],
        )
        for n in before.values()
        if n.e164.startswith("+1312736") and n.patchable
    }
    assert types["+13127367224"][0] == "always"  # the one that differs from its neighbours


# ---- 7. a new job not readable yet (replication lag)


@pytest.mark.parametrize("lag", [{"polls": 2}, {"seconds": 1.5}])
async def test_7_a_job_not_yet_readable_after_creation_is_polled_again(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str], lag: dict[str, Any]
) -> None:
    sandbox.store.set_knob("telnyx.job_read_lag", lag)
    result = await make(poll_interval_s=0.25).apply(job_call(seed_ids[VIP], tags=["x"]))
    assert (result.status, result.outcome_unknown) == (CallStatus.OK, False)


async def test_7_a_job_that_never_becomes_readable_is_lost_after_the_window(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.job_read_lag", {"seconds": 3600})
    result = await make().apply(job_call(seed_ids[VIP], tags=["x"]))
    assert (result.status, result.outcome_unknown) == (CallStatus.FAILED, True)
    assert f"/phone_numbers/jobs/{result.job_id}" in (result.error or "")


# ---- 8. job lifecycle: progressive, failed, expired


async def test_8_a_job_given_up_on_midway_reports_the_numbers_it_moved(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.job_steps", 4)
    sandbox.store.set_knob("telnyx.job_run_s", 40)
    ids = [seed_ids[f"+130355591{i:02d}"] for i in range(8)]
    result = await make(job_timeout_s=21).apply(job_call(*ids, tags=["moved"]))
    # pending 0.5 s, then one step every 10 s: two steps (4 numbers) done at 21 s
    assert result.status == CallStatus.PARTIAL and result.outcome_unknown
    assert sorted(result.failed) == sorted(ids[4:])
    assert all("in_progress" in reason for reason in result.failed.values())


async def test_8_a_job_that_ends_failed_reports_its_numbers_one_by_one(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.job_steps", 2)
    sandbox.store.set_knob("telnyx.fail_jobs", True)
    ids = [seed_ids[f"+130355591{i:02d}"] for i in range(4)]
    result = await make().apply(job_call(*ids, tags=["moved"]))
    assert result.status == CallStatus.PARTIAL and not result.outcome_unknown
    assert sorted(result.failed) == sorted(ids[2:])
    assert all("failed" in reason for reason in result.failed.values())
    moved = {n.id for n in await make().fetch(ids) if n.settings["tags"] == ["moved"]}
    assert moved == set(ids[:2])


async def test_8_an_expired_job_fails_every_number(
    make: Make, sandbox: Sandbox, seed_ids: dict[str, str]
) -> None:
    sandbox.store.set_knob("telnyx.expire_jobs", True)
    ids = (seed_ids[DENVER_FIRST], seed_ids["+13035559101"])
    result = await make().apply(job_call(*ids, tags=["x"]))
    assert (result.status, result.outcome_unknown) == (CallStatus.FAILED, False)
    assert set(result.failed) == set(ids) and "expired" in (result.error or "")


# ---- 13. a low rate limit, end to end


async def test_13_a_multi_job_plan_converges_under_a_low_rate_limit(
    make: Make, sandbox: Sandbox, clock: FakeClock
) -> None:
    from conftest import EXAMPLE

    sandbox.store.set_knob("telnyx.rate_limit", 3)
    sandbox.store.set_knob("telnyx.rate_window_s", 10)
    results, left = await converge(make, load(EXAMPLE))
    # The example's Telnyx calls: 2 update jobs, 1 messaging order, 1 emergency job (issue 17).
    ops = sorted(str(r.call.operation) for r in results)
    assert ops == ["None", "None", "messaging_bulk_update", "update_emergency_settings"]
    assert all(r.status == CallStatus.OK for r in results)
    assert left == 0
    assert sum(clock.slept) > 10  # it did wait for the rate windows (on the fake clock)


# ---- 14. empty values


@pytest.mark.parametrize("as_null", [False, True])
async def test_14_clearing_tags_and_customer_reference_converges(
    make: Make, sandbox: Sandbox, tmp_path: Path, as_null: bool
) -> None:
    state = desired(
        tmp_path,
        '  - provider: telnyx-main\n    number: "+1303555*"\n    settings:\n'
        '      tags: []\n      customer_reference: ""\n',
    )
    sandbox.store.set_knob("telnyx.blank_reference_as_null", as_null)
    results, left = await converge(make, state)
    assert [r.status for r in results] == [CallStatus.OK]
    assert left == 0
    denver = [n for n in (await truth(make, sandbox)).values() if n.e164.startswith("+1303555")]
    assert {tuple(n.settings["tags"]) for n in denver} == {()}
