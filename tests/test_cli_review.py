"""The review loop through the CLI on the embedded sandbox: saved plans (stale, edited, changed
config, exactly the planned ids), every exit code, every rail, --target, empty configs, no secret
in any output or file, and the CI examples lint clean."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import EXAMPLE, REPO
from helpers import cli, example_copy, fast_sandbox_db

from reconciler import planfile, runner
from reconciler.cli import main
from reconciler.sandbox import SIMULATORS, Sandbox


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fast_sandbox_db(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The shipped example, polling faster."""
    return example_copy(tmp_path, poll_interval_s=0.05)


def changed(db: Path, config: Path) -> int:
    result = cli(db, "plan", config, "--format", "json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["summary"]["changed"])


def portal_edit(db: Path, e164: str, field: str, value: Any) -> None:
    """A change made in the Wavix portal, through the simulator's API."""

    async def go() -> None:
        sb = Sandbox.open(db)
        try:
            transport = httpx.ASGITransport(app=sb.app)
            headers = {"Authorization": f"Bearer {SIMULATORS['wavix'].DEFAULT_KEY}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://sb/wavix", headers=headers
            ) as client:
                page = (await client.get("/v1/numbers", params={"search": e164[1:]})).json()
                [number] = [n for n in page["items"] if n["number"] == e164[1:]]
                done = await client.patch(f"/v1/numbers/{number['id']}", json={field: value})
                assert done.status_code == 200, done.text
        finally:
            sb.close()

    asyncio.run(go())


# --------------------------------------------------------------------------------------------
# Saved plans


def test_stale_plan_is_refused_naming_the_number_then_skip_stale_applies_the_rest(
    db: Path, config: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli(db, "plan", config, "-o", plan_file).exit_code == 0
    assert changed(db, config) == 23
    # +12125550105 is planned (sms_enabled true → false); someone turns its recording off.
    portal_edit(db, "+12125550105", "call_recording_enabled", False)

    refused = cli(db, "apply", plan_file)
    assert refused.exit_code == 3, refused.output
    assert "the plan is stale: 1 planned number changed" in refused.output
    assert (
        "+12125550105 (wavix-main): call_recording_enabled was true at plan time, now false"
        in refused.output
    )
    assert "Applying" not in refused.output
    assert changed(db, config) == 23  # nothing was sent

    skipped = cli(db, "apply", plan_file, "--skip-stale")
    assert skipped.exit_code == 0, skipped.output
    assert "Skipping 1 number(s) that changed since the plan was made" in skipped.output
    assert "Apply complete: 22 numbers changed" in skipped.output
    after = json.loads(cli(db, "plan", config, "--format", "json").stdout)
    assert [c["e164"] for c in after["changes"]] == ["+12125550105"]


def test_applying_a_plan_twice_is_refused_as_already_applied(
    db: Path, config: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    cli(db, "plan", config, "-o", plan_file)
    assert cli(db, "apply", plan_file).exit_code == 0
    again = cli(db, "apply", plan_file)
    assert again.exit_code == 3
    assert "all 23 already have the planned values: was this plan applied already?" in again.output


def test_edited_plan_file_is_refused(db: Path, config: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    cli(db, "plan", config, "--out", plan_file)
    text = plan_file.read_text()
    plan_file.write_text(
        text.replace('"transcription_threshold": 30', '"transcription_threshold": 99')
    )
    assert plan_file.read_text() != text
    result = cli(db, "apply", plan_file)
    assert result.exit_code == 1
    assert "checksum does not match its content: it was edited or corrupted" in result.output
    assert changed(db, config) == 23
    shown = cli(db, "show", plan_file)
    assert shown.exit_code == 1 and "edited or corrupted" in shown.output


def test_plan_of_a_changed_config_is_refused(db: Path, config: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    cli(db, "plan", config, "-o", plan_file)
    numbers = config / "numbers" / "wavix.yaml"
    numbers.write_text(numbers.read_text() + "\n# a comment is a change too\n")
    result = cli(db, "apply", plan_file)
    assert result.exit_code == 1
    assert "config files changed since the plan was made" in result.output
    assert changed(db, config) == 23


def test_plan_file_of_another_version_is_refused(db: Path, config: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    cli(db, "plan", config, "-o", plan_file)
    doc = json.loads(plan_file.read_text())
    doc["format_version"] = 99
    doc.pop("checksum")
    doc["checksum"] = planfile._checksum(doc)
    plan_file.write_text(json.dumps(doc))
    result = cli(db, "apply", plan_file)
    assert result.exit_code == 1 and "plan format version 99" in result.output


class Spy(httpx.AsyncBaseTransport):
    """Records every request, then passes it to the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.requests = inner, []  # type: list[tuple[str, str, bytes]]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.requests.append((request.method, request.url.path, body))
        return await self.inner.handle_async_request(request)


def test_apply_of_a_plan_file_reads_and_sends_only_the_planned_ids(
    db: Path, config: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    cli(db, "plan", config, "-o", plan_file)
    saved = planfile.read(plan_file)
    planned = {(c.account, c.id) for c in saved.plan.changes}

    async def go() -> dict[str, Spy]:
        sb = Sandbox.open(db)
        spies = {
            name: Spy(httpx.ASGITransport(app=sb.app)) for name in ("wavix-main", "telnyx-main")
        }
        try:
            wiring = runner.Wiring(sandbox=sb, transports=spies)
            async with runner.saved_plan(saved, wiring=wiring) as run:
                assert run.moved == []
                report = await runner.apply(run.plan, run.providers)
                assert report.exit_code == 0
        finally:
            sb.close()
        return spies

    spies = asyncio.run(go())
    sent: set[tuple[str, str]] = set()
    for method, path, body in spies["wavix-main"].requests:
        if method == "PATCH":
            sent.update(("wavix-main", str(i)) for i in json.loads(body)["ids"])
        elif method == "GET" and not path.endswith("/v1/numbers"):  # a per-id re-read
            assert ("wavix-main", path.rsplit("/", 1)[1]) in planned
    # A messaging order names numbers by E.164, jobs by id (issue 17): map both to ids.
    e164_ids = {e: i for c in saved.plan.calls for i, e in zip(c.ids, c.e164s, strict=True)}
    for method, _, body in spies["telnyx-main"].requests:
        if method == "POST":
            doc = json.loads(body)
            if "numbers" in doc:
                sent.update(("telnyx-main", e164_ids.get(e, e)) for e in doc["numbers"])
            else:
                sent.update(("telnyx-main", i) for i in doc["phone_numbers"])
    assert sent == planned


# --------------------------------------------------------------------------------------------
# Exit codes and rails


def test_exit_codes(db: Path, config: Path, tmp_path: Path) -> None:
    assert cli(db, "validate", config).exit_code == 0
    assert cli(db, "plan", config).exit_code == 0
    assert cli(db, "plan", config, "--detailed-exitcode").exit_code == 2
    assert cli(db, "drift", config).exit_code == 2
    assert cli(db, "plan", config, "--format", "yaml").exit_code == 1  # usage error: 1, not 2
    assert cli(db, "plan", tmp_path / "missing").exit_code == 1
    assert cli(db, "apply", config, "--auto-approve", "--max-changes", "5").exit_code == 3
    sb = Sandbox.open(db)
    sb.store.set_knob("telnyx.fail_numbers", ["+13127367203"])
    sb.close()
    partial = cli(db, "apply", config, "--auto-approve")
    assert partial.exit_code == 4, partial.output
    sb = Sandbox.open(db)
    sb.store.set_knob("telnyx.fail_numbers", None)
    sb.close()
    assert cli(db, "apply", config, "--auto-approve").exit_code == 0
    assert cli(db, "plan", config, "--detailed-exitcode").exit_code == 0
    assert cli(db, "drift", config).exit_code == 0


def rail_config(config: Path, options: str) -> Path:
    providers = config / "providers.yaml"
    providers.write_text(
        providers.read_text().replace("    type: wavix\n", f"    type: wavix\n    {options}\n")
    )
    return config


@pytest.mark.parametrize(
    ("option", "rail", "figures", "per_run"),
    [
        (
            "max_change_share: 0.1",
            "change_share",
            "12 of 52 managed numbers would change (23.1 %)",
            ("--max-change-share", "0.5"),
        ),
        (
            "max_changes: 10",
            "max_changes",
            "12 numbers would change, above max_changes 10",
            ("--max-changes", "12"),
        ),
        (
            "max_routing_changes: 3",
            "routing",
            "5 numbers would get a routing field changed (destinations)",
            # 6: the per-run value holds for every account, and telnyx-main's 6 routing changes
            # include its emergency addresses and messaging profiles (routing fields too)
            ("--max-routing-changes", "6"),
        ),
    ],
)
def test_each_rail_warns_on_plan_and_refuses_apply(
    db: Path,
    config: Path,
    tmp_path: Path,
    option: str,
    rail: str,
    figures: str,
    per_run: tuple[str, str],
) -> None:
    rail_config(config, option)
    planned = cli(db, "plan", config)
    assert planned.exit_code == 0
    assert rail in planned.output and figures in planned.output  # the reviewer sees it
    refused = cli(db, "apply", config, "--auto-approve")
    assert refused.exit_code == 3, refused.output
    assert f"[{rail}] wavix-main: {figures}" in refused.output
    assert "nothing was sent" in refused.output and "--force" in refused.output
    assert refused.output.index("Plan: 23 numbers") < refused.output.index("refused")  # plan first
    assert changed(db, config) == 23
    plan_file = tmp_path / "plan.json"
    cli(db, "plan", config, "-o", plan_file)
    assert cli(db, "apply", plan_file).exit_code == 3
    assert cli(db, "apply", plan_file, *per_run).exit_code == 0


def test_force_passes_a_rail(db: Path, config: Path) -> None:
    rail_config(config, "max_change_share: 0.05")
    assert cli(db, "apply", config, "--auto-approve").exit_code == 3
    forced = cli(db, "apply", config, "--auto-approve", "--force")
    assert forced.exit_code == 0, forced.output
    assert changed(db, config) == 0


def test_empty_config_warns_and_drift_refuses_it(db: Path, config: Path) -> None:
    (config / "numbers" / "telnyx.yaml").write_text("# truncated by a bad merge\n")
    validated = cli(db, "validate", config)
    assert validated.exit_code == 0
    assert "telnyx.yaml: the file is empty" in validated.stderr
    assert "telnyx-main: the account is declared" in validated.stderr
    planned = cli(db, "plan", config)
    assert planned.exit_code == 0 and "the file is empty" in planned.output
    refused = cli(db, "drift", config)
    assert refused.exit_code == 3 and "--allow-empty" in refused.output
    assert cli(db, "drift", config, "--allow-empty").exit_code == 2


def test_target_limits_the_run(db: Path, config: Path) -> None:
    planned = cli(
        db, "plan", config, "--target", "+1212555*", "--target", "+13135550104", "--format", "json"
    )
    assert planned.exit_code == 0, planned.output
    data = json.loads(planned.stdout)
    e164s = sorted(c["e164"] for c in data["changes"])
    assert e164s == ["+12125550102", "+12125550105", "+12125550108", "+12125550110", "+13135550104"]
    text = cli(db, "plan", config, "--target", "+1212555*").output
    assert "limited to --target +1212555*" in text and "were not checked" in text
    applied = cli(db, "apply", config, "--target", "+1212555*", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert changed(db, config) == 19
    bad = cli(db, "plan", config, "--target", "+1313*5")
    assert bad.exit_code == 1 and "--target '+1313*5'" in bad.output
    plan_file = config.parent / "plan.json"
    cli(db, "plan", config, "-o", plan_file)
    assert cli(db, "apply", plan_file, "--target", "+1212555*").exit_code == 1


# --------------------------------------------------------------------------------------------
# Formats, the sandbox drift command


def test_show_renders_without_any_api_call(db: Path, config: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    cli(db, "plan", config, "-o", plan_file)
    nowhere = tmp_path / "no" / "such" / "dir" / "sandbox.sqlite3"
    for fmt in ("text", "json", "markdown"):
        shown = cli(nowhere, "show", plan_file, "--format", fmt)
        assert shown.exit_code == 0, shown.output
    assert not nowhere.parent.exists()
    markdown = cli(nowhere, "show", plan_file, "--format", "markdown").stdout
    assert markdown.startswith("<!-- reconciler-plan -->")
    assert json.loads(cli(nowhere, "show", plan_file, "--json").stdout)["summary"]["changed"] == 23
    parts = cli(nowhere, "show", plan_file, "--split-dir", tmp_path / "parts")
    [part] = parts.stdout.split()
    assert Path(part).read_text().startswith("<!-- reconciler-plan -->")


def test_sandbox_drift_is_seen_by_drift(db: Path, config: Path) -> None:
    assert cli(db, "apply", config, "--auto-approve").exit_code == 0
    assert cli(db, "drift", config).exit_code == 0
    made = cli(db, "sandbox", "drift", "--numbers", 3, "--seed", 7, "--config", config)
    assert made.exit_code == 0, made.output
    assert "Changed 3 number(s) out of band" in made.output
    report = cli(db, "drift", config, "--format", "json")
    assert report.exit_code == 2
    assert len(json.loads(report.stdout)["changes"]) == 3
    verbose = cli(db, "drift", config, "-v")
    assert "+16505550100" in verbose.output  # an unmanaged Telnyx number, listed with -v
    assert "+16505550100" not in cli(db, "drift", config).output
    again = cli(db, "sandbox", "drift", "--numbers", 3, "--seed", 7, "--config", config)
    first = [line.split(":")[0] for line in made.output.splitlines()]
    assert [line.split(":")[0] for line in again.output.splitlines()] == first  # same numbers


# --------------------------------------------------------------------------------------------
# Secrets


KEY = "KEYtest_known_telnyx_secret_4242"
PIN = "864209"


def test_no_secret_in_any_output_or_file(
    db: Path, config: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # -vv's request logs, whatever ran before
    sb = Sandbox.open(db)
    sb.store.set_knob("telnyx.keys", [KEY])
    sb.close()
    wavix_key = SIMULATORS["wavix"].DEFAULT_KEY
    providers = config / "providers.yaml"
    providers.write_text(
        providers.read_text()
        .replace("    type: telnyx\n", "    type: telnyx\n    api_key: ${TX_KEY}\n")
        .replace("    type: wavix\n", "    type: wavix\n    api_key: ${WX_KEY}\n")
    )
    profiles = config / "profiles.yaml"
    profiles.write_text(
        profiles.read_text().replace(
            "    customer_reference: support-chi\n",
            f"    customer_reference: support-chi\n    external_pin: '{PIN}'\n",
        )
    )
    env = {"TX_KEY": KEY, "WX_KEY": wavix_key}
    plan_file, parts = tmp_path / "plan.json", tmp_path / "parts"
    outputs = []

    def run(*args: Any) -> Result:
        result = cli(db, "-vv", *args, env=env)
        outputs.append(result.output)
        return result

    run("validate", config)
    for fmt in ("text", "json", "markdown"):
        run("plan", config, "--format", fmt, "--full")
        run("drift", config, "--format", fmt, "-v")
    assert run("plan", config, "-o", plan_file, "--split-dir", parts).exit_code == 0
    for fmt in ("text", "json", "markdown"):
        run("show", plan_file, "--format", fmt, "--full")
    assert run("apply", plan_file, "--force").exit_code == 0, outputs[-1]
    run("sandbox", "drift", "--numbers", 4, "--config", config)
    assert run("apply", config, "--auto-approve", "--force").exit_code == 0
    run("drift", config, "--split-dir", parts)

    files = [plan_file.read_text(), *(p.read_text() for p in parts.iterdir()), caplog.text]
    assert "HTTP Request: GET" in caplog.text  # the -vv logs were captured too
    assert any('"secret"' in f for f in files)  # the PIN was planned, as a digest
    for text in outputs + files:
        for secret in (KEY, PIN, wavix_key):
            assert secret not in text


# --------------------------------------------------------------------------------------------
# CI examples


WORKFLOWS = REPO / "examples" / "ci"
ACTION = REPO / "action.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _lint(schema: str, files: list[Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"{schema}: {done.stdout}{done.stderr}"


def test_ci_examples_lint_clean() -> None:
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert len(workflows) >= 4
    # The workflow schema, then every job bounded (so a hung carrier cannot hold CI); the
    # composite action against the action schema. All vendored in check-jsonschema: offline.
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        _lint(schema, workflows)
    _lint("vendor.github-actions", [ACTION])


def _uses(text: str) -> list[str]:
    """Every ``uses:`` value with its trailing comment."""
    return [m.strip() for m in re.findall(r"uses:\s*(.+)$", text, re.MULTILINE)]


def test_ci_examples_and_action_pin_actions_by_commit_sha() -> None:
    for path in [*sorted(WORKFLOWS.glob("*.yml")), ACTION]:
        for used in _uses(path.read_text()):
            if used.startswith("OWNER/numbers-reconciler@"):
                continue  # the user's pin of this action (placeholder, explained in the docs)
            assert PINNED.match(used), f"{path.name}: {used} is not pinned by full commit SHA"


def _workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(data)


def test_ci_examples_keep_keys_and_permissions_narrow() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        flow = _workflow(path.name)
        assert flow["permissions"] == {}, f"{path.name}: no workflow-wide permission"
        assert "secrets." not in json.dumps(flow.get("env", {})), path.name
        for name, job in flow["jobs"].items():
            where = f"{path.name}:{name}"
            assert "secrets" not in json.dumps(job.get("env", {})), f"{where}: job-level key"
            for step in job["steps"]:
                if "secrets" in json.dumps(step):
                    # Only the action's `env` input, which reaches the one reconciler step.
                    assert step["uses"].startswith("OWNER/numbers-reconciler@"), where
                    assert "secrets" not in json.dumps(step.get("env", {})), where
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, where
            wanted = {
                "plan": {"contents": "read", "pull-requests": "write"},
                "apply": {"contents": "read", "actions": "read", "pull-requests": "write"},
                "drift": {"contents": "read", "issues": "write"},
            }[_command(job)]
            assert job["permissions"] == wanted, where


def _command(job: dict[str, Any]) -> str:
    [step] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("OWNER/")]
    return str(step["with"]["command"])


def test_apply_by_hand_only_from_the_default_branch_and_one_group_with_drift() -> None:
    apply, drift = _workflow("apply-main.yml"), _workflow("drift-nightly.yml")
    assert "workflow_dispatch" in apply["on"]
    assert apply["jobs"]["apply"]["if"] == (
        "github.event_name == 'push' || "
        "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    )
    assert apply["concurrency"]["group"] == drift["concurrency"]["group"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    steps = apply["jobs"]["apply"]["steps"]
    restore = [s for s in steps if s.get("uses", "").startswith("actions/cache/restore@")]
    save = [s for s in steps if s.get("uses", "").startswith("actions/cache/save@")]
    assert restore and save and save[0]["if"] == "always()"
    assert restore[0]["with"]["path"] == save[0]["with"]["path"] == ".reconciler"
    assert restore[0]["with"]["restore-keys"] in save[0]["with"]["key"]  # a prefix of every key


def test_ci_examples_run_real_commands_and_options() -> None:
    """Each use of the action names a real command, and its ``args`` real options of it."""
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in _workflow(path.name)["jobs"].items():
            command = _command(job)
            assert command in main.commands, f"{path.name}:{name}: reconciler {command}"
            [step] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("OWNER/")]
            assert set(step["with"]) <= set(action["inputs"]), f"{path.name}:{name}"
            options = {o for p in main.commands[command].params for o in p.opts}
            for used in re.findall(r"(--[a-z-]+)", str(step["with"].get("args", ""))):
                assert used in options, f"{path.name}:{name}: reconciler {command} {used}"
    # The commands the action runs exist, with the options it passes.
    text = ACTION.read_text()
    for command, flags in re.findall(r"reconciler (plan|apply|drift) (.*?)(?:\\\n|$)", text, re.M):
        for flag in re.findall(r"(--[a-z-]+)", flags):
            assert flag in {o for p in main.commands[command].params for o in p.opts}, (
                f"action.yml: reconciler {command} {flag}"
            )


def test_pre_commit_hook_runs_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
    command, *args = hook["entry"].split()
    assert command == "reconciler"  # the console script of pyproject.toml
    shutil.copytree(EXAMPLE, tmp_path / "desired-state")
    monkeypatch.chdir(tmp_path)  # pre-commit runs hooks from the repository root
    result = CliRunner().invoke(main, [*args, *hook["args"]])
    assert result.exit_code == 0, result.output
    (tmp_path / "desired-state" / "profiles.yaml").write_text("profiles: {x: {sms_enable: true}}\n")
    assert CliRunner().invoke(main, [*args, *hook["args"]]).exit_code == 1


def telnyx_portal_profile(db: Path, e164: str, profile_id: str) -> None:
    """A messaging profile moved in the Telnyx portal, through the simulator's bulk update
    (settled in its answer: knob ``telnyx.messaging_order_pending_s`` 0)."""

    async def go() -> None:
        sb = Sandbox.open(db)
        try:
            sb.store.set_knob("telnyx.messaging_order_pending_s", 0)
            transport = httpx.ASGITransport(app=sb.app)
            headers = {"Authorization": f"Bearer {SIMULATORS['telnyx'].DEFAULT_KEY}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://sb/telnyx/v2", headers=headers
            ) as client:
                body = {"messaging_profile_id": profile_id, "numbers": [e164]}
                done = await client.post("/messaging_numbers_bulk_updates", json=body)
                assert done.status_code == 200, done.text
                assert done.json()["data"]["success"] == [e164], done.text
        finally:
            sb.close()

    asyncio.run(go())


def test_a_messaging_profile_moved_after_the_plan_makes_it_stale(
    db: Path, config: Path, tmp_path: Path
) -> None:
    """The new operations' fields are fingerprinted like every managed field (issue 17)."""
    plan_file = tmp_path / "plan.json"
    assert cli(db, "plan", config, "-o", plan_file).exit_code == 0
    # +13127367206 is planned (tags) and in sync on its messaging profile (support-sms).
    telnyx_portal_profile(db, "+13127367206", "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b32")  # alerts
    refused = cli(db, "apply", plan_file)
    assert refused.exit_code == 3, refused.output
    support, alerts = "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b21", "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b32"
    assert (
        f'+13127367206 (telnyx-main): messaging_profile_id was "{support}" at plan time, '
        f'now "{alerts}"' in refused.output
    )
    assert "Applying" not in refused.output
