"""Pending-job awareness: a re-run never posts a second job for numbers a live job covers.

The sandbox and the providers share a fake clock; ``telnyx.job_pending_s`` keeps jobs pending
longer than the apply waits (``job_timeout_s``), which is how an earlier run leaves one behind.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EXAMPLE
from helpers import sandbox_provider, sandbox_transport

from reconciler import pending, runner
from reconciler.clock import FakeClock
from reconciler.models import LiveNumber
from reconciler.plan import FieldChange, NumberChange
from reconciler.providers.base import PendingJob
from reconciler.sandbox import Sandbox

TELNYX = "    type: telnyx\n    sandbox: true"


def example(tmp_path: Path, **telnyx: Any) -> Path:
    """The shipped example; the Telnyx account with short waits (``telnyx`` adds settings)."""
    dest = tmp_path / "desired-state"
    shutil.copytree(EXAMPLE, dest)
    providers = dest / "providers.yaml"
    extra = {"job_timeout_s": 5, "poll_interval_s": 1, "verify_timeout_s": 1, **telnyx}
    lines = "".join(f"\n    {k}: {v}" for k, v in extra.items())
    text = providers.read_text()
    assert TELNYX in text
    providers.write_text(text.replace(TELNYX, TELNYX + lines))
    return dest


def jobs(sandbox: Sandbox) -> int:
    return int(sandbox.store.conn.execute("SELECT count(*) FROM telnyx_jobs").fetchone()[0])


async def one_run(path: Path, sandbox: Sandbox, clock: FakeClock) -> tuple[Any, Any]:
    """plan → apply (waiting for the held jobs) through the runner, as the CLI does."""
    wiring = runner.Wiring(sandbox=sandbox, clock=clock)
    async with runner.planned(path, wiring=wiring) as run:
        report = await runner.apply(run.plan, run.providers, clock=clock, held=run.held)
        return run, report


def telnyx_calls(run: Any) -> int:
    """The run's Telnyx job POSTs: update and emergency jobs; a messaging order is no job (issue
    17) and leaves no row in telnyx_jobs."""
    return sum(
        1
        for c in run.plan.calls
        if c.carrier == "telnyx" and c.operation != "messaging_bulk_update"
    )


def test_rerun_while_job_pending_posts_no_second_job(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path = example(tmp_path)
    sandbox.store.set_knob("telnyx.job_pending_s", 12)  # longer than a run's 5 s job wait
    before = jobs(sandbox)

    first, report = asyncio.run(one_run(path, sandbox, clock))
    posted = telnyx_calls(first)
    assert posted >= 1 and jobs(sandbox) - before == posted
    assert report.exit_code == 4  # the jobs were still pending when the run stopped waiting

    runs = []
    for _ in range(4):
        run, report = asyncio.run(one_run(path, sandbox, clock))
        runs.append((run, report))
        if report.exit_code == 0 and not run.held.waits:
            break
    assert jobs(sandbox) - before == posted  # the old code posted `posted` more per re-run
    assert all(telnyx_calls(run) == 0 for run, _ in runs)
    waited = [run for run, _ in runs if run.held.waits]
    assert waited, "a re-run should have found the jobs pending at the carrier"
    messages = [w.message for w in waited[0].plan.warnings if w.rail == pending.PENDING]
    assert messages and all("pending at the carrier (job " in m for m in messages)
    # distinct numbers: one number may be held by an update job and an emergency job at once
    held_numbers = len({(h.account, c.id) for h in waited[0].held.waits for c in h.changes})
    assert any(r.verified >= held_numbers for _, r in runs)
    assert runs[-1][1].exit_code == 0

    final, _ = asyncio.run(one_run(path, sandbox, clock))
    assert not final.plan.has_changes and not final.held.waits


def test_incompatible_live_job_numbers_left_out_and_reported(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path = example(tmp_path)
    sandbox.store.set_knob("telnyx.job_pending_s", 3600)

    async def plan_and_conflict() -> tuple[str, set[str]]:
        async with runner.planned(path, wiring=runner.Wiring(sandbox=sandbox, clock=clock)) as run:
            call = next(c for c in run.plan.calls if "connection_id" in c.patch)
        other = sandbox_provider(sandbox, "telnyx", clock=clock)
        try:  # someone else's job sets another connection on two of the planned numbers
            ids = list(call.ids[:2])
            answer = await other.http.request(
                "POST",
                "/phone_numbers/jobs/update_phone_numbers",
                json={"phone_numbers": ids, "connection_id": "1684641123236054999"},
            )
        finally:
            await other.aclose()
        return answer.json()["data"]["id"], set(ids)

    job_id, clashing = asyncio.run(plan_and_conflict())
    before = jobs(sandbox)
    run, report = asyncio.run(one_run(path, sandbox, clock))

    assert {c.id for h in run.held.conflicts for c in h.changes} == clashing
    assert not run.held.waits
    sent = {i for c in run.plan.calls for i in c.ids}
    assert not sent & clashing
    assert not {c.id for c in run.plan.changes} & clashing
    (warning,) = [w for w in run.plan.warnings if w.rail == pending.CONFLICT]
    assert job_id in warning.message and "left out of this run" in warning.message
    assert jobs(sandbox) - before == telnyx_calls(run)  # the others were sent, once
    assert report.exit_code in (0, 4)


def change(**fields: Any) -> NumberChange:
    return NumberChange(
        "telnyx-main",
        "1",
        "+13125550100",
        tuple(FieldChange(k, None, v) for k, v in fields.items()),
    )


def live(**settings: Any) -> LiveNumber:
    return LiveNumber(id="1", e164="+13125550100", status="active", settings=settings)


@pytest.mark.parametrize(
    ("job_patch", "planned", "current", "ok"),
    [
        (None, {"connection_id": "2"}, {"connection_id": "1"}, True),
        ({"connection_id": "2"}, {"connection_id": "2"}, {"connection_id": "1"}, True),
        ({"connection_id": "3"}, {"connection_id": "2"}, {"connection_id": "1"}, False),
        # a field already in sync that the job would change
        (
            {"connection_id": "2", "hd_voice_enabled": False},
            {"connection_id": "2"},
            {"connection_id": "1", "hd_voice_enabled": True},
            False,
        ),
        # keys the job did not keep are not compared; fields the config does not manage neither
        (
            {"hd_voice_enabled": True},
            {"connection_id": "2", "hd_voice_enabled": True},
            {"connection_id": "1", "hd_voice_enabled": False},
            True,
        ),
        (
            {"connection_id": "2", "unmanaged.thing": 1},
            {"connection_id": "2"},
            {"connection_id": "1"},
            True,
        ),
        # tags compare in the carrier's canonical form
        ({"tags": ["b", "a"]}, {"tags": ["a", "b"]}, {"tags": []}, True),
        ({"tags": ["b"]}, {"tags": ["a", "b"]}, {"tags": []}, False),
    ],
)
def test_compatible(
    job_patch: dict[str, Any] | None, planned: dict[str, Any], current: dict[str, Any], ok: bool
) -> None:
    assert pending.compatible(job_patch, change(**planned), live(**current), "telnyx") is ok


class Spy(httpx.AsyncBaseTransport):
    """The sandbox transport, keeping every request's URL."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.urls = inner, []  # type: ignore[var-annotated]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append((request.method, request.url))
        return await self.inner.handle_async_request(request)


