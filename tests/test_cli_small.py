"""Small CLI things (issue 14 item 7, issue 15 items 14 and 16): dot-files in a config directory,
a saved plan given where a config is expected, SIGTERM during apply, ``RECONCILER_LOG``, a missing
declared number's file:line, and the variable a rejected Wavix key hint names."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import cli, example_copy
from sandbox_checks import cli_command

from reconciler import journal
from reconciler.cli import LOG_ENV, _log_level, _Terminate
from reconciler.loader import config_files
from reconciler.sandbox import Sandbox, requestlog, wavix
from reconciler.sandbox.store import SandboxStore

WAIT_S = 60.0
"""Upper bound on waiting for a child process (a hang fails the test instead of blocking CI)."""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.sqlite3"
    sb = Sandbox.open(path)
    sb.store.set_knob("wavix.async_delay_s", 0.1)
    sb.store.set_knob("telnyx.job_pending_s", 0.1)
    sb.store.set_knob("telnyx.job_run_s", 0.1)
    sb.close()
    return path


# ---- dot-files and dot-directories


def test_a_config_directory_skips_dot_files_and_dot_directories(db: Path, tmp_path: Path) -> None:
    example = example_copy(tmp_path)
    workflows = example / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "x.yml").write_text("on: push\njobs:\n  plan: {runs-on: ubuntu-latest}\n")
    (example / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = cli(db, "validate", example)
    assert result.exit_code == 0, result.output
    assert "4 file(s)" in result.output
    listed = {f.relative_to(example).as_posix() for f in config_files(example)}
    assert not [f for f in listed if f.startswith(".") or "/." in f]
    # Only components below the given root count: a config directory may itself be a dot-dir.
    hidden = tmp_path / ".config"
    hidden.mkdir()
    (hidden / "c.yaml").write_text("providers:\n  wx: {type: wavix, sandbox: true}\n")
    assert config_files(hidden) == [hidden / "c.yaml"]


# ---- a saved plan where a config is expected


@pytest.mark.parametrize("command", ["plan", "validate", "drift"])
def test_a_saved_plan_given_as_config_points_to_show_and_apply(
    db: Path, tmp_path: Path, command: str
) -> None:
    saved = tmp_path / "plan.json"
    example = example_copy(tmp_path)
    assert cli(db, "plan", example, "-o", saved).exit_code == 0
    result = cli(db, command, saved)
    assert result.exit_code == 1, result.output
    assert (
        f"{saved} is a saved plan: use 'reconciler show {saved}' or 'reconciler apply {saved}'"
        in result.output
    )
    assert "unknown" not in result.output and "Traceback" not in result.output


# ---- config mistakes: file:line of a missing number; the variable of a rejected key


def test_a_declared_number_missing_from_the_account_names_its_file_and_line(
    db: Path, tmp_path: Path
) -> None:
    example = example_copy(tmp_path)
    extra = example / "numbers" / "extra.yaml"
    extra.write_text(
        "# one number too many\nnumbers:\n  - provider: wavix-main\n    number: '+13135559999'\n"
        "    settings: {sms_enabled: true}\n"
    )
    for command in ("plan", "drift"):
        result = cli(db, command, example)
        assert result.exit_code == 1, result.output
        assert (
            f"{extra}:3: declared number not in the account: +13135559999 (wavix-main)"
            in result.output
        ), result.output
        assert "never buys numbers" in result.output


def test_a_rejected_wavix_key_names_the_variable_the_account_uses(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    api_key: ${H2A_WAVIX_KEY}\n"
        "numbers:\n  - {provider: wx, number: '+1313555*', settings: {sms_enabled: true}}\n"
    )
    key = "not-the-sandbox-key-0123456789"
    result = cli(db, "plan", config, env={"H2A_WAVIX_KEY": key})
    assert result.exit_code == 1, result.output
    assert "401" in result.output and "check H2A_WAVIX_KEY" in result.output
    assert "WAVIX_API_KEY" not in result.output and key not in result.output


def test_a_rejected_telnyx_key_names_the_variable_the_account_uses(
    db: Path, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  tx:\n    type: telnyx\n    sandbox: true\n    api_key: ${OTHER_TX_KEY}\n"
        "numbers:\n  - {provider: tx, number: '+1313555*', settings: {hd_voice_enabled: true}}\n"
    )
    key = "KEYnot-the-sandbox-key-0123456789"
    result = cli(db, "plan", config, env={"OTHER_TX_KEY": key})
    assert result.exit_code == 1, result.output
    assert "401" in result.output and "check OTHER_TX_KEY" in result.output
    assert "TELNYX_API_KEY" not in result.output and key not in result.output


# ---- RECONCILER_LOG


@pytest.mark.parametrize(
    ("verbose", "env", "level"),
    [
        (0, None, logging.WARNING),
        (0, "debug", logging.DEBUG),
        (0, " Info ", logging.INFO),
        (0, "WARNING", logging.WARNING),
        (0, "error", logging.ERROR),
        (1, "error", logging.INFO),  # -v wins over the variable
        (2, "error", logging.DEBUG),
        (0, "", logging.WARNING),
    ],
)
def test_reconciler_log_sets_the_level_and_v_flags_win(
    verbose: int, env: str | None, level: int
) -> None:
    assert _log_level(verbose, env) == (level, None)


def test_an_unknown_reconciler_log_value_warns_once_and_runs(db: Path, tmp_path: Path) -> None:
    assert _log_level(0, "loud")[0] == logging.WARNING
    example = example_copy(tmp_path)
    result = cli(db, "validate", example, env={LOG_ENV: "loud"})
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if LOG_ENV in line]
    assert warning == [
        "Warning: RECONCILER_LOG='loud' is not a log level; use one of debug, info, warning, "
        "error (logging at warning)"
    ]


def test_reconciler_log_debug_logs_on_stderr_without_the_key(db: Path, tmp_path: Path) -> None:
    example = example_copy(tmp_path)
    providers = example / "providers.yaml"
    providers.write_text(
        providers.read_text().replace(
            "  wavix-main:\n", "  wavix-main:\n    api_key: ${H2A_LOG_KEY}\n"
        )
    )
    env = {
        **os.environ,
        "RECONCILER_SANDBOX_DB": str(db),
        "NO_COLOR": "1",
        LOG_ENV: "Debug",
        "H2A_LOG_KEY": wavix.DEFAULT_KEY,
    }
    done = subprocess.run(
        cli_command("plan", str(example)), env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert done.returncode == 0, done.stderr
    assert "DEBUG " in done.stderr and "INFO httpx: HTTP Request: GET" in done.stderr
    assert "DEBUG" not in done.stdout
    assert wavix.DEFAULT_KEY not in done.stderr + done.stdout


# ---- SIGTERM during apply


def test_the_sigterm_handler_is_installed_only_inside_the_block() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with _Terminate() as term:
        assert signal.getsignal(signal.SIGTERM) == term._on_term
    assert signal.getsignal(signal.SIGTERM) is before


def _writes(db: Path) -> list[requestlog.Entry]:
    store = SandboxStore(db)
    try:
        return [e for e in requestlog.entries(store) if e.method != "GET" and e.ids]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_during_apply_prints_the_summary_and_the_next_run_settles(
    db: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    sb = Sandbox.open(db)
    sb.store.set_knob("request_log", True)
    sb.store.set_knob("latency_ms", 150)  # every request slowed: time to signal mid-apply
    sb.close()
    example = example_copy(tmp_path, poll_interval_s=0.05)
    state = tmp_path / "state"
    env = {
        **os.environ,
        "RECONCILER_SANDBOX_DB": str(db),
        "RECONCILER_STATE_DIR": str(state),
        "NO_COLOR": "1",
    }
    child = subprocess.Popen(
        cli_command("apply", "--auto-approve", str(example)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not _writes(db):  # the first write landed; the other calls are in flight
            assert child.poll() is None, "apply ended before its first write was seen"
            assert time.monotonic() < deadline, "no write seen"
            time.sleep(0.01)
        child.send_signal(sig)
        out, err = child.communicate(timeout=WAIT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == code, out + err
    assert "Traceback" not in out + err
    assert "Interrupted: " in err and "call(s) finished" in err and "not sent." in err
    assert f"Next: run 'reconciler apply {example}' again" in err

    log = journal.Journal.open(state)
    try:
        left_open = len(log.open_calls())
    finally:
        log.close()
    again = subprocess.run(
        cli_command("apply", "--auto-approve", str(example)),
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert (f"Settled {left_open} call(s)" in again.stdout) == bool(left_open), again.stdout
    final = subprocess.run(
        cli_command("plan", "--detailed-exitcode", str(example)),
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert final.returncode == 0, final.stdout + final.stderr
