"""The applier against the sandbox: partial failures (exit 4), job splitting at 1000, at most 20
jobs in flight, verify, secrets masked in every output."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE
from helpers import state_provider
from rich.console import Console

from reconciler import render
from reconciler.applier import EXIT_OK, EXIT_PARTIAL, apply_plan
from reconciler.apply.events import (
    CallEvent,
    CallFinished,
    CallInterrupted,
    CallStarted,
    CallVerified,
)
from reconciler.clock import FakeClock
from reconciler.loader import load
from reconciler.plan import Plan
from reconciler.runner import plan_accounts
from reconciler.sandbox import Sandbox
from reconciler.sandbox import telnyx as telnyx_sim


class Events(list[tuple[str, dict[str, Any]]]):
    """A ``CallJournal`` keeping (name, fields) of each event, named as the journal's rows were."""

    NAMES: dict[type, str] = {
        CallStarted: "call_started",
        CallFinished: "call_finished",
        CallInterrupted: "call_interrupted",
        CallVerified: "call_verified",
    }

    def record(self, event: CallEvent) -> None:
        self.append((self.NAMES[type(event)], vars(event)))


async def plan_and_apply(
    config: Path, sandbox: Sandbox, clock: FakeClock, wrap: Any = None
) -> tuple[Plan, Any, Any]:
    state = load(config, env={})
    providers = {name: state_provider(state, name, sandbox, clock) for name in state.rules}
    if wrap:
        for p in providers.values():
            wrap(p)
    try:
        plan = await plan_accounts(state, providers)
        report = await apply_plan(plan, providers, clock=clock)
        after = await plan_accounts(state, providers)
        return plan, report, after
    finally:
        for p in providers.values():
            await p.aclose()


async def test_example_converges_on_the_fake_clock(sandbox: Sandbox, clock: FakeClock) -> None:
    events = Events()
    state = load(EXAMPLE, env={})

    providers = {n: state_provider(state, n, sandbox, clock) for n in state.rules}
    plan = await plan_accounts(state, providers)
    report = await apply_plan(plan, providers, clock=clock, record=events)
    again = await plan_accounts(state, providers)
    for p in providers.values():
        await p.aclose()
    assert report.exit_code == EXIT_OK
    assert report.verified == plan.changed > 0
    assert not again.has_changes
    # Every planned call was recorded as it started and finished.
    assert [e for e, _ in events].count("call_started") == len(plan.calls)
    assert [e for e, _ in events].count("call_finished") == len(plan.calls)
    assert clock.slept, "polling and verify waited on the injected clock"