def test_pending_work_reads_only_live_update_jobs(sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.store.set_knob("telnyx.job_pending_s", 3600)
    spy = Spy(sandbox_transport(sandbox))
    provider = sandbox_provider(sandbox, "telnyx", clock=clock, transport=spy)

    async def go() -> tuple[list[PendingJob], list[PendingJob], str]:
        try:
            listing = await provider.fetch_all()
            ids = [n.id for n in listing[:3]]
            made = await provider.http.request(
                "POST",
                "/phone_numbers/jobs/update_phone_numbers",
                json={"phone_numbers": ids, "hd_voice_enabled": True},
            )
            mine = await provider.pending_work(ids[:1])
            elsewhere = await provider.pending_work([n.id for n in listing[3:5]])
            return mine, elsewhere, made.json()["data"]["id"]
        finally:
            await provider.aclose()

    mine, elsewhere, job_id = asyncio.run(go())
    assert [(j.job_id, j.status, len(j.ids)) for j in mine] == [(job_id, "pending", 1)]
    assert mine[0].patch == {"hd_voice_enabled": True}
    assert elsewhere == []
    listed = [u for m, u in spy.urls if m == "GET" and u.path.endswith("/phone_numbers/jobs")]
    # issue 17: each call lists the live jobs of both types this client creates
    assert len(listed) == 4
    assert [u.params.get("filter[type]") for u in listed] == [
        "update_phone_numbers",
        "update_emergency_settings",
    ] * 2
    for url in listed:
        assert url.params.get_list("filter[status][]") == ["pending", "in_progress"]


def test_a_pending_update_job_holds_its_own_operation_only(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    """An earlier run's update job is pending over a number that also needs an emergency change
    (the earlier run was stopped between its two POSTs): the re-run waits for the update job
    and still sends the emergency job for that number, then verifies every field of it. The old
    code held the whole number, so its emergency fields were never sent."""
    path = example(tmp_path)
    sandbox.store.set_knob("telnyx.job_pending_s", 2)

    async def earlier_run_stopped_after_the_update_job() -> str:
        async with runner.planned(path, wiring=runner.Wiring(sandbox=sandbox, clock=clock)) as run:
            both = next(
                c
                for c in run.plan.changes
                if {f.field for f in c.changes} >= {"hd_voice_enabled", "emergency_address_id"}
            )
            new = next(f.new for f in both.changes if f.field == "hd_voice_enabled")
        provider = sandbox_provider(sandbox, "telnyx", clock=clock)
        try:
            await provider.http.request(
                "POST",
                "/phone_numbers/jobs/update_phone_numbers",
                json={"phone_numbers": [both.id], "hd_voice_enabled": new},
            )
        finally:
            await provider.aclose()
        return both.id

    number = asyncio.run(earlier_run_stopped_after_the_update_job())
    run, report = asyncio.run(one_run(path, sandbox, clock))

    assert number in {c.id for h in run.held.waits for c in h.changes}
    by_op = {c.operation: set(c.ids) for c in run.plan.calls if c.carrier == "telnyx"}
    assert number in by_op.get("update_emergency_settings", set())  # sent, not held
    assert all(number not in ids for op, ids in by_op.items() if op is None)  # the job's part
    (left,) = [c for c in run.plan.changes if c.id == number]
    assert {f.field for f in left.changes} >= {"emergency_address_id"}
    assert "hd_voice_enabled" not in {f.field for f in left.changes}
    assert report.exit_code == 0, report  # every field of the number verified

    final, _ = asyncio.run(one_run(path, sandbox, clock))
    assert number not in {c.id for c in final.plan.changes}
