"""End to end over examples/desired-state through the CLI, against the embedded sandbox:
plan shows changes → apply → plan is empty → drift 0 → carrier-side change → drift 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import EXAMPLE
from helpers import cli, example_copy

from reconciler.cli import main
from reconciler.sandbox import SIMULATORS, Sandbox


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.sqlite3"
    sb = Sandbox.open(path)
    # Shorter carrier-side delays than the defaults, so the test spends little real time waiting.
    sb.store.set_knob("wavix.async_delay_s", 0.2)
    sb.store.set_knob("telnyx.job_pending_s", 0.1)
    sb.store.set_knob("telnyx.job_run_s", 0.1)
    sb.close()
    return path


def test_plan_apply_plan_drift(db: Path, tmp_path: Path) -> None:
    example = example_copy(tmp_path, poll_interval_s=0.1)

    first = cli(db, "plan", example, "--detailed-exitcode")
    assert first.exit_code == 2, first.output
    assert "wavix-main (wavix)" in first.output and "telnyx-main (telnyx)" in first.output
    assert "Plan: " in first.output and "numbers to change in" in first.output
    assert "PATCH /v1/numbers" in first.output
    assert "POST /phone_numbers/jobs/update_phone_numbers" in first.output
    assert "not patchable" in first.output  # the seeded port-pending Telnyx number

    applied = cli(db, "apply", example, input="yes\n")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete" in applied.output

    again = cli(db, "plan", example, "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes." in again.output

    assert cli(db, "drift", example).exit_code == 0

    # Someone changes a managed setting in the carrier's portal.
    asyncio.run(_portal_edit(db))
    drifted = cli(db, "drift", example)
    assert drifted.exit_code == 2, drifted.output
    assert "+13135550105" in drifted.output and "sms_enabled" in drifted.output
    assert "Drift: 1 number (1 field) differs from the configuration" in drifted.output


async def _portal_edit(db: Path) -> None:
    sb = Sandbox.open(db)
    try:
        transport = httpx.ASGITransport(app=sb.app)
        headers = {"Authorization": f"Bearer {SIMULATORS['wavix'].DEFAULT_KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sb/wavix", headers=headers
        ) as client:
            page = (await client.get("/v1/numbers", params={"search": "13135550105"})).json()
            [number] = [n for n in page["items"] if n["number"] == "13135550105"]
            response = await client.patch(
                f"/v1/numbers/{number['id']}", json={"sms_enabled": False}
            )
            assert response.status_code == 200, response.text
    finally:
        sb.close()


def test_apply_needs_yes(db: Path) -> None:
    result = cli(db, "apply", EXAMPLE, input="no\n")
    assert result.exit_code == 1
    assert "nothing was changed" in result.output
    assert cli(db, "plan", EXAMPLE, "--detailed-exitcode").exit_code == 2


def test_plan_json_is_the_plan(db: Path) -> None:
    result = cli(db, "plan", EXAMPLE, "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["summary"]["changed"] == len(data["changes"]) > 0
    assert data["summary"]["calls"] == len(data["calls"]) >= 2
    assert {c["carrier"] for c in data["calls"]} == {"wavix", "telnyx"}


def test_declared_number_not_in_account_is_an_error(db: Path, tmp_path: Path) -> None:
    example = example_copy(tmp_path, poll_interval_s=0.1)
    (example / "numbers" / "extra.yaml").write_text(
        "numbers:\n  - provider: wavix-main\n    number: '+13135559999'\n"
        "    settings: {sms_enabled: true}\n"
    )
    result = cli(db, "apply", example, "--auto-approve")
    assert result.exit_code == 1
    assert "+13135559999" in result.output and "never buys numbers" in result.output
    assert "Applying" not in result.output  # refused before any call


def test_invalid_config_exits_1_without_traceback(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "providers:\n  wx: {type: wavix, sandbox: true}\nnumbers:\n"
        "  - {provider: wx, number: '+1313555*', settings: {sms_enable: true}}\n"
    )
    for command in ("validate", "plan", "apply", "drift"):
        result = cli(db, command, bad)
        assert result.exit_code == 1, (command, result.output)
        assert f"{bad}:4:" in result.output and "did you mean 'sms_enabled'" in result.output
        assert "Traceback" not in result.output


def test_unset_key_variable_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  wx: {type: wavix, api_key: '${NOT_SET_ANYWHERE_KEY}'}\nnumbers:\n"
        "  - {provider: wx, number: '+1313555*', settings: {sms_enabled: true}}\n"
    )
    result = cli(db, "plan", config)
    assert result.exit_code == 1
    assert "NOT_SET_ANYWHERE_KEY is not set" in result.output


def test_rejected_key_never_printed(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "wvx_totally_secret_value_42"
    monkeypatch.setenv("WX_BAD_KEY", secret)
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  wx: {type: wavix, sandbox: true, api_key: '${WX_BAD_KEY}'}\nnumbers:\n"
        "  - {provider: wx, number: '+1313555*', settings: {sms_enabled: true}}\n"
    )
    result = CliRunner().invoke(
        main,
        ["-vv", "plan", str(config)],
        env={"RECONCILER_SANDBOX_DB": str(db), "WX_BAD_KEY": secret},
    )
    assert result.exit_code == 1
    assert "401" in result.output
    assert secret not in result.output


def test_schema_matches_the_committed_file() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    committed = (EXAMPLE.parent.parent / "docs" / "config.schema.json").read_text()
    assert json.loads(result.output) == json.loads(committed), (
        "run: reconciler schema > docs/config.schema.json"
    )
    schema = json.loads(result.output)
    assert set(schema["properties"]) == {"providers", "profiles", "numbers"}


def test_validate_example(db: Path) -> None:
    result = cli(db, "validate", EXAMPLE)
    assert result.exit_code == 0
    assert "Configuration is valid: 4 file(s), 2 account(s), 6 number selector(s)." in result.output


def test_apply_without_an_answer_changes_nothing(db: Path) -> None:
    result = cli(db, "apply", EXAMPLE, input="")
    assert result.exit_code == 1
    assert "no answer; nothing was changed (use --auto-approve in scripts)" in result.output
    assert cli(db, "plan", EXAMPLE, "--detailed-exitcode").exit_code == 2


def test_reviewer_loop_with_a_saved_plan(db: Path, tmp_path: Path) -> None:
    """The review loop as a new user runs it: plan -o → show --format markdown → apply the
    file → drift 0."""
    example = example_copy(tmp_path, poll_interval_s=0.1)
    plan_file = tmp_path / "plan.json"

    planned = cli(db, "plan", example, "-o", plan_file)
    assert planned.exit_code == 0, planned.output
    assert f"reconciler apply {plan_file}" in planned.stderr

    shown = cli(db, "show", plan_file, "--format", "markdown")
    assert shown.exit_code == 0
    assert shown.stdout.startswith("<!-- reconciler-plan -->")
    assert "wavix-main" in shown.stdout and "telnyx-main" in shown.stdout

    applied = cli(db, "apply", plan_file)  # a saved plan applies without a prompt
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 23 numbers changed" in applied.output

    assert cli(db, "drift", example).exit_code == 0
    assert cli(db, "plan", example, "--detailed-exitcode").exit_code == 0
