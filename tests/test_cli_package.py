"""The cli/ package (issue 16 part D): apply's mode decided once (ApplyRequest), rail overrides
built by a click callback, drift --all (-v kept as a deprecated alias), carrier choices from the
registry, and the GitHub command loaded only when used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import EXAMPLE
from helpers import cli, example_copy

from reconciler import carriers, rails
from reconciler.cli import ApplyRequest
from reconciler.cli.options import CarrierChoice, rail_options


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.sqlite3"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return example_copy(tmp_path, poll_interval_s=0.05)


@pytest.mark.parametrize("flag", [("--skip-stale",), ("--config", "other.yaml")])
def test_apply_of_a_config_refuses_the_plan_file_flags(
    db: Path, config: Path, flag: tuple[str, ...]
) -> None:
    # Before, --skip-stale and --config were silently ignored for a config PATH.
    result = cli(db, "apply", config, "--auto-approve", *flag)
    assert result.exit_code == 1
    assert f"{flag[0]} apply to a plan file" in result.output
    assert f"{config} is a config" in result.output
    assert "Applying" not in result.output  # refused before anything was read


def test_apply_request_decides_the_mode_once(db: Path, config: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli(db, "plan", config, "-o", plan_file).exit_code == 0
    saved = ApplyRequest.of(plan_file, accounts=["wavix-main"])
    assert saved.saved is not None and saved.saved.config_path == str(config)
    assert saved.lock_key == str(config.resolve())  # the config the plan was made from
    assert saved.again == f"reconciler apply {plan_file} --account wavix-main"
    fresh = ApplyRequest.of(config, targets=["+1313*"])
    assert fresh.saved is None and fresh.lock_key == str(config.resolve())
    with pytest.raises(click.UsageError, match="--target applies when planning"):
        ApplyRequest.of(plan_file, targets=["+1313*"])


def test_rail_options_build_one_typed_value() -> None:
    got: list[rails.Overrides] = []

    @click.command()
    @rail_options
    def command(overrides: rails.Overrides) -> None:
        got.append(overrides)

    runner = CliRunner()
    assert runner.invoke(command, []).exit_code == 0
    assert runner.invoke(command, ["--max-changes", "5", "--force"]).exit_code == 0
    share = runner.invoke(command, ["--max-change-share", "0.5", "--max-routing-changes", "0"])
    assert share.exit_code == 0
    assert got == [
        rails.Overrides(),
        rails.Overrides(max_changes=5, force=True),
        rails.Overrides(max_change_share=0.5, max_routing_changes=0),
    ]


def test_drift_all_lists_every_number_and_v_is_a_deprecated_alias(db: Path, config: Path) -> None:
    every = cli(db, "drift", config, "--all")
    assert every.exit_code == 2, every.output
    assert "+16505550100" in every.stdout  # an unmanaged Telnyx number, listed with --all
    assert "deprecated" not in every.output
    old = cli(db, "drift", config, "-v")
    assert old.exit_code == 2 and old.stdout == every.stdout
    assert old.stderr.count("drift -v is deprecated; use --all") == 1
    short = cli(db, "drift", config).stdout
    assert "+16505550100" not in short
    assert "Every drifted number and cause: --all." in short  # the hint names the new flag
    logging = cli(db, "-v", "drift", config)  # the group's -v is still logging
    assert logging.exit_code == 2 and "deprecated" not in logging.output
    assert "+16505550100" not in logging.stdout


def test_carrier_choices_come_from_the_registry(db: Path) -> None:
    simulated = sorted(n for n, c in carriers.registry().items() if c.simulator)
    assert list(CarrierChoice().choices) == list(carriers.names())
    assert list(CarrierChoice(simulated=True, extra=("all",)).choices) == [*simulated, "all"]
    result = cli(db, "sandbox", "drift", "--numbers", 1, "--carrier", "nope")
    assert result.exit_code == 1
    assert all(name in result.output for name in simulated)


def test_the_cli_imports_no_http_client_and_github_loads_when_used() -> None:
    code = (
        "import sys\n"
        "import reconciler.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('reconciler.ci')))\n"
        "from click.testing import CliRunner\n"
        "out = CliRunner().invoke(reconciler.cli.main, ['github', '--help']).output\n"
        "print('reconciler.ci.command' in sys.modules, 'Usage:' in out)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True True"], done.stdout


def test_python_m_reconciler_cli_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler.cli", "validate", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "Configuration is valid" in done.stdout, done.stderr
