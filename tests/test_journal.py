"""The apply journal, the lock and Ctrl-C: nothing sent twice, nothing lost, nothing interleaved.

Run-level tests share a fake clock between the in-process sandbox and the providers; the CLI
tests use a sandbox file with short carrier delays (like test_e2e) and a state directory of
their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helpers
import httpx
import pytest
from click.testing import Result
from helpers import sandbox_provider, sandbox_transport
from test_e2e import db  # noqa: F401 - the sandbox file fixture, short carrier delays
from test_pending_jobs import example, jobs, one_run

from reconciler import journal, render, runner
from reconciler.apply.events import CallFinished, CallStarted
from reconciler.clock import FakeClock
from reconciler.models import unflatten
from reconciler.plan import BulkCall, Plan
from reconciler.sandbox import Sandbox
from reconciler.seam import CallStatus

CREATE_JOB = "/phone_numbers/jobs/update_phone_numbers"
EMERGENCY = "update_emergency_settings"


async def planned_plan(path: Path, sandbox: Sandbox, clock: FakeClock) -> Plan:
    async with runner.planned(path, wiring=runner.Wiring(sandbox=sandbox, clock=clock)) as run:
        return run.plan


async def post_jobs(sandbox: Sandbox, clock: FakeClock, calls: list[BulkCall]) -> list[str]:
    """What a killed run's POSTs left behind: the jobs, created at the carrier."""
    provider = sandbox_provider(sandbox, "telnyx", clock=clock)
    try:
        made = []
        for call in calls:
            body = {"phone_numbers": list(call.ids), **unflatten(call.patch)}
            answer = await provider.http.request("POST", CREATE_JOB, json=body)
            made.append(answer.json()["data"]["id"])
        return made
    finally:
        await provider.aclose()


def start(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock, pending_s: float
) -> tuple[Path, journal.Journal, Plan]:
    """The example config, a journal, jobs pending ``pending_s`` and the first plan."""
    path = example(tmp_path)
    sandbox.store.set_knob("telnyx.job_pending_s", pending_s)
    log = journal.Journal.open(tmp_path / "state")
    return path, log, asyncio.run(planned_plan(path, sandbox, clock))


