"""Fleets (issue 14 item 6): ``--account NAME`` limits plan, apply, drift and export to those
accounts, like terraform's ``-target``: the others are not read (the sandbox's request log shows
no request to them), a saved plan records the selection, and ``apply plan.json --account`` applies
a subset of the plan file and leaves the rest untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import cli, example_copy

from reconciler.sandbox import Sandbox, requestlog
from reconciler.sandbox.store import SandboxStore

WX, TX = "wavix-main", "telnyx-main"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.sqlite3"
    sb = Sandbox.open(path)
    sb.store.set_knob("request_log", True)
    sb.store.set_knob("wavix.async_delay_s", 0.1)
    sb.store.set_knob("telnyx.job_pending_s", 0.1)
    sb.store.set_knob("telnyx.job_run_s", 0.1)
    sb.close()
    return path


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return example_copy(tmp_path, poll_interval_s=0.05)


def carriers_asked(db: Path) -> list[tuple[str, str]]:
    """(carrier, method) of every request the sandbox answered, oldest first."""
    store = SandboxStore(db)
    try:
        return [(e.carrier, e.method) for e in requestlog.entries(store)]
    finally:
        store.close()


def clear_log(db: Path) -> None:
    store = SandboxStore(db)
    try:
        with store.lock:
            store.conn.execute("DELETE FROM sandbox_requests")
            store.conn.commit()
    finally:
        store.close()


def test_plan_with_an_account_reads_only_that_account(db: Path, example: Path) -> None:
    result = cli(db, "plan", example, "--account", WX, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [a["account"] for a in data["accounts"]] == [WX]
    assert {c["account"] for c in data["calls"]} == {WX}
    assert data["meta"]["accounts"] == {"selected": [WX], "declared": [TX, WX]}
    (warning,) = [w for w in data["warnings"] if w["rail"] == "target"]
    assert "1 of the 2 declared accounts; not read: telnyx-main" in warning["message"]
    asked = carriers_asked(db)
    assert ("wavix", "GET") in asked and not [a for a in asked if a[0] == "telnyx"]


def test_an_unset_key_of_an_account_not_selected_does_not_block(
    db: Path, example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    providers = example / "providers.yaml"
    providers.write_text(
        providers.read_text().replace(
            f"  {TX}:\n", f"  {TX}:\n    api_key: ${{FLEET_UNSET_TELNYX_KEY}}\n"
        )
    )
    monkeypatch.delenv("FLEET_UNSET_TELNYX_KEY", raising=False)
    everything = cli(db, "plan", example)
    assert everything.exit_code == 1 and "FLEET_UNSET_TELNYX_KEY" in everything.output
    assert cli(db, "plan", example, "--account", WX).exit_code == 0


@pytest.mark.parametrize("command", ["plan", "apply", "drift", "export"])
def test_an_unknown_account_is_refused_naming_the_declared_ones(
    db: Path, example: Path, command: str
) -> None:
    approve = ("--auto-approve",) if command == "apply" else ()
    result = cli(db, command, example, "--account", "wavix-mian", *approve)
    assert result.exit_code == 1, result.output
    assert "did you mean 'wavix-main'?" in result.output
    assert "Traceback" not in result.output
    assert "--account wavix-mian" in result.output  # export words it as the others do
    if command != "export":
        nowhere = cli(db, command, example, "--account", "nothing-like-it")
        assert "expected one of: telnyx-main, wavix-main" in nowhere.output
    assert carriers_asked(db) == []


def test_a_saved_plan_records_its_accounts_and_show_says_so(
    db: Path, example: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert cli(db, "plan", example, "--account", WX, "-o", saved).exit_code == 0
    shown = cli(db, "show", saved)
    assert shown.exit_code == 0, shown.output
    assert "accounts: wavix-main of 2." in shown.output
    assert "limited to --account wavix-main" in shown.output
    whole = tmp_path / "whole.json"
    assert cli(db, "plan", example, "-o", whole).exit_code == 0
    assert "accounts:" not in cli(db, "show", whole).output


def test_apply_of_a_plan_file_refuses_an_account_it_does_not_hold(
    db: Path, example: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert cli(db, "plan", example, "--account", WX, "-o", saved).exit_code == 0
    clear_log(db)
    result = cli(db, "apply", saved, "--account", TX)
    assert result.exit_code == 1, result.output
    assert "--account telnyx-main" in result.output
    assert "expected one of: wavix-main" in result.output
    assert "Applying" not in result.output
    assert carriers_asked(db) == []  # not even a read


def test_apply_of_a_plan_file_with_an_account_applies_only_that_account(
    db: Path, example: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert cli(db, "plan", example, "-o", saved).exit_code == 0
    clear_log(db)

    first = cli(db, "apply", saved, "--account", WX)
    assert first.exit_code == 0, first.output
    assert "Left out by --account" in first.output
    assert f"{TX}: 11 number(s) in 4 call(s)" in first.output  # 2 jobs, messaging, emergency
    assert f"reconciler apply {saved} --account {TX}" in first.output
    assert "Apply complete" in first.output
    asked = carriers_asked(db)
    assert ("wavix", "PATCH") in asked and not [a for a in asked if a[0] == "telnyx"]

    after = json.loads(cli(db, "plan", example, "--json").stdout)
    assert {a["account"]: a["changed"] for a in after["accounts"]} == {WX: 0, TX: 11}

    # The rest of the same file applies later: its Telnyx numbers have not moved.
    second = cli(db, "apply", saved, "--account", TX)
    assert second.exit_code == 0, second.output
    assert cli(db, "plan", example, "--detailed-exitcode").exit_code == 0


def test_apply_of_a_config_with_an_account_changes_only_that_account(
    db: Path, example: Path
) -> None:
    result = cli(db, "apply", example, "--account", TX, "--auto-approve")
    assert result.exit_code == 0, result.output
    asked = carriers_asked(db)
    assert ("telnyx", "POST") in asked and not [a for a in asked if a[0] == "wavix"]
    after = json.loads(cli(db, "plan", example, "--json").stdout)
    assert {a["account"]: a["changed"] for a in after["accounts"]} == {WX: 12, TX: 0}


def test_drift_of_a_subset_checks_only_that_subset(db: Path, example: Path) -> None:
    assert cli(db, "apply", example, "--auto-approve").exit_code == 0
    edit = cli(db, "sandbox", "drift", "--numbers", "1", "--carrier", "telnyx", "--seed", "3",
               "--config", example)  # fmt: skip
    assert edit.exit_code == 0, edit.output
    assert cli(db, "drift", example).exit_code == 2
    clear_log(db)
    calm = cli(db, "drift", example, "--account", WX)
    assert calm.exit_code == 0, calm.output
    assert not [a for a in carriers_asked(db) if a[0] == "telnyx"]
    assert cli(db, "drift", example, "--account", TX).exit_code == 2


def test_export_takes_account_and_the_old_provider_spelling_warns_once(
    db: Path, example: Path
) -> None:
    new = cli(db, "export", example, "--account", WX)
    assert new.exit_code == 0, new.output
    assert "deprecated" not in new.stderr
    old = cli(db, "export", example, "--provider", WX, "--provider", WX)
    assert old.exit_code == 0, old.output
    assert old.stdout.replace(_stamp(old.stdout), "") == new.stdout.replace(_stamp(new.stdout), "")
    assert old.stderr.count("--provider is deprecated; use --account") == 1
    assert "--provider" not in cli(db, "export", "--help").output


def _stamp(text: str) -> str:
    """The export's time stamp line (it differs between two runs)."""
    return next((line for line in text.splitlines() if "20" in line and "#" in line), "")