async def test_telnyx_partial_failure_is_exit_4_and_names_the_numbers(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.fail_numbers", ["+13127367203", "+13035559105"])
    plan, report, after = await plan_and_apply(EXAMPLE, sandbox, clock)
    assert report.exit_code == EXIT_PARTIAL
    failed = {e164 for (_, e164) in report.failed}
    assert failed == {"+13127367203", "+13035559105"}
    reason = report.failed[("telnyx-main", "+13127367203")]
    assert reason and any(ch.isdigit() for ch in reason)  # the carrier's error code is kept
    # The other numbers of those jobs converged; the next plan shows only what is still off.
    assert {c.e164 for c in after.changes} == failed
    out = io.StringIO()
    render.write_apply(report, plan, out)
    text = out.getvalue()
    assert "Apply partial" in text and "+13127367203" in text


async def test_expired_job_is_reported(sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.store.set_knob("telnyx.expire_jobs", True)
    plan, report, after = await plan_and_apply(EXAMPLE, sandbox, clock)
    assert report.exit_code == EXIT_PARTIAL
    telnyx_changes = {c.e164 for c in plan.changes if c.account == "telnyx-main"}
    assert {e for (a, e) in report.failed if a == "telnyx-main"} == telnyx_changes
    assert {c.e164 for c in after.changes} == telnyx_changes  # wavix converged, telnyx did not


def _bulk_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  tx:\n    type: telnyx\n    sandbox: true\n"
        + extra
        + "numbers:\n"
        + "  - {provider: tx, number: '+1415*', settings: {customer_reference: bulk-ref}}\n"
    )
    return config


async def test_1001_numbers_with_one_patch_make_two_jobs(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    sandbox.store.set_knob("telnyx.rate_limit", 0)
    telnyx_sim.seed_synthetic(
        sandbox.store, 1001, prefix="1415", settings={"customer_reference": "old"}
    )
    plan, report, after = await plan_and_apply(_bulk_config(tmp_path), sandbox, clock)
    assert sorted(len(c.ids) for c in plan.calls) == [1, 1000]
    assert report.exit_code == EXIT_OK
    jobs = sandbox.store.conn.execute("SELECT count(*) FROM telnyx_jobs").fetchone()[0]
    assert jobs == 2
    assert not after.has_changes


async def test_never_more_than_20_jobs_in_flight(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    sandbox.store.set_knob("telnyx.rate_limit", 0)
    telnyx_sim.seed_synthetic(
        sandbox.store, 50, prefix="1415", settings={"customer_reference": "old"}
    )
    config = _bulk_config(tmp_path, "    max_ids_per_call: 2\n")  # 50 numbers → 25 jobs
    statuses: list[int] = []
    in_flight = {"now": 0, "max": 0}

    def wrap(provider: Any) -> None:
        original = provider.apply

        async def counted(call: Any) -> Any:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
            try:
                return await original(call)
            finally:
                in_flight["now"] -= 1

        provider.apply = counted

    inner_app = sandbox.app

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":

            async def record(message: Any) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])
                await send(message)

            await inner_app(scope, receive, record)
        else:
            await inner_app(scope, receive, send)

    sandbox.app = spy  # type: ignore[assignment]
    plan, report, after = await plan_and_apply(config, sandbox, clock, wrap)
    assert len(plan.calls) == 25
    assert report.exit_code == EXIT_OK
    assert in_flight["max"] == 20
    assert statuses == [202] * 25  # the carrier never had to refuse a 21st job
    assert not after.has_changes


async def test_external_pin_is_masked_in_every_output(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  tx: {type: telnyx, sandbox: true}\n"
        "numbers:\n  - {provider: tx, number: '+13035559100', settings: {external_pin: '987123'}}\n"
    )
    state = load(config, env={})

    provider = state_provider(state, "tx", sandbox, clock)
    try:
        plan = await plan_accounts(state, {"tx": provider})
    finally:
        await provider.aclose()
    assert plan.calls and plan.calls[0].patch == {"external_pin": "987123"}  # the plan carries it
    out = io.StringIO()
    render.write_plan(plan, out)
    text = out.getvalue()
    assert "external_pin" in text and "987123" not in text
    assert "987123" not in render.plan_json(plan)
    assert json.loads(render.plan_json(plan))["calls"][0]["patch"]["external_pin"] == "(sensitive)"


@pytest.mark.parametrize("account", ["wavix-main", "telnyx-main"])
async def test_reading_progress_counts_every_page(
    sandbox: Sandbox, clock: FakeClock, account: str
) -> None:
    from reconciler.sandbox import wavix as wavix_sim

    state = load(EXAMPLE, env={})
    seen: list[tuple[str, int, int]] = []
    if account == "wavix-main":
        wavix_sim.seed_synthetic(sandbox.store, 450)  # 510 numbers: 6 pages of 100
        pages = 6
    else:
        sandbox.store.set_knob("telnyx.rate_limit", 0)
        telnyx_sim.seed_synthetic(sandbox.store, 600, prefix="1415")  # 646: 3 pages x 2 listings
        pages = 6

    provider = state_provider(state, account, sandbox, clock)
    console = Console(file=io.StringIO(), force_terminal=True)
    with render.progress(console, {account: provider}):
        hook = provider.on_progress
        assert hook is not None
        provider.on_progress = lambda *a: (seen.append(a), hook(*a))  # type: ignore[func-returns-value]
        await provider.fetch_all()
    assert provider.on_progress is None  # unhooked afterwards
    requests = provider.requests_sent
    await provider.aclose()
    assert seen, "progress was reported"
    done, total = seen[-1][1], seen[-1][2]
    assert seen[-1][0] == account and done == total == pages
    assert [d for _, d, _ in seen] == list(range(1, pages + 1))
    assert requests >= pages  # the opening wave may ask for a few pages beyond the last