def test_run_killed_after_post_is_settled_by_next_run(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path, log, plan = start(tmp_path, sandbox, clock, 12)
    # The update jobs (post_jobs POSTs update_phone_numbers bodies); the example's messaging and
    # emergency calls go out with run 2.
    calls = [c for c in plan.calls if c.carrier == "telnyx" and c.operation is None]
    before = jobs(sandbox)

    # Run 1: each call journalled, then POSTed; the process dies before any answer is recorded.
    record = log.recorder(plan, str(path))
    for index, call in enumerate(calls):
        record.record(CallStarted(index, call))
    made = asyncio.run(post_jobs(sandbox, clock, calls))
    assert len(log.open_calls()) == len(calls) == len(made)

    # Run 2 settles them first: the jobs are found by their content and waited for, not re-sent.
    async def run_with_journal() -> tuple[Any, Any]:
        wiring = runner.Wiring(sandbox=sandbox, clock=clock)
        async with runner.planned(path, wiring=wiring, journal=log) as run:
            report = await runner.apply(run.plan, run.providers, clock=clock, held=run.held)
            return run, report

    run, report = asyncio.run(run_with_journal())
    assert len(run.settled) == len(calls)
    assert all("still pending: this run waits for it" in s.how for s in run.settled)
    assert {s.how.split()[1] for s in run.settled} == set(made)
    assert {h.job.job_id for h in run.held.waits} == set(made)
    # The held numbers' update fields are not sent again; their messaging and emergency fields
    # are (a job holds a number for its own operation only); the emergency job pends as long
    # (12 s) and is waited for by the run after.
    assert not any(c.carrier == "telnyx" and c.operation is None for c in run.plan.calls)
    assert {c.operation for c in run.plan.calls if c.carrier == "telnyx"} == {
        c.operation for c in plan.calls if c.carrier == "telnyx" and c.operation is not None
    }
    assert log.open_calls() == []
    sent_later = [c for c in plan.calls if c.carrier == "telnyx" and c.operation == EMERGENCY]
    for _ in range(4):
        if report.exit_code == 0:
            break
        run, report = asyncio.run(one_run(path, sandbox, clock))
    assert report.exit_code == 0
    assert jobs(sandbox) - before == len(calls) + len(sent_later)  # no duplicate job
    final, _ = asyncio.run(one_run(path, sandbox, clock))
    assert not final.plan.has_changes
    log.close()


def test_settle_reports_finished_jobs_and_idempotent_calls(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path, log, plan = start(tmp_path, sandbox, clock, 1)
    telnyx = next(c for c in plan.calls if c.carrier == "telnyx")
    wavix = next(c for c in plan.calls if c.carrier == "wavix")
    (job_id,) = asyncio.run(post_jobs(sandbox, clock, [telnyx]))
    record = log.recorder(plan, str(path))
    record.record(CallStarted(0, telnyx))
    # the run stopped waiting: the job id is known, the outcome is not
    record.record(CallFinished(0, CallStatus.FAILED, job_id=job_id, outcome_unknown=True))
    record.record(CallStarted(1, wavix))
    clock.advance(3600)  # the job has long finished

    async def settle() -> list[journal.Settled]:
        wiring = runner.Wiring(sandbox=sandbox, clock=clock)
        async with runner.planned(path, wiring=wiring, journal=log) as run:
            return run.settled

    settled = {s.call.carrier: s.how for s in asyncio.run(settle())}
    assert settled["telnyx"] == f"job {job_id} completed; the plan shows what is left"
    assert settled["wavix"].startswith("idempotent call: this run re-read the numbers")
    assert log.open_calls() == []
    log.close()


def test_journal_keeps_no_secret_values(tmp_path: Path) -> None:
    canary = "pin-canary-7Hq"
    call = BulkCall("telnyx-main", "telnyx", {"external_pin": canary, "tags": ["a"]}, ("1", "2"))
    plan = Plan(accounts=(), changes=(), calls=(call,))
    log = journal.Journal.open(tmp_path / "state")
    record = log.recorder(plan, "config")
    record.record(CallStarted(0, call))
    record.record(
        CallFinished(0, CallStatus.PARTIAL, job_id="j1", error=f"10015: {canary} refused")
    )
    (row,) = log.rows()
    assert row["state"] == "done" and row["job_id"] == "j1" and row["ids"] == '["1", "2"]'
    assert row["errors"] == "10015: *** refused"
    assert journal.SECRET in row["patch"] and '"tags": ["a"]' in row["patch"]
    assert row["patch_hash"] == journal.patch_hash(
        "telnyx", ("1", "2"), {"external_pin": "other", "tags": ["a"]}
    )
    log.close()
    for file in (tmp_path / "state").iterdir():
        assert canary.encode() not in file.read_bytes()


# ---- through the CLI


def cli(sandbox_db: Path, state: Path, *args: Any) -> Result:
    return helpers.cli(sandbox_db, *args, env={"RECONCILER_STATE_DIR": str(state)})


def fast_example(tmp_path: Path, wavix_batch: int | None = None) -> Path:
    dest = helpers.example_copy(tmp_path, poll_interval_s=0.05)
    if wavix_batch:
        providers = dest / "providers.yaml"
        text = providers.read_text()
        providers.write_text(
            text.replace("type: wavix", f"type: wavix\n    max_ids_per_call: {wavix_batch}")
        )
    return dest


def test_lock_refuses_a_concurrent_apply(
    tmp_path: Path,
    db: Path,  # noqa: F811 - the fixture imported from test_e2e
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = fast_example(tmp_path)
    state = tmp_path / "state"
    monkeypatch.setattr(journal, "LOCK_WAIT_S", 0.2)
    with journal.apply_lock(str(path.resolve()), state):  # another apply of this config
        refused = cli(db, state, "apply", path, "--auto-approve")
    assert refused.exit_code == 1, refused.output
    assert "another apply of" in refused.output and "is running (pid" in refused.output
    assert "Applying" not in refused.output and "Traceback" not in refused.output
    done = cli(db, state, "apply", path, "--auto-approve")  # the lock was released
    assert done.exit_code == 0, done.output
    assert "Apply complete" in done.output


@contextlib.contextmanager
def interrupting_display(*args: Any) -> Iterator[Any]:
    """The CLI's progress display, as if Ctrl-C came after the first finished call."""

    def done(result: Any) -> None:
        raise KeyboardInterrupt

    yield done if len(args) > 2 else None


def test_ctrl_c_reports_sent_and_unsent_calls_and_the_next_run_settles(
    tmp_path: Path,
    db: Path,  # noqa: F811 - the fixture imported from test_e2e
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = fast_example(tmp_path, wavix_batch=1)  # many small Wavix calls, 4 at a time
    state = tmp_path / "state"
    with monkeypatch.context() as patch:
        patch.setattr(render, "progress", interrupting_display)
        stopped = cli(db, state, "apply", path, "--auto-approve")
    assert stopped.exit_code == 130, stopped.output
    out = stopped.output
    assert "Interrupted: " in out
    assert "  finished   " in out and "  not sent   " in out
    assert "Next: run 'reconciler apply " in out and "journal.sqlite3" in out

    log = journal.Journal(state / journal.JOURNAL_FILE)
    rows = log.rows()
    states = [r["state"] for r in rows]
    finished = states.count("done")  # the first, and any answered before the cancel landed
    in_flight = states.count("interrupted")
    assert finished >= 1
    assert f"Interrupted: {finished} call(s) finished, {in_flight} in flight" in out
    assert all(r["state"] in ("done", "interrupted") for r in rows)  # nothing left 'sending'
    planned_calls = int(out.split("Applying ")[1].split()[0])
    assert len(rows) < planned_calls  # the rest were never sent
    assert out.count("  not sent   ") == planned_calls - len(rows)
    open_before = len(log.open_calls())
    assert open_before == in_flight
    telnyx_sent = sum(1 for r in rows if makes_job(r))
    log.close()

    again = cli(db, state, "apply", path, "--auto-approve")
    assert again.exit_code == 0, again.output
    if open_before:
        assert f"Settled {open_before} call(s) an earlier apply left open" in again.output
    assert journal.Journal(state / journal.JOURNAL_FILE).open_calls() == []
    assert cli(db, state, "plan", path, "--detailed-exitcode").exit_code == 0
    later = journal.Journal(state / journal.JOURNAL_FILE).rows()
    first_run = rows[0]["run"]
    # (operation, number) pairs of carrier jobs: a number settled for one operation may be sent
    # for another, and a messaging order (no job; it cannot be listed) is re-sent for the numbers
    # the re-read shows unassigned (an assignment is idempotent)
    in_flight = {(kind(r), i) for r in rows if makes_job(r) for i in json.loads(r["ids"])}
    resent = {
        (kind(r), i)
        for r in later
        if r["run"] != first_run and makes_job(r) and not r["follows"]
        for i in json.loads(r["ids"])
    }
    assert in_flight and not in_flight & resent  # settled, never posted again
    sandbox = Sandbox.open(db)
    try:
        assert jobs(sandbox) == telnyx_sent + sum(
            1 for r in later if r["run"] != first_run and makes_job(r) and not r["follows"]
        )
    finally:
        sandbox.close()


def kind(row: dict[str, Any]) -> str:
    """The operation of a journalled Telnyx call, from the fields its patch sets."""
    patch = json.loads(row["patch"])
    if "messaging_profile_id" in patch:
        return "messaging"
    if any(k.startswith("emergency_") for k in patch):
        return "emergency"
    return "update"


def makes_job(row: dict[str, Any]) -> bool:
    """A journalled Telnyx call that creates a carrier job (update or emergency settings); a
    messaging profile order leaves no job."""
    return row["carrier"] == "telnyx" and "messaging_profile_id" not in json.loads(row["patch"])


class LostReplies(httpx.AsyncBaseTransport):
    """Every Wavix PATCH reaches the sandbox (the change lands) but its answer is lost."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "PATCH":
            await response.aread()
            self.lost += 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def test_lost_reply_whose_change_landed_counts_as_applied(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path = example(tmp_path)
    log = journal.Journal.open(tmp_path / "state")
    lossy = LostReplies(sandbox_transport(sandbox))

    async def go() -> tuple[Plan, Any]:
        wiring = runner.Wiring(sandbox=sandbox, clock=clock, transports={"wavix-main": lossy})
        async with runner.planned(path, wiring=wiring) as run:
            report = await runner.apply(
                run.plan, run.providers, clock=clock, record=log.recorder(run.plan, str(path))
            )
            return run.plan, report

    plan, report = asyncio.run(go())
    wavix = [r for r in report.results if r.call.carrier == "wavix"]
    assert lossy.lost >= len(wavix) >= 1 and all(r.outcome_unknown for r in wavix)
    assert [str(r.status) for r in wavix] == ["ok"] * len(wavix)  # was "failed, 0 applied"
    assert report.exit_code == 0 and not report.failed
    assert "0 applied" not in render.apply_text(report, plan)
    rows = [r for r in log.rows() if r["carrier"] == "wavix"]
    assert [r["settled"] for r in rows] == ["verified by the same run"] * len(rows)
    assert log.open_calls() == []
    log.close()


MESSAGING = "messaging_bulk_update"


def test_open_messaging_order_is_re_read_and_re_sent_not_waited_for(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    """A messaging order an earlier run left open while its numbers were still pending: orders
    cannot be listed, so no pending-job check holds its numbers and the run cannot wait for it.
    The journal says so (it said "this run waits for it"), and the run does what it says: the
    plan re-reads the numbers and re-sends the order's change; the numbers end assigned."""
    path, log, plan = start(tmp_path, sandbox, clock, 1)
    sandbox.store.set_knob("telnyx.messaging_order_pending_s", 60)
    (order,) = [c for c in plan.calls if c.operation == MESSAGING]

    async def post_order() -> str:
        provider = sandbox_provider(sandbox, "telnyx", clock=clock)
        try:
            body = {
                "messaging_profile_id": order.patch["messaging_profile_id"],
                "numbers": list(order.e164s),
                "assign_only": True,
            }
            answer = await provider.http.request(
                "POST", "/messaging_numbers_bulk_updates", json=body
            )
            return str(answer.json()["data"]["order_id"])
        finally:
            await provider.aclose()

    order_id = asyncio.run(post_order())
    record = log.recorder(plan, str(path))
    record.record(CallStarted(0, order))  # the run stopped waiting with the order still pending
    record.record(CallFinished(0, CallStatus.FAILED, job_id=order_id, outcome_unknown=True))

    async def second_run() -> tuple[Any, Any]:
        wiring = runner.Wiring(sandbox=sandbox, clock=clock)
        async with runner.planned(path, wiring=wiring, journal=log) as run:
            report = await runner.apply(run.plan, run.providers, clock=clock, held=run.held)
            return run, report

    run, _ = asyncio.run(second_run())
    (settled,) = run.settled
    assert settled.how == (
        f"{MESSAGING} {order_id} still had pending numbers; {MESSAGING} calls cannot be listed, "
        "so this run re-reads the numbers and re-sends what is not applied (sending the same "
        "value twice is harmless)"
    )
    assert "waits" not in settled.how
    assert log.open_calls() == []
    # What the wording says: nothing holds the numbers, the plan re-sends the same change.
    assert not [h for h in run.held.waits if h.job.job_id == order_id]
    (again,) = [c for c in run.plan.calls if c.operation == MESSAGING]
    assert (again.e164s, again.patch) == (order.e164s, order.patch)
    orders = sandbox.store.conn.execute("SELECT count(*) FROM telnyx_messaging_orders")
    assert orders.fetchone()[0] == 2
    clock.advance(120)  # both orders settle; assigning the profile twice left it assigned
    final, _ = asyncio.run(one_run(path, sandbox, clock))
    assert not [c for c in final.plan.calls if c.operation == MESSAGING]
    log.close()
