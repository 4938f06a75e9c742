"""The steps of the review loop on GitHub, each one function returning an exit code.

    pull request ─ plan -o plan.json ─▶ post_plan: the plan (or "plan failed") as the PR comment,
                                        with the head SHA, run id and artifact name hidden in it
    merge ──────── fetch_plan ─▶ plan.json of the reviewed run ─▶ apply plan.json ─▶ report_apply
    nightly ────── drift --split-dir ─▶ drift_issue: open / update the issue, or close it

Exit codes of ``fetch_plan``: 0 found (the plan file is written), 1 error (GitHub could not be
asked), 3 refused with nothing sent (no merged pull request, no plan for its final commit, the
artifact is gone, the config changed since the review); every refusal is said on the pull
request (when there is one) and in the job summary. The reporting steps exit 0 once said,
1 when GitHub refused.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import planfile, render
from ..errors import ReconcilerError
from ..loader import load
from .comments import FOOTER_RESERVE, Meta, fence, fit, footer, last_lines, ours, summary, upsert
from .github import GitHub, GitHubError, RunContext

log = logging.getLogger(__name__)

PLAN_MARKER = render.MARKER
APPLY_MARKER = render.APPLY_MARKER
DRIFT_MARKER = render.DRIFT_MARKER
DRIFT_LABEL = "reconciler-drift"
PLAN_MEMBER = "plan.json"

EXIT_OK, EXIT_ERROR, EXIT_REFUSED = 0, 1, 3


@dataclass(frozen=True)
class Bot:
    """Who the bot is and which of its comments a step works on."""

    author: str
    label: str = ""
    """A name for one of several runs (e.g. per account): its own comments and artifact."""

    def marker(self, base: str) -> str:
        return base if not self.label else base.replace(" -->", f":{self.label} -->")

    def artifact(self, head_sha: str) -> str:
        middle = f"{self.label}-" if self.label else ""
        return f"reconciler-plan-{middle}{head_sha}"


def pr_number(ctx: RunContext, given: int | None) -> int:
    if given is not None:
        return given
    pr = ctx.pull_request
    if pr is None or not isinstance(pr.get("number"), int):
        raise GitHubError(
            "not a pull-request run: pass --pr NUMBER (the event has no pull_request)"
        )
    return int(pr["number"])


# --------------------------------------------------------------------------------------------
# Pull request: the plan comment


def post_plan(
    gh: GitHub,
    ctx: RunContext,
    bot: Bot,
    *,
    pr: int,
    exit_code: int,
    plan_file: Path | None,
    log_text: str,
    artifact: str | None,
) -> int:
    """The plan as the pull request's comment, or "plan failed at SHA" with the error's last
    lines when there is no plan (exit code 1, or no readable plan file): an earlier plan comment
    never stays looking current."""
    sha = ctx.head_sha
    marker = bot.marker(PLAN_MARKER)
    saved = None
    problem = ""
    if exit_code in (0, 2) and plan_file is not None:
        try:
            saved = planfile.read(plan_file)
        except ReconcilerError as exc:
            problem = str(exc)
    if saved is not None:
        meta = Meta("planned", sha, ctx.run_id, artifact)
        tail = footer(ctx, "plan", sha, meta)
        if artifact is None:
            tail = (
                "\n\n> [!WARNING]\n> The plan file was not kept as an artifact: merging will "
                "apply nothing until a plan of the final commit is kept." + tail
            )
        parts = render.markdown_parts(
            saved.plan, max_chars=render.GITHUB_LIMIT - FOOTER_RESERVE, marker=marker
        )
        bodies = fit(parts, marker, tail)
    else:
        why = problem or last_lines(log_text) or f"reconciler plan exited {exit_code}"
        body = (
            f"{marker}\n\n### ❌ reconciler plan failed at `{sha[:12]}`\n\n"
            "There is no plan of this commit to review, and merging it applies nothing until a "
            "plan succeeds. The error's last lines:\n\n"
            f"{fence(why)}\n\n"
            "Fix the cause and push again (or re-run the job if the carrier was unreachable)."
        )
        bodies = fit([body], marker, footer(ctx, "plan", sha, Meta("failed", sha, ctx.run_id)))
    summary(ctx, bodies)
    done = upsert(gh, pr, bodies, marker=marker, author=bot.author)
    log.info("plan comment %s", done)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Merge: the reviewed plan


class Refusal(Exception):
    """fetch_plan cannot hand over a reviewed plan; ``pr`` is where to say so."""

    def __init__(
        self, why: str, todo: str, pr: int | None = None, code: int = EXIT_REFUSED
    ) -> None:
        super().__init__(why)
        self.why, self.todo, self.pr, self.code = why, todo, pr, code


def fetch_plan(
    gh: GitHub, ctx: RunContext, bot: Bot, *, sha: str, out: Path, config: Path | None
) -> int:
    """Find the pull request merged as ``sha``, its last plan comment, check it was made for
    the pull request's final head commit, download that run's artifact and write its plan to
    ``out``; with ``config``, check the config is the one planned (``planfile.check_config``).
    Outputs (``$GITHUB_OUTPUT``): ``pr``, ``plan``."""
    try:
        pr, meta = _reviewed(gh, bot, sha)
        ctx.set_output("pr", str(pr["number"]))
        _download(gh, meta, out, int(pr["number"]))
        if config is not None:
            _same_config(out, config, int(pr["number"]))
    except Refusal as refusal:
        out.unlink(missing_ok=True)  # nothing a later step could apply by mistake
        _refuse(gh, ctx, bot, sha, refusal)
        return refusal.code
    ctx.set_output("plan", str(out))
    ctx.add_summary(
        f"### reconciler: the reviewed plan of #{pr['number']}\n\n"
        f"Planned for `{meta.head_sha[:12]}` by [run {meta.run_id}]"
        f"({ctx.server_url}/{ctx.repository}/actions/runs/{meta.run_id}); "
        f"artifact `{meta.artifact}` → `{out}`."
    )
    return EXIT_OK


def _reviewed(gh: GitHub, bot: Bot, sha: str) -> tuple[dict[str, Any], Meta]:
    merged = [p for p in gh.pulls_for_commit(sha) if p.get("merged_at")]
    merged.sort(key=lambda p: p.get("merge_commit_sha") != sha)  # the one merged as sha first
    if not merged:
        raise Refusal(
            f"commit {sha[:12]} is not the merge of a pull request, so no plan of it was reviewed",
            "Change the YAML through a pull request: its plan is posted for review and applied "
            "when it is merged.",
        )
    pr = merged[0]
    number = int(pr["number"])
    head = str((pr.get("head") or {}).get("sha") or "")
    mine = ours(gh.comments(number), bot.marker(PLAN_MARKER), bot.author)
    metas = [m for m in (Meta.find(c.get("body") or "") for c in mine) if m is not None]
    again = (
        "Re-run the plan workflow for this pull request's last commit, read the plan, then run "
        "this workflow again (Actions → Run workflow), or make a new pull request."
    )
    if not metas:
        raise Refusal(
            f"#{number} has no plan comment by {bot.author}: no plan was reviewed", again, number
        )
    meta = metas[-1]
    if meta.status != "planned":
        raise Refusal(
            f"the last plan of #{number} failed (at {meta.head_sha[:12]}): there is no plan "
            "to apply",
            again,
            number,
        )
    if meta.head_sha != head:
        raise Refusal(
            f"the last plan comment of #{number} is for commit {meta.head_sha[:12]}, but the "
            f"pull request's final commit is {head[:12]}: the merged version was not planned",
            again,
            number,
        )
    if not meta.artifact:
        raise Refusal(f"the plan of #{number} was not kept as an artifact", again, number)
    return pr, meta


def _download(gh: GitHub, meta: Meta, out: Path, pr: int) -> None:
    found = [a for a in gh.artifacts(meta.run_id, meta.artifact) if a.get("name") == meta.artifact]
    live = [a for a in found if not a.get("expired")]
    if not live:
        gone = "expired (past its retention days)" if found else "not found"
        raise Refusal(
            f"the artifact {meta.artifact} of run {meta.run_id} is {gone}",
            "Re-run the plan workflow of the pull request's last commit, then run this workflow "
            "again (Actions → Run workflow).",
            pr,
        )
    data = gh.download(str(live[-1]["archive_download_url"]))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo(PLAN_MEMBER)
            if info.file_size > 1 << 30:
                raise zipfile.BadZipFile("plan.json larger than 1 GiB")
            content = archive.read(info)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise Refusal(
            f"the artifact {meta.artifact} holds no readable {PLAN_MEMBER} ({exc})",
            "Re-run the plan workflow of the pull request's last commit.",
            pr,
        ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)


def _same_config(out: Path, config: Path, pr: int) -> None:
    """The rule ``apply plan.json`` applies, before anything is read at the carrier."""
    try:
        planfile.check_config(planfile.read(out), load(config))
    except ReconcilerError as exc:
        raise Refusal(
            f"the reviewed plan does not fit the config on this commit: {exc}",
            "Something else changed the YAML after this pull request was planned (another "
            "merge?). Make a new plan: re-run the plan workflow on a pull request with the "
            "current YAML, review it, merge.",
            pr,
            EXIT_ERROR,  # as `apply plan.json` exits for a changed config
        ) from None


def _refuse(gh: GitHub, ctx: RunContext, bot: Bot, sha: str, refusal: Refusal) -> None:
    marker = bot.marker(APPLY_MARKER)
    body = (
        f"{marker}\n\n### ⛔ reconciler did not apply: nothing was sent\n\n"
        f"{refusal.why}.\n\n**What to do:** {refusal.todo}"
    )
    bodies = fit([body], marker, footer(ctx, "apply", sha, None))
    summary(ctx, bodies)
    if refusal.pr is not None:
        upsert(gh, refusal.pr, bodies, marker=marker, author=bot.author)


# --------------------------------------------------------------------------------------------
# Merge: the apply report

_OUTCOME = {
    0: ("✅ reconciler applied the reviewed plan", ""),
    3: (
        "⛔ reconciler refused the reviewed plan: nothing was sent",
        "A planned number changed at the carrier since the review, or a safety rail tripped "
        "(the lines below say which). Make and review a new plan; for a rail a person has read, "
        "run this workflow by hand with `force`.",
    ),
    4: (
        "⚠️ reconciler applied part of the reviewed plan",
        "Some numbers did not reach their planned values (listed below). The nightly drift "
        "check reports them until a new plan fixes them.",
    ),
    130: (
        "⚠️ reconciler apply was interrupted",
        "Run this workflow again: it settles the calls that were in flight, never sends one "
        "twice, then applies what is left.",
    ),
}
_OUTCOME[143] = _OUTCOME[130]
_FAILED = (
    "❌ reconciler apply failed",
    "Read the error below. If the config changed since the review, nothing was sent: make and "
    "review a new plan.",
)


def report_apply(
    gh: GitHub,
    ctx: RunContext,
    bot: Bot,
    *,
    pr: int | None,
    exit_code: int,
    output: str,
    log_text: str,
) -> int:
    """The apply's result in the job summary and as a comment on the merged pull request:
    ``apply --format markdown``'s report as it is, else its text (and the error's last lines
    from ``log_text``) under a heading by exit code; with what to do when not applied."""
    marker = bot.marker(APPLY_MARKER)
    title, todo = _OUTCOME.get(exit_code, _FAILED)
    markdown = output.lstrip().startswith(APPLY_MARKER)
    if markdown:
        text = output.lstrip()
        if marker != APPLY_MARKER:
            text = marker + text[len(APPLY_MARKER) :]
        body = text.rstrip() + "\n"
        if todo:
            body += f"\n**What to do:** {todo}\n"
    else:
        body = f"{marker}\n\n### {title} (exit {exit_code})\n\n"
        if output.strip():
            body += fence(output) + "\n\n"
        if todo:
            body += f"**What to do:** {todo}\n\n"
    errors = last_lines(log_text)
    if errors and exit_code != 0 and not markdown:  # the Markdown report says it already
        body += f"\nThe error's last lines:\n\n{fence(errors)}\n"
    bodies = fit([body], marker, footer(ctx, "apply", ctx.sha, None))
    summary(ctx, bodies)
    if pr is not None:
        upsert(gh, pr, bodies, marker=marker, author=bot.author)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Nightly: the drift issue


def drift_issue(
    gh: GitHub,
    ctx: RunContext,
    bot: Bot,
    *,
    exit_code: int,
    parts_dir: Path,
    log_text: str,
    title: str = "Carrier accounts drifted from the YAML",
) -> int:
    """Exit 2 (drift): the open drift issue updated (body: the report's first part, further
    parts as the bot's comments on it), or a new one; exit 0: the open issue commented and
    closed; anything else: the job summary only (the job fails, the issue stays). A drift run
    without a report opens nothing (exit 1)."""
    marker = bot.marker(DRIFT_MARKER)
    label = f"{DRIFT_LABEL}-{bot.label}" if bot.label else DRIFT_LABEL
    open_issues = [
        i
        for i in gh.issues(label=label)
        if (i.get("user") or {}).get("login") == bot.author
        and (i.get("body") or "").split("\n", 1)[0].strip() == marker
    ]
    if exit_code == 0:
        for issue in open_issues:
            gh.create_comment(
                int(issue["number"]),
                f"Back in sync at commit `{ctx.sha[:12]}`: the carrier accounts match the YAML "
                f"([workflow run {ctx.run_id}]({ctx.run_url})). Closing.",
            )
            gh.update_issue(int(issue["number"]), state="closed", state_reason="completed")
        closed = ", ".join(f"#{i['number']}" for i in open_issues) or "none open"
        ctx.add_summary(f"### reconciler drift: in sync\n\nDrift issues closed: {closed}.")
        return EXIT_OK
    if exit_code != 2:
        ctx.add_summary(
            f"### ❌ reconciler drift failed (exit {exit_code})\n\n"
            f"{fence(last_lines(log_text) or 'no error output')}"
        )
        return EXIT_OK
    parts = _parts(parts_dir)
    if not parts:
        ctx.add_summary(
            f"### ❌ reconciler drift: exit 2 but no report in `{parts_dir}`\n\nNo issue opened."
        )
        raise GitHubError(f"{parts_dir}: drift exited 2 but wrote no drift-N.md report")
    tail = footer(ctx, "drift check", ctx.sha, None)
    bodies = fit(parts, marker, tail)
    summary(ctx, bodies)
    if open_issues:
        issue = open_issues[0]
        number = int(issue["number"])
        if issue.get("body") != bodies[0]:
            gh.update_issue(number, body=bodies[0])
    else:
        number = int(gh.create_issue(title, bodies[0], [label])["number"])
    upsert(gh, number, bodies[1:], marker=marker, author=bot.author)
    ctx.set_output("issue", str(number))
    return EXIT_OK


def _parts(parts_dir: Path) -> list[str]:
    """drift-1.md, drift-2.md, … in number order; a missing directory is no report."""
    if not parts_dir.is_dir():
        return []
    found = []
    for path in parts_dir.glob("drift-*.md"):
        stem = path.stem.removeprefix("drift-")
        if stem.isdigit():
            found.append((int(stem), path.read_text(encoding="utf-8")))
    return [text for _, text in sorted(found) if text.strip()]
