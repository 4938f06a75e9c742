"""Crash suite (issue 10): ``reconciler apply`` killed (SIGKILL) or interrupted (SIGINT) while it
reads, right after its first write landed (the others in flight), right after a job was created
(its answer on the way) and while it polls its jobs, then run again.

The apply runs in a child process against a sandbox served by another (``sandbox serve``, every
request slowed by knob ``latency_ms`` so there is time to hit each point); the moment is found by
polling the sandbox's request log. After the second apply: the plan is empty, no Telnyx job was
created twice, nothing outside the first plan was written, the sandbox database passes
``PRAGMA integrity_check``, the interrupted run printed no traceback, and the apply journal has
no open call left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLE
from sandbox_checks import cli_command, duplicate_jobs, served, served_config

from reconciler import runner
from reconciler.sandbox import Sandbox, requestlog
from reconciler.sandbox.requestlog import Entry
from reconciler.sandbox.store import SandboxStore

LATENCY_MS = 150
WAIT_S = 60.0
"""Upper bound on waiting for a child process (a hang fails the test instead of blocking CI)."""


def _is_poll(e: Entry) -> bool:
    tail = e.path.rsplit("/phone_numbers/jobs/", 1)
    return e.method == "GET" and len(tail) == 2 and tail[1] != "update_phone_numbers"


POINTS: dict[str, Callable[[list[Entry]], bool]] = {
    "reading": lambda log: len(log) >= 1,
    "first-write-landed": lambda log: any(e.method != "GET" and e.ids for e in log),
    "job-created": lambda log: any(e.job for e in log),
    "polling-jobs": lambda log: any(_is_poll(e) for e in log),
}


@pytest.fixture(scope="module")
def sandbox_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    db = tmp_path_factory.mktemp("crash") / "sandbox.sqlite3"
    sb = Sandbox.open(db)
    for name, value in (
        ("request_log", True),
        ("latency_ms", LATENCY_MS),
        ("wavix.async_delay_s", 0.5),
        ("telnyx.job_pending_s", 0.5),
        ("telnyx.job_run_s", 1.0),
        ("telnyx.job_steps", 2),
    ):
        sb.store.set_knob(name, value)
    sb.close()
    with served(db) as origin:
        yield origin, db


def _log(db: Path, after: int = 0) -> list[Entry]:
    store = SandboxStore(db)
    try:
        return requestlog.entries(store, after=after)
    finally:
        store.close()


def _planned(config: Path) -> dict[str, set[str]]:
    """carrier → ids the config's plan changes now (read over loopback, nothing sent)."""

    async def go() -> dict[str, set[str]]:
        async with runner.planned(config) as run:
            carrier = {name: p.carrier for name, p in run.providers.items()}
            out: dict[str, set[str]] = {}
            for change in run.plan.changes:
                out.setdefault(carrier[change.account], set()).add(change.id)
            return out

    return asyncio.run(go())


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args), env=env, capture_output=True, text=True, timeout=WAIT_S, check=False
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("point", list(POINTS))
def test_an_apply_killed_then_run_again_converges_without_duplicates(
    sandbox_served: tuple[str, Path], tmp_path: Path, point: str, sig: signal.Signals
) -> None:
    origin, db = sandbox_served
    sb = Sandbox.open(db)
    sb.reset()
    sb.close()
    config = served_config(EXAMPLE, tmp_path / "config", origin)
    state = tmp_path / "state"
    env = {**os.environ, "RECONCILER_STATE_DIR": str(state), "NO_COLOR": "1"}
    planned = _planned(config)
    assert planned.get("wavix") and planned.get("telnyx")
    log = _log(db)
    mark = log[-1].seq if log else 0

    child = subprocess.Popen(
        cli_command("apply", "--auto-approve", str(config)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not POINTS[point](_log(db, mark)):
            assert child.poll() is None, f"apply ended before point {point}: {child.stderr}"
            assert time.monotonic() < deadline, f"point {point} never reached"
            time.sleep(0.01)
        child.send_signal(sig)
        out, err = child.communicate(timeout=WAIT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if sig == signal.SIGKILL:
        assert child.returncode == -signal.SIGKILL
    else:
        assert child.returncode not in (0, -signal.SIGINT), out + err
        assert "Traceback" not in out + err

    again = _cli(env, "apply", "--auto-approve", str(config))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    final = _cli(env, "plan", "--detailed-exitcode", str(config))
    assert final.returncode == 0, final.stdout + final.stderr

    written = [e for e in _log(db, mark) if e.method != "GET" and e.ids]
    assert written, "nothing was written: the case proves nothing"
    assert [(e.carrier, i) for e in written for i in e.ids if i not in planned[e.carrier]] == []
    store = SandboxStore(db)
    try:
        assert duplicate_jobs(store) == []
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    _check_journal(state)


def _check_journal(state: Path) -> None:
    """Every call the journal recorded is settled or done with a known outcome."""
    try:
        from reconciler import journal
    except ImportError:  # the journal has not landed: nothing to check yet
        return
    path = state / journal.JOURNAL_FILE
    assert path.is_file(), "apply kept no journal"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    log = journal.Journal.open(state)
    try:
        assert log.open_calls() == []
    finally:
        log.close()
