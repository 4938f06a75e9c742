"""Secrets sweep (issue 10): every command, in its own process with ``-vv``, against a sandbox
served by another process, with canary API keys (``api_key: ${VAR}``) and a canary Telnyx
``external_pin`` (``${VAR}`` too). The canaries appear nowhere: not in any command's stdout or
stderr (the ``-vv`` request logs included), nor in plan files, split-dir parts, exported YAML,
the apply journal and lock directory, the served sandbox's own log, or the text of an error
about a rejected key.

``tests/test_cli_review.py::test_no_secret_in_any_output_or_file`` covers the in-process review
loop with a literal PIN; this one adds real processes and sockets, the Wavix key as a canary,
the PIN as a variable, export, the journal, the sandbox commands and a rejected key.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLE
from sandbox_checks import cli_command, served, served_config

from reconciler.sandbox import Sandbox

TX_KEY = "KEYtx_canary_7f3a9c1e5b42"
WX_KEY = "wvx_canary_2d8e4b6a0c91"
PIN = "pin_canary_8Q4w7E2x"
BAD_KEY = "KEYbad_canary_5e1d0f77aa"
"""A key the sandbox does not accept: the 401's error text must not echo it."""
CANARIES = (TX_KEY, WX_KEY, PIN, BAD_KEY)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path | str]]:
    """A served sandbox taking the canary keys, and a config of the example pointing at it."""
    tmp = tmp_path_factory.mktemp("secrets")
    db, server_log = tmp / "sandbox.sqlite3", tmp / "serve.log"
    sb = Sandbox.open(db)
    for name, value in (
        ("telnyx.keys", [TX_KEY]),
        ("wavix.keys", [WX_KEY]),
        ("wavix.async_delay_s", 0.05),
        ("telnyx.job_pending_s", 0.05),
        ("telnyx.job_run_s", 0.05),
    ):
        sb.store.set_knob(name, value)
    sb.close()
    with served(db, args=("-vv",), log=server_log) as origin:
        keys = {"telnyx-main": "TX_KEY", "wavix-main": "WX_KEY"}
        config = served_config(EXAMPLE, tmp / "config", origin, keys)
        profiles = config / "profiles.yaml"
        text = profiles.read_text()
        assert "    customer_reference: support-chi\n" in text
        profiles.write_text(
            text.replace(
                "    customer_reference: support-chi\n",
                "    customer_reference: support-chi\n    external_pin: ${TX_PIN}\n",
            )
        )
        yield {"tmp": tmp, "db": db, "origin": origin, "config": config, "log": server_log}


def test_no_canary_in_any_output_file_or_log(world: dict[str, Path | str]) -> None:
    tmp, db, config = Path(world["tmp"]), Path(world["db"]), Path(world["config"])
    origin = str(world["origin"])
    state, parts, exported = tmp / "state", tmp / "parts", tmp / "exported"
    plan_file = tmp / "plan.json"
    env = {
        **os.environ,
        "TX_KEY": TX_KEY,
        "WX_KEY": WX_KEY,
        "TX_PIN": PIN,
        "TELNYX_API_KEY": TX_KEY,  # export's quick start reads the carrier's variable
        "RECONCILER_STATE_DIR": str(state),
        "NO_COLOR": "1",
    }
    texts: list[str] = []

    def run(*args: str | Path, code: int | None = 0, **extra: str) -> str:
        done = subprocess.run(
            cli_command("-vv", *map(str, args)),
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        both = done.stdout + done.stderr
        texts.append(both)
        if code is not None:
            assert done.returncode == code, f"{args}: exit {done.returncode}\n{both[-3000:]}"
        assert "Traceback" not in both
        return both

    run("validate", config)
    for fmt in ("text", "json", "markdown"):
        run("plan", config, "--detailed-exitcode", "--format", fmt, "--full", code=2)
    run("plan", config, "-o", plan_file, "--split-dir", parts)
    for fmt in ("text", "json", "markdown"):
        run("show", plan_file, "--format", fmt, "--full")
    run("apply", plan_file, "--force")
    # --config counts only embedded-sandbox accounts (these have a base_url): edit any numbers.
    run("sandbox", "drift", "--numbers", "4", "--seed", "3", "--sandbox-db", db)
    run("drift", config, "--format", "json", "-v", code=None)
    applied = run("apply", config, "--auto-approve", "--force")
    run("drift", config, "--split-dir", parts)
    run("export", config, "--provider", "telnyx-main")
    run("export", config, "-o", exported)
    run("export", "--type", "telnyx", "--base-url", f"{origin}/telnyx/v2")
    run("sandbox", "knob", "--sandbox-db", db)
    rejected = run("plan", config, code=1, TX_KEY=BAD_KEY)
    run("sandbox", "reset", "--sandbox-db", db)

    # The sweep saw what it is meant to see: the keys were used, the PIN was planned, the
    # -vv request logs were printed, and the bad key was refused with an error.
    assert "Apply complete" in applied
    assert "HTTP Request: PATCH" in "".join(texts) and "HTTP Request: POST" in "".join(texts)
    assert "the API key was rejected" in rejected
    assert '"secret"' in plan_file.read_text()

    files = [plan_file, Path(world["log"]), *_files(parts), *_files(exported), *_files(state)]
    assert _files(state), "apply wrote no journal: the sweep would miss it"
    for path in files:
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in data, f"{canary[:6]}… in {path}"
    for text in texts:
        for canary in CANARIES:
            assert canary not in text, f"{canary[:6]}… printed:\n{text[-2000:]}"


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def test_the_knob_listing_does_not_print_the_sandbox_keys(world: dict[str, Path | str]) -> None:
    db = Path(world["db"])
    listing = subprocess.run(
        cli_command("sandbox", "knob", "--sandbox-db", str(db)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert (
        "telnyx.keys = (set; not shown)" in listing and "wavix.keys = (set; not shown)" in listing
    )
    assert TX_KEY not in listing and WX_KEY not in listing
