"""The apply report (issue 14 item 4; issue 15 items 4, 5, 17): ``apply --format
text|json|markdown``, failures grouped by cause, honest counts when a run only waits for jobs an
earlier run left at the carrier, and a still-pending job labelled for what it is.

The CLI runs use the embedded sandbox with short carrier delays; the pending-job runs go through
the runner on the fake clock (``telnyx.job_pending_s`` outlives ``job_timeout_s``)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import EXAMPLE, REPO
from helpers import cli, example_copy, fast_sandbox_db
from test_render import PIN, e164, make_plan, pin_plan

from reconciler import render, runner
from reconciler.applier import ApplyInterrupted, ApplyReport, Unconverged
from reconciler.clock import FakeClock
from reconciler.plan import FieldChange, Plan
from reconciler.providers.base import CallResult, CallStatus
from reconciler.providers.telnyx.jobs import settle
from reconciler.render import apply_outcome
from reconciler.sandbox import Sandbox

SCHEMA = json.loads((REPO / "docs" / "apply-output.schema.json").read_text())
TELNYX = "    type: telnyx\n    sandbox: true"
MESSAGING = "messaging_bulk_update"


def report_of(report: ApplyReport | render.ApplyOutcome, plan: Plan, fmt: str, **kw: Any) -> str:
    out = io.StringIO()
    render.write_apply(report, plan, out, fmt=fmt, **kw)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Issue 15 item 17: 6,000 numbers failed for one cause


def failed_for_one_cause(n: int = 6_000) -> tuple[Plan, ApplyReport]:
    plan = make_plan([(e164(i), (FieldChange("sms_enabled", False, True),)) for i in range(n)])
    why = "code 10015: sms_enabled cannot be set on this number type"
    results = [
        CallResult(c, CallStatus.FAILED, failed={i: why for i in c.ids}, error=why)
        for c in plan.calls
    ]
    failed = {("wavix-main", c.id): Unconverged(c.e164, why) for c in plan.changes}
    return plan, ApplyReport(results=results, unconverged=failed)


def test_six_thousand_failures_of_one_cause_are_one_line_with_examples() -> None:
    plan, report = failed_for_one_cause()
    text = report_of(report, plan, "text")
    lines = text.splitlines()
    # Before: 20 numbers one per line, then "… and 5980 more".
    assert "… and 5980 more" not in text
    (cause,) = [line for line in lines if "cannot be set" in line and "✗" in line]
    assert "6000 numbers: +13135000000, +13135000001, +13135000002 … and 5997 more" in cause
    assert len(lines) < 25
    assert "Every number: --full." in text
    assert lines[-1].startswith("Apply partial: 0 of 6000 numbers converged, 6000 did not")

    full = report_of(report, plan, "text", full=True)
    assert all(e164(i) in full for i in (0, 2_999, 5_999))

    doc = json.loads(report_of(report, plan, "json"))
    jsonschema.validate(doc, SCHEMA)
    (group,) = doc["failed"]
    assert group["count"] == 6_000 and len(group["e164s"]) == 6_000
    assert doc["status"] == "partial" and doc["exit_code"] == 4 and doc["changed"] == 0

    md = report_of(report, plan, "markdown")
    # One row for the 12 calls refused alike, one for the cause (before: a line per number).
    assert md.count("cannot be set") == 2 and "| failed | 12 |" in md and "| 6000 |" in md


# --------------------------------------------------------------------------------------------
# Issue 15 items 4 and 5: a re-run that only waits for held numbers; a still-pending job


def example(tmp_path: Path) -> Path:
    dest = tmp_path / "desired-state"
    shutil.copytree(EXAMPLE, dest)
    providers = dest / "providers.yaml"
    text = providers.read_text()
    assert TELNYX in text
    extra = "\n    job_timeout_s: 5\n    poll_interval_s: 0.7\n    verify_timeout_s: 1"
    providers.write_text(text.replace(TELNYX, TELNYX + extra))
    return dest


async def one_run(path: Path, sandbox: Sandbox, clock: FakeClock) -> tuple[Any, ApplyReport]:
    async with runner.planned(path, wiring=runner.Wiring(sandbox=sandbox, clock=clock)) as run:
        report = await runner.apply(run.plan, run.providers, clock=clock, held=run.held)
        return run, report


def test_rerun_that_only_waits_for_held_numbers_says_nothing_sent(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path = example(tmp_path)
    sandbox.store.set_knob("telnyx.job_pending_s", 60)  # outlives two runs' 5 s job waits
    first, report = asyncio.run(one_run(path, sandbox, clock))
    text = report_of(report, first.plan, "text")
    held = {c.e164 for c in first.plan.changes if c.account == "telnyx-main"}
    assert text.splitlines()[-1].startswith(f"Apply partial: 12 of {12 + len(held)} numbers")

    again, report = asyncio.run(one_run(path, sandbox, clock))
    assert not again.plan.has_changes and again.held.waits  # nothing to send, only to wait for
    assert report.exit_code == 4  # unchanged: the numbers are not in their desired state yet
    text = report_of(report, again.plan, "text")
    last = text.splitlines()[-1]
    # Before: "Apply partial: -11 of 0 numbers converged, 11 did not (...)".
    assert not re.search(r"(^|\s)-\d", last) and "of 0" not in last
    assert last.startswith(f"Nothing sent: {len(held)} numbers are held by live carrier jobs (")
    assert last.endswith("run again after they finish.")
    assert all(h.job.job_id in last for h in again.held.waits)

    doc = json.loads(report_of(report, again.plan, "json"))
    jsonschema.validate(doc, SCHEMA)
    assert (doc["planned"], doc["changed"], doc["held"]) == (0, 0, len(held))
    assert doc["failed"] == [] and doc["not_sent"] == []
    assert {e for g in doc["pending"] for e in g["e164s"]} == held
    assert {g["job_id"] for g in doc["pending"]} == {h.job.job_id for h in again.held.waits}
    assert all(c["followed"] and c["outcome"] == "pending" for c in doc["calls"])
    assert doc["line"] == last


def test_a_job_still_pending_is_labelled_once_with_rounded_seconds(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path = example(tmp_path)
    sandbox.store.set_knob("telnyx.job_pending_s", 60)
    run, report = asyncio.run(one_run(path, sandbox, clock))
    text = report_of(report, run.plan, "text")
    # Carrier jobs (update and emergency); the messaging order is no job and is not held by
    # telnyx.job_pending_s: it completed (issue 17).
    jobs = {r.job_id for r in report.results if r.job_id and r.call.operation != MESSAGING}
    assert len(jobs) == 3
    assert [r.status for r in report.results if r.call.operation == MESSAGING] == [CallStatus.OK]
    for job in jobs:
        lines = [line for line in text.splitlines() if job in line]
        # Before: "failed … job J  (no answer: outcome unknown until verified)  job J still
        # pending after 9.99286s; … check GET /phone_numbers/jobs/J before re-running".
        assert lines and all(line.count(job) == 1 for line in lines), lines
        assert any(line.lstrip().startswith("pending") for line in lines)
        said = rf"job {job} still pending after \d+ s: its numbers are held; the next run settles"
        assert any(re.search(said, line) for line in lines), lines
    assert "no answer" not in text and "outcome unknown" not in text


def test_a_job_given_up_on_says_whole_seconds() -> None:
    plan = make_plan([(e164(0), (FieldChange("sms_enabled", False, True),))])
    job = {"id": "J1", "status": "in_progress"}
    result = settle(plan.calls[0], job, 3, gave_up_after=9.99286)
    reason = result.failed[plan.calls[0].ids[0]]
    assert reason == "job J1 still in_progress after 10 s: its numbers are held; the next run " + (
        "settles it"
    )
    assert result.outcome_unknown and result.retry == frozenset()  # never sent again this run


# --------------------------------------------------------------------------------------------
# Issue 14 item 4: apply --format, through the CLI


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fast_sandbox_db(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return example_copy(tmp_path, poll_interval_s=0.05)


def test_apply_json_is_the_only_stdout_and_matches_the_schema(db: Path, config: Path) -> None:
    applied = cli(db, "apply", config, "--auto-approve", "--format", "json")
    assert applied.exit_code == 0, applied.output
    doc = json.loads(applied.stdout)  # the plan and progress lines went to stderr
    jsonschema.validate(doc, SCHEMA)
    assert (doc["status"], doc["exit_code"]) == ("applied", 0)
    assert doc["planned"] == doc["changed"] == doc["verified"] == 23
    assert {c["outcome"] for c in doc["calls"]} == {"ok"}
    assert {c["label"] for c in doc["calls"]} == {
        "PATCH /v1/numbers",
        "POST /phone_numbers/jobs/update_phone_numbers",
        "POST /messaging_numbers_bulk_updates",  # the example's messaging order (issue 17)
        "POST /phone_numbers/jobs/update_emergency_settings",  # and its emergency job
    }
    assert sum(c["count"] for c in doc["causes"]) >= 23
    assert doc["line"].startswith("Apply complete: 23 numbers changed")
    assert "Plan: 23 numbers" in applied.stderr

    again = cli(db, "apply", config, "--auto-approve", "--format", "json")
    assert again.exit_code == 0, again.output
    nothing = json.loads(again.stdout)
    jsonschema.validate(nothing, SCHEMA)
    assert nothing["status"] == "nothing_to_do" and nothing["calls"] == []


def test_apply_partial_json_groups_failures_and_exits_4(db: Path, config: Path) -> None:
    sb = Sandbox.open(db)
    sb.store.set_knob("telnyx.fail_numbers", ["+13127367203", "+13035559105"])
    sb.close()
    applied = cli(db, "apply", config, "--auto-approve", "--format", "json")
    assert applied.exit_code == 4, applied.output
    doc = json.loads(applied.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert (doc["status"], doc["exit_code"]) == ("partial", 4)
    assert {e for g in doc["failed"] for e in g["e164s"]} == {"+13127367203", "+13035559105"}
    assert doc["changed"] == doc["planned"] - 2
    assert {c["outcome"] for c in doc["calls"]} >= {"ok", "partial"}


def test_refused_apply_prints_a_refused_report(db: Path, config: Path) -> None:
    refused = cli(db, "apply", config, "--auto-approve", "--max-changes", "1", "--format", "json")
    assert refused.exit_code == 3, refused.output
    doc = json.loads(refused.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert (doc["status"], doc["exit_code"], doc["changed"]) == ("refused", 3, 0)
    assert "max_changes" in doc["reason"] and "--force" in doc["reason"]
    assert sum(g["count"] for g in doc["not_sent"]) == 23
    assert {c["outcome"] for c in doc["calls"]} == {"not_sent"}
    assert "nothing was sent" in refused.stderr  # the error handler still says why

    md = cli(db, "apply", config, "--auto-approve", "--max-changes", "1", "--format", "markdown")
    assert md.exit_code == 3
    assert md.stdout.startswith("<!-- reconciler-apply -->\n") and "[!CAUTION]" in md.stdout


def test_apply_markdown_of_a_saved_plan(db: Path, config: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli(db, "plan", config, "-o", plan_file).exit_code == 0
    applied = cli(db, "apply", plan_file, "--format", "markdown")
    assert applied.exit_code == 0, applied.output
    md = applied.stdout
    assert md.startswith("<!-- reconciler-apply -->\n<!-- reconciler-apply part 1/1 -->\n")
    assert "### reconciler apply: applied" in md and "**Apply complete: 23 numbers" in md
    assert "#### Bulk calls by outcome" in md and "#### Changes by cause" in md
    assert "<details>" in md and "Plan: 23 numbers" not in md  # the plan went to stderr


def test_text_apply_is_unchanged_on_stdout(db: Path, config: Path) -> None:
    applied = cli(db, "apply", config, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Plan: 23 numbers" in applied.stdout and "Apply complete: 23" in applied.stdout


# --------------------------------------------------------------------------------------------
# Every ending in every form; secrets; split Markdown; the docs


def endings() -> dict[str, render.ApplyOutcome]:
    plan, report = failed_for_one_cause(40)
    ok = ApplyReport(results=[CallResult(c, CallStatus.OK) for c in plan.calls], verified=40)
    first, rest = plan.calls[0], plan.calls[1:]
    stop = ApplyReport(
        results=[CallResult(first, CallStatus.FAILED, error="401: the API key was rejected")],
        stopped={"wavix-main": "401: the API key was rejected"},
        not_attempted=list(rest),
    )
    cut = ApplyInterrupted(ApplyReport(results=[CallResult(first, CallStatus.OK)]), [], [])
    return {
        "applied": apply_outcome.outcome(ok, plan),
        "partial": apply_outcome.outcome(report, plan),
        "stopped": apply_outcome.outcome(stop, plan),
        "refused": apply_outcome.refused(plan, "apply refused by 1 safety rail; nothing was sent"),
        "interrupted": apply_outcome.interrupted(cut, plan),
        "nothing_to_do": apply_outcome.nothing_to_do(make_plan([])),
    }


@pytest.mark.parametrize("name", list(endings()))
def test_every_ending_validates_and_counts_stay_whole(name: str) -> None:
    o = endings()[name]
    doc = json.loads(report_of(o, o.plan, "json"))
    jsonschema.validate(doc, SCHEMA)
    assert doc["status"] == ("partial" if name == "stopped" else name)
    assert 0 <= doc["changed"] <= doc["planned"]
    text = report_of(o, o.plan, "text")
    assert text.splitlines()[-1] == doc["line"] and "of 0" not in doc["line"]
    md = report_of(o, o.plan, "markdown")
    assert md.startswith(render.APPLY_MARKER + "\n")


def test_schema_rejects_a_wrong_status() -> None:
    o = endings()["applied"]
    doc = json.loads(report_of(o, o.plan, "json"))
    doc["status"] = "done"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_secrets_never_in_any_apply_form() -> None:
    plan = pin_plan()
    call = plan.calls[0]
    echoed = f"10015 Bad Request: external_pin {PIN} is not valid"  # a carrier echoing it
    report = ApplyReport(
        results=[CallResult(call, CallStatus.PARTIAL, failed={call.ids[0]: echoed})],
        unconverged={("telnyx-main", call.ids[0]): Unconverged(call.e164s[0], echoed)},
    )
    for fmt in render.FORMATS:
        for full in (False, True):
            out = report_of(report, plan, fmt, full=full)
            assert PIN not in out, (fmt, full)
            assert "(sensitive)" in out, (fmt, full)


def test_long_apply_markdown_splits_into_marked_parts() -> None:
    o = endings()["partial"]
    parts = render.apply_parts(o, max_chars=1_000, full=True)
    assert len(parts) > 1
    for i, part in enumerate(parts, 1):
        assert len(part) <= 1_000
        assert part.startswith(f"<!-- reconciler-apply -->\n<!-- reconciler-apply part {i}/")


def test_docs_describe_the_apply_document() -> None:
    doc = (REPO / "docs" / "output.md").read_text()
    assert "apply-output.schema.json" in doc and render.APPLY_MARKER in doc
    for key in SCHEMA["required"]:
        assert f"`{key}`" in doc, key
    for status in SCHEMA["properties"]["status"]["enum"]:
        assert f"`{status}`" in doc, status
