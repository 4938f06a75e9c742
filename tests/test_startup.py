"""Startup (issue 18): a command imports only what it uses. ``reconciler --help`` and ``validate``
load no HTTP client, server, terminal library, journal, renderer or provider module; checked in a
fresh interpreter by what is in ``sys.modules`` afterwards (behaviour, not timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from conftest import EXAMPLE

from reconciler import cli, journal, render
from reconciler.cli import options

HEAVY = (
    "httpx",
    "httpcore",
    "starlette",
    "uvicorn",
    "rich",
    "reconciler.journal",
    "reconciler.runner",
    "reconciler.applier",
    "reconciler.render",
    "reconciler.providers.http",
    "reconciler.providers.base",
    "reconciler.providers.wavix.provider",
    "reconciler.providers.telnyx.provider",
    "reconciler.sandbox",
    "reconciler.ci.command",
)

_PROBE = """
import json, sys
from reconciler.cli import main
sys.argv = ["reconciler", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _loaded(*args: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    return done.stdout, set(report["modules"])


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_no_client_server_journal_or_provider() -> None:
    out, modules = _loaded("--help")
    assert _heavy(modules) == []
    assert "asyncio" not in modules  # no event loop to print a help page
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    # every command is listed, the lazy ones too, without being imported
    assert {"validate", "plan", "apply", "drift", "export", "github", "sandbox"} <= listed


OTHER_COMMANDS = (
    "reconciler.cli.apply",
    "reconciler.cli.export",
    "reconciler.cli.sandbox",
    "reconciler.ci",
)
"""Modules of the commands ``--help`` lists without importing them (``cli.LAZY_HELP``)."""


def test_help_imports_no_other_command() -> None:
    _, modules = _loaded("--help")
    assert sorted(m for m in OTHER_COMMANDS if m in modules) == []


def test_validate_imports_no_client_server_journal_or_provider() -> None:
    out, modules = _loaded("validate", str(EXAMPLE))
    assert out.startswith("Configuration is valid")
    assert _heavy(modules) == []
    # Nor another command, nor the plan file format (a config directory is never a plan file).
    loaded = [m for m in (*OTHER_COMMANDS, "reconciler.planfile") if m in modules]
    assert loaded == []
    # Its config warnings are plan warnings (reconciler.warning), not the plan's types.
    assert "reconciler.warning" in modules and "reconciler.plan" not in modules


def test_validate_loads_the_metadata_of_the_regions_its_numbers_need() -> None:
    """The example's numbers are all +1 US numbers: of the 25 regions behind +1 only the US
    metadata is loaded (the E.164 check walks the regions lazily, in phonenumbers' order)."""
    _, modules = _loaded("validate", str(EXAMPLE))
    regions = sorted(m for m in modules if m.startswith("phonenumbers.data.region_"))
    assert regions == ["phonenumbers.data.region_US"]


def test_plan_help_imports_no_provider() -> None:
    out, modules = _loaded("plan", "--help")
    assert "--max-changes" in out and "--format [text|json|markdown]" in out
    assert _heavy(modules) == []


def test_lazy_help_lines_are_the_commands_own() -> None:
    for name, line in cli.LAZY_HELP.items():
        assert name in cli.LAZY
        real = cli.main.get_command(click.Context(cli.main), name)
        assert real is not None and real.help is not None
        first = " ".join(real.help.strip().split("\n\n")[0].split())
        assert first == line  # what --help shows of it: the first paragraph, shortened


def test_option_constants_match_their_sources() -> None:
    assert options.FORMATS == render.FORMATS
    assert options.STATE_DIR_ENV == journal.STATE_DIR_ENV


_OPEN_SERVED = """
import asyncio, json, sys
from reconciler import runner
from reconciler.loader import load

async def go():
    async with runner.open_accounts(load(sys.argv[1])) as providers:
        urls = {n: p.http.base_url for n, p in providers.items()}
    return urls

urls = asyncio.run(go())
print(json.dumps({"urls": urls, "modules": sorted(sys.modules)}))
"""


def test_a_served_sandbox_account_opens_without_importing_the_simulator(tmp_path: Path) -> None:
    """``sandbox: true`` with a ``base_url`` (``sandbox serve``): the key and the mount come from
    the carrier record, so the client loads no simulator nor its web framework."""
    from sandbox_checks import served_config

    config = served_config(EXAMPLE, tmp_path / "config", "http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_SERVED, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["urls"] == {
        "wavix-main": "http://127.0.0.1:9/wavix",
        "telnyx-main": "http://127.0.0.1:9/telnyx/v2",
    }
    loaded = [m for m in report["modules"] if m.startswith(("reconciler.sandbox", "starlette"))]
    assert loaded == []


def test_the_carrier_records_name_their_simulators_key_and_mount() -> None:
    from reconciler import carriers

    checked = 0
    for carrier in carriers.registry().values():
        if carrier.simulator is None:
            continue
        module = carrier.simulator_module
        assert carrier.sandbox_key == module.DEFAULT_KEY
        assert carrier.sandbox_mount == module.MOUNT
        checked += 1
    assert checked >= 2  # wavix and telnyx


def test_plan_loads_neither_the_applier_nor_the_plan_file_format(tmp_path: Path) -> None:
    """``plan`` (no ``-o``) against the embedded sandbox: the applier and its stages, and the
    saved-plan format, are apply's and ``-o``'s; a plan never loads them."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "plan", str(EXAMPLE), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RECONCILER_SANDBOX_DB": str(tmp_path / "db.sqlite3")},
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, 2), done.stderr  # 2 with --detailed-exitcode
    assert json.loads(done.stdout)["summary"]["changed"] > 0
    never = ("reconciler.applier", "reconciler.apply.stages", "reconciler.planfile")
    assert [m for m in report["modules"] if m.startswith(never)] == []
