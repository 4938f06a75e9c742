"""The GitHub side of the review loop (reconciler/ci) against a fake of GitHub's API
(tests/fakegithub.py, through httpx.MockTransport) and the embedded sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import REPO
from fakegithub import BOT, TOKEN, FakeGitHub
from fakegithub import REPO as SLUG
from helpers import cli, example_copy, fast_sandbox_db
from test_cli_review import portal_edit

from reconciler.ci.comments import Meta, fit, upsert
from reconciler.ci.github import GitHub, GitHubError, RunContext
from reconciler.ci.review import APPLY_MARKER, PLAN_MARKER, Bot
from reconciler.cli import main
from reconciler.render import GITHUB_LIMIT

HEAD = "a" * 40
MERGE = "b" * 40
RUN = "4242"
PR = 7
ARTIFACT = f"reconciler-plan-{HEAD}"


@pytest.fixture
def fake() -> FakeGitHub:
    fake = FakeGitHub()
    fake.open_pr(PR, HEAD)
    return fake


@pytest.fixture
def gh(fake: FakeGitHub) -> Any:
    client = GitHub(SLUG, TOKEN, api_url=fake.api, transport=fake.transport)
    yield client
    client.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fast_sandbox_db(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return example_copy(tmp_path, poll_interval_s=0.05)


def env(fake: FakeGitHub, tmp_path: Path, *, sha: str, pr: bool = False) -> dict[str, str]:
    """The environment of an Actions step: a pull_request event (head HEAD) or a push."""
    event = tmp_path / "event.json"
    payload = {"pull_request": {"number": PR, "head": {"sha": HEAD}}} if pr else {"after": sha}
    event.write_text(json.dumps(payload))
    return {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": fake.api,
        "GITHUB_SERVER_URL": "https://github.test",
        "GITHUB_REPOSITORY": SLUG,
        "GITHUB_SHA": sha,
        "GITHUB_RUN_ID": RUN,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }


def github(fake: FakeGitHub, environ: dict[str, str], *args: Any) -> Result:
    """``reconciler github *args`` with GitHub faked (the transport handed in as click's obj)."""
    return CliRunner().invoke(
        main,
        ["github", *[str(a) for a in args]],
        env={"NO_COLOR": "1", **environ},
        obj=fake.transport,
        catch_exceptions=False,
    )


def outputs(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "output.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines)


def part(i: int, n: int, text: str = "x") -> str:
    return f"{PLAN_MARKER}\n<!-- reconciler-plan part {i}/{n} -->\n\n{text}"


# --------------------------------------------------------------------------------------------
# Comments: marker and author, paging, parts


def test_a_persons_comment_with_the_marker_is_never_touched(fake: FakeGitHub, gh: Any) -> None:
    person = fake.add_comment(PR, f"{PLAN_MARKER}\nI copied the bot's comment", "alice")
    old = fake.add_comment(PR, part(1, 1, "old plan"), BOT)

    upsert(gh, PR, [part(1, 1, "new plan")], marker=PLAN_MARKER, author=BOT)

    assert person["body"] == f"{PLAN_MARKER}\nI copied the bot's comment"
    assert person in fake.comments[PR]
    assert old["body"] == part(1, 1, "new plan")  # ours, updated in place
    assert [c["id"] for c in fake.comments[PR]] == [person["id"], old["id"]]
    upsert(gh, PR, [], marker=PLAN_MARKER, author=BOT)
    assert fake.comments[PR] == [person]  # only ours deleted


def test_own_comment_on_page_3_is_found_and_updated(fake: FakeGitHub, gh: Any) -> None:
    for i in range(230):
        fake.add_comment(PR, f"review comment {i}", "alice")
    ours = fake.add_comment(PR, part(1, 1, "old plan"), BOT)

    upsert(gh, PR, [part(1, 1, "new plan")], marker=PLAN_MARKER, author=BOT)

    assert ours["body"] == part(1, 1, "new plan")
    assert len(fake.comments[PR]) == 231  # updated, no duplicate created
    pages = [p for m, p in fake.log if m == "GET" and p.endswith("/comments")]
    assert len(pages) == 3
    assert fake.writes() == [("PATCH", f"/repos/{SLUG}/issues/comments/{ours['id']}")]


def test_three_parts_then_one_deletes_the_two_surplus_parts_of_its_own(
    fake: FakeGitHub, gh: Any
) -> None:
    person = fake.add_comment(PR, f"{PLAN_MARKER}\nmine", "alice")
    upsert(gh, PR, [part(i, 3) for i in (1, 2, 3)], marker=PLAN_MARKER, author=BOT)
    assert len(fake.ours(PR, PLAN_MARKER)) == 3
    first = fake.ours(PR, PLAN_MARKER)[0]["id"]

    upsert(gh, PR, [part(1, 1, "short now")], marker=PLAN_MARKER, author=BOT)

    mine = fake.ours(PR, PLAN_MARKER)
    assert [(c["id"], c["body"]) for c in mine] == [(first, part(1, 1, "short now"))]
    assert [m for m, _ in fake.writes()].count("DELETE") == 2
    assert person in fake.comments[PR]


def test_long_markdown_is_cut_into_numbered_parts_that_fit(fake: FakeGitHub) -> None:
    rows = "".join(f"| +1313555{i:04d} | changed |\n" for i in range(6000))
    text = f"{APPLY_MARKER}\n\n| number | what |\n|---|---|\n{rows}"
    assert len(text) > GITHUB_LIMIT
    tail = "\n\n---\nfooter\n"

    bodies = fit([text], APPLY_MARKER, tail)

    assert len(bodies) == 3
    for i, body in enumerate(bodies, 1):
        assert len(body) <= GITHUB_LIMIT
        assert body.startswith(f"{APPLY_MARKER}\n<!-- reconciler-apply part {i}/3 -->\n")
        assert body.endswith(tail)
    joined = "".join(b.split("\n\n", 1)[1].removesuffix(tail) for b in bodies)
    assert joined.count("| changed |") == 6000


def test_the_token_is_never_in_an_error(fake: FakeGitHub) -> None:
    client = GitHub(SLUG, TOKEN, api_url=fake.api, transport=fake.transport)
    with pytest.raises(GitHubError) as caught:
        client.comments(999)
    assert "404" in str(caught.value) and f"/repos/{SLUG}/issues/999/comments" in str(caught.value)
    assert TOKEN not in str(caught.value)
    with pytest.raises(GitHubError, match="403: Resource not accessible by integration"):
        client.login()  # the Actions token cannot ask who it is: the login is an input
    with pytest.raises(GitHubError, match="GITHUB_TOKEN is not set"):
        GitHub(SLUG, "", api_url=fake.api, transport=fake.transport)


# --------------------------------------------------------------------------------------------
# Pull request: the plan comment


def test_plan_comment_names_the_head_commit_and_the_run_and_hides_the_metadata(
    fake: FakeGitHub, db: Path, config: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli(db, "plan", config, "-o", plan_file).exit_code == 0
    environ = env(fake, tmp_path, sha="c" * 40, pr=True)  # GITHUB_SHA: the merge ref's commit
    assert github(fake, environ, "context").exit_code == 0
    assert outputs(tmp_path) == {
        "head-sha": HEAD,
        "artifact": ARTIFACT,
        "drift-marker": "<!-- reconciler-drift -->",
    }

    done = github(
        fake, environ, "plan-comment", "--exit-code", 2, "--plan", plan_file, "--artifact", ARTIFACT
    )

    assert done.exit_code == 0, done.output
    [comment] = fake.ours(PR, PLAN_MARKER)
    body = comment["body"]
    assert "23 numbers" in body or "23" in body
    assert f"[`{HEAD[:12]}`](https://github.test/{SLUG}/commit/{HEAD})" in body
    assert f"https://github.test/{SLUG}/actions/runs/{RUN}" in body
    assert Meta.find(body) == Meta("planned", HEAD, RUN, ARTIFACT)
    assert body.split("\n", 1)[0] == PLAN_MARKER
    assert (tmp_path / "summary.md").read_text().startswith(PLAN_MARKER)


def test_failed_plan_replaces_the_old_plan_comment(fake: FakeGitHub, tmp_path: Path) -> None:
    old = fake.add_comment(PR, part(1, 2, "the plan of an earlier push"), BOT)
    fake.add_comment(PR, part(2, 2, "its second part"), BOT)
    log = tmp_path / "plan.log"
    log.write_text(
        "\n".join(f"progress {i}" for i in range(50))
        + "\nError: [wavix-main] GET /v1/numbers → 401: key rejected\n"
    )
    environ = env(fake, tmp_path, sha="c" * 40, pr=True)

    done = github(fake, environ, "plan-comment", "--exit-code", 1, "--log", log)

    assert done.exit_code == 0, done.output
    [comment] = fake.ours(PR, PLAN_MARKER)  # the second part deleted
    assert comment["id"] == old["id"]
    assert f"reconciler plan failed at `{HEAD[:12]}`" in comment["body"]
    assert "GET /v1/numbers → 401: key rejected" in comment["body"]
    assert "progress 10" not in comment["body"]  # the last lines only
    assert "the plan of an earlier push" not in comment["body"]
    assert Meta.find(comment["body"]) == Meta("failed", HEAD, RUN)


# --------------------------------------------------------------------------------------------
# Merge: the reviewed plan, end to end with the embedded sandbox


def review(fake: FakeGitHub, db: Path, config: Path, tmp_path: Path) -> Path:
    """The pull-request run: plan -o, the artifact kept, the comment posted; then the merge."""
    pr_dir = tmp_path / "pr"
    pr_dir.mkdir()
    plan_file = pr_dir / "plan.json"
    assert cli(db, "plan", config, "-o", plan_file, "--detailed-exitcode").exit_code == 2
    fake.upload(RUN, ARTIFACT, {"plan.json": plan_file.read_bytes()})
    environ = env(fake, pr_dir, sha="c" * 40, pr=True)
    done = github(
        fake, environ, "plan-comment", "--exit-code", 2, "--plan", plan_file, "--artifact", ARTIFACT
    )
    assert done.exit_code == 0, done.output
    fake.merge(PR, MERGE)
    return plan_file


def merge_run(tmp_path: Path) -> Path:
    path = tmp_path / "merge"
    path.mkdir(exist_ok=True)
    return path


def changed(db: Path, config: Path) -> int:
    result = cli(db, "plan", config, "--format", "json")
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["summary"]["changed"])


def test_merge_applies_the_reviewed_plan_and_reports_on_the_pr(
    fake: FakeGitHub, db: Path, config: Path, tmp_path: Path
) -> None:
    reviewed = review(fake, db, config, tmp_path)
    run = merge_run(tmp_path)
    environ = env(fake, run, sha=MERGE)
    fetched = run / "reviewed" / "plan.json"  # a directory that does not exist yet

    found = github(fake, environ, "fetch-plan", "-o", fetched, "--config", config)

    assert found.exit_code == 0, found.output
    assert fetched.read_bytes() == reviewed.read_bytes()
    assert outputs(run) == {"pr": str(PR), "plan": str(fetched)}
    applied = cli(db, "apply", fetched, "--format", "markdown")
    assert applied.exit_code == 0, applied.output
    (run / "apply.out").write_text(applied.stdout)
    reported = github(
        fake, environ, "apply-comment", "--pr", PR, "--exit-code", 0, "--output", run / "apply.out"
    )
    assert reported.exit_code == 0, reported.output
    [comment] = fake.ours(PR, APPLY_MARKER)
    assert comment["body"].startswith(applied.stdout.strip().split("\n\n", 1)[0])
    assert "Apply complete: 23 numbers changed" in comment["body"]
    assert f"commit/{MERGE}" in comment["body"] and f"actions/runs/{RUN}" in comment["body"]
    assert "What to do" not in comment["body"]
    assert "Apply complete" in (run / "summary.md").read_text()
    assert changed(db, config) == 0


def test_config_changed_after_the_review_is_refused_with_a_comment(
    fake: FakeGitHub, db: Path, config: Path, tmp_path: Path
) -> None:
    review(fake, db, config, tmp_path)
    profiles = config / "profiles.yaml"
    profiles.write_text(profiles.read_text() + "\n# another merge changed this file\n")
    run = merge_run(tmp_path)
    fetched = run / "plan.json"

    refused = github(
        fake, env(fake, run, sha=MERGE), "fetch-plan", "-o", fetched, "--config", config
    )

    assert refused.exit_code == 1, refused.output
    assert not fetched.exists()  # nothing a later step could apply
    [comment] = fake.ours(PR, APPLY_MARKER)
    assert "nothing was sent" in comment["body"]
    assert "the config files changed since the plan was made" in comment["body"]
    assert "Make a new plan" in comment["body"]
    assert changed(db, config) == 23  # nothing was sent to the carrier


def test_a_number_moved_after_the_plan_is_refused_with_a_comment(
    fake: FakeGitHub, db: Path, config: Path, tmp_path: Path
) -> None:
    review(fake, db, config, tmp_path)
    portal_edit(db, "+12125550105", "call_recording_enabled", False)  # a planned number
    run = merge_run(tmp_path)
    environ = env(fake, run, sha=MERGE)
    fetched = run / "plan.json"
    assert github(fake, environ, "fetch-plan", "-o", fetched, "--config", config).exit_code == 0

    applied = cli(db, "apply", fetched, "--format", "markdown")
    assert applied.exit_code == 3, applied.output
    (run / "apply.out").write_text(applied.stdout)
    (run / "apply.log").write_text(applied.stderr)
    reported = github(
        fake,
        environ,
        "apply-comment",
        "--pr",
        PR,
        "--exit-code",
        3,
        "--output",
        run / "apply.out",
        "--log",
        run / "apply.log",
    )

    assert reported.exit_code == 0, reported.output
    [comment] = fake.ours(PR, APPLY_MARKER)
    assert "the plan is stale" in comment["body"] and "nothing was sent" in comment["body"]
    assert "+12125550105" in comment["body"]
    assert "Make and review a new plan" in comment["body"]
    assert changed(db, config) == 23  # the moved number is now one more difference, not sent


@pytest.mark.parametrize("case", ["no pr", "no comment", "other head", "failed plan", "expired"])
def test_no_reviewed_plan_for_the_commit_is_refused_with_a_comment(
    fake: FakeGitHub, tmp_path: Path, case: str
) -> None:
    meta = Meta("planned", HEAD, RUN, ARTIFACT)
    if case != "no pr":
        fake.merge(PR, MERGE)
    if case == "other head":
        meta = Meta("planned", "d" * 40, RUN, f"reconciler-plan-{'d' * 40}")
    if case == "failed plan":
        meta = Meta("failed", HEAD, RUN)
    if case != "no comment":
        fake.add_comment(PR, f"{PLAN_MARKER}\nplan\n{meta.line()}\n", BOT)
    # A person's comment with the marker and metadata is no plan of ours.
    fake.add_comment(PR, f"{PLAN_MARKER}\n{Meta('planned', HEAD, RUN, ARTIFACT).line()}", "eve")
    fake.upload(RUN, ARTIFACT, {"plan.json": b"{}"})
    if case == "expired":
        fake.artifacts[RUN][0]["expired"] = True
    fetched = tmp_path / "plan.json"

    refused = github(fake, env(fake, tmp_path, sha=MERGE), "fetch-plan", "-o", fetched)

    assert refused.exit_code == 3, refused.output
    assert not fetched.exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "nothing was sent" in summary and "What to do" in summary
    why = {
        "no pr": "is not the merge of a pull request",
        "no comment": f"has no plan comment by {BOT}",
        "other head": f"is for commit {'d' * 12}, but the pull request's final commit is",
        "failed plan": "failed",
        "expired": "expired",
    }[case]
    assert why in summary
    comments = fake.ours(PR, APPLY_MARKER)
    if case == "no pr":
        assert comments == []  # no pull request to say it on: the job summary only
    else:
        [comment] = comments
        assert why in comment["body"]


def test_apply_text_output_and_its_error_are_reported_when_it_fails(
    fake: FakeGitHub, db: Path, config: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert cli(db, "plan", config, "-o", plan_file).exit_code == 0
    (config / "profiles.yaml").write_text((config / "profiles.yaml").read_text() + "# edit\n")
    applied = cli(db, "apply", plan_file)  # text: the error on stderr only
    assert applied.exit_code == 1
    (tmp_path / "apply.out").write_text(applied.stdout)
    (tmp_path / "apply.log").write_text(applied.stderr)
    environ = env(fake, tmp_path, sha=MERGE)

    done = github(
        fake,
        environ,
        "apply-comment",
        "--pr",
        PR,
        "--exit-code",
        1,
        "--output",
        tmp_path / "apply.out",
        "--log",
        tmp_path / "apply.log",
    )

    assert done.exit_code == 0, done.output
    [comment] = fake.ours(PR, APPLY_MARKER)
    assert "reconciler apply failed (exit 1)" in comment["body"]
    assert "the config files changed since the plan was made" in comment["body"]
    assert "What to do" in comment["body"]


def test_apply_markdown_is_passed_through_with_what_to_do(fake: FakeGitHub, tmp_path: Path) -> None:
    out = tmp_path / "apply.md"
    out.write_text(f"{APPLY_MARKER}\n\n**Apply partial**: 3 numbers did not converge\n")
    environ = env(fake, tmp_path, sha=MERGE)

    done = github(fake, environ, "apply-comment", "--pr", PR, "--exit-code", 4, "--output", out)

    assert done.exit_code == 0
    [comment] = fake.ours(PR, APPLY_MARKER)
    assert comment["body"].startswith(f"{APPLY_MARKER}\n\n**Apply partial**")
    assert "```" not in comment["body"]  # Markdown as Markdown, not quoted as text
    assert "did not reach their planned values" in comment["body"]


# --------------------------------------------------------------------------------------------
# Nightly: the drift issue


def test_drift_opens_one_issue_updates_it_then_closes_it_and_never_an_empty_one(
    fake: FakeGitHub, db: Path, config: Path, tmp_path: Path
) -> None:
    environ = env(fake, tmp_path, sha=MERGE)
    report = tmp_path / "drift-report"
    # In sync: nothing to open.
    assert cli(db, "drift", config, "--split-dir", report).exit_code == 2  # example not applied
    assert cli(db, "apply", config, "--auto-approve").exit_code == 0
    for old in report.glob("*.md"):
        old.unlink()
    assert cli(db, "drift", config, "--split-dir", report).exit_code == 0
    done = github(fake, environ, "drift-issue", "--exit-code", 0, "--parts", report)
    assert done.exit_code == 0 and fake.writes() == []

    # Exit 2 with no report: no empty issue.
    empty = github(fake, environ, "drift-issue", "--exit-code", 2, "--parts", tmp_path / "none")
    assert empty.exit_code == 1
    assert "wrote no drift-N.md report" in empty.output
    assert fake.writes() == []

    cli(db, "sandbox", "drift", "--numbers", 3, "--seed", 1, "--config", config)
    assert cli(db, "drift", config, "--split-dir", report).exit_code == 2
    assert github(fake, environ, "drift-issue", "--exit-code", 2, "--parts", report).exit_code == 0
    [issue] = [i for i in fake.issues.values() if "pull_request" not in i]
    assert issue["labels"] == ["reconciler-drift"] and issue["state"] == "open"
    assert issue["body"].startswith("<!-- reconciler-drift -->") and "3" in issue["body"]

    assert github(fake, environ, "drift-issue", "--exit-code", 2, "--parts", report).exit_code == 0
    assert len([i for i in fake.issues.values() if "pull_request" not in i]) == 1  # updated

    assert github(fake, environ, "drift-issue", "--exit-code", 0, "--parts", report).exit_code == 0
    assert issue["state"] == "closed"
    assert "Back in sync" in fake.comments[issue["number"]][-1]["body"]


# --------------------------------------------------------------------------------------------
# The run's context


def test_context_reads_the_actions_environment(tmp_path: Path) -> None:
    fake = FakeGitHub()
    ctx = RunContext.from_env(env(fake, tmp_path, sha="c" * 40, pr=True))
    assert ctx.head_sha == HEAD and ctx.sha == "c" * 40
    assert ctx.run_url == f"https://github.test/{SLUG}/actions/runs/{RUN}"
    assert ctx.api_url == fake.api
    override = {**env(fake, tmp_path, sha="c"), "RECONCILER_GITHUB_API_URL": "http://127.0.0.1:9"}
    assert RunContext.from_env(override).api_url == "http://127.0.0.1:9"
    with pytest.raises(GitHubError, match="GITHUB_REPOSITORY"):
        RunContext.from_env({})
    assert Bot(BOT, "wavix-main").marker(PLAN_MARKER) == "<!-- reconciler-plan:wavix-main -->"


def test_action_yml_documents_its_inputs_and_runs_real_commands() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    for name, spec in {**action["inputs"], **action["outputs"]}.items():
        assert spec.get("description"), name
    assert set(action["inputs"]) >= {"command", "config", "env", "github-token", "comment-author"}
    text = (REPO / "action.yml").read_text()
    assert 'pip" install --quiet "$GITHUB_ACTION_PATH"' in text  # the tool from this checkout
    for sub in ("context", "plan-comment", "fetch-plan", "apply-comment", "drift-issue"):
        assert f"reconciler github {sub}" in text
