"""``reconciler github …``: the GitHub steps of the review loop (wiring only; see ``review``).

Each subcommand is one step of action.yml, run in its own step with ``GITHUB_TOKEN`` and no
carrier key (the carrier keys are only in the step that runs plan, apply or drift). Exit codes:
0 done; 1 error (GitHub refused or unreachable, usage); ``fetch-plan`` 3: refused, nothing to
apply (said on the pull request and in the job summary).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from ..errors import ReconcilerError
from . import review
from .github import ACTIONS_BOT, GitHub, RunContext, client_from_env

F = TypeVar("F", bound=Callable[..., Any])


def _errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReconcilerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


def _read(path: Path | None) -> str:
    """A step's captured output; a file the step never wrote reads as nothing."""
    if path is None or not path.is_file():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


class _Session:
    def __init__(self, author: str, label: str) -> None:
        self.ctx = RunContext.from_env()
        # Tests hand a transport in through click's context object (CliRunner(obj=...)).
        transport = click.get_current_context().find_object(httpx.BaseTransport)
        self.gh: GitHub = client_from_env(self.ctx, transport=transport)
        self.bot = review.Bot(author=author or self.gh.login(), label=label)

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.gh.close()


def _common(func: F) -> F:
    func = click.option(
        "--author",
        envvar="RECONCILER_GITHUB_AUTHOR",
        default=ACTIONS_BOT,
        show_default=True,
        help="Login whose comments are the bot's ('' asks GitHub: GET /user, for a personal "
        "or app token).",
    )(func)
    return click.option(
        "--label",
        default="",
        help="Name of one of several runs (e.g. per account): its own comments and artifact.",
    )(func)


exit_code_option = click.option(
    "--exit-code", type=int, required=True, help="The exit code of the reconciler step."
)
log_option = click.option(
    "--log",
    "log_file",
    type=click.Path(path_type=Path),
    help="The step's stderr (its last lines are quoted on failure).",
)
pr_option = click.option(
    "--pr", type=int, help="Pull-request number (default: the event's pull request)."
)


@click.group()
def github() -> None:
    """The GitHub side of the review loop (used by action.yml; token from GITHUB_TOKEN)."""


@github.command("context")
@click.option("--label", default="", help="Name of one of several runs (e.g. per account).")
@_errors
def context_cmd(label: str) -> None:
    """Print and set the step outputs head-sha, artifact (the plan's artifact name) and
    drift-marker (the drift report's marker line)."""
    ctx = RunContext.from_env()
    bot = review.Bot(author="", label=label)
    found = {
        "head-sha": ctx.head_sha,
        "artifact": bot.artifact(ctx.head_sha),
        "drift-marker": bot.marker(review.DRIFT_MARKER),
    }
    for name, value in found.items():
        ctx.set_output(name, value)
        click.echo(f"{name}={value}")


@github.command("plan-comment")
@_common
@pr_option
@exit_code_option
@click.option("--plan", "plan_file", type=click.Path(path_type=Path), help="plan -o FILE.")
@log_option
@click.option("--artifact", help="Name of the artifact holding the plan file (none: not kept).")
@_errors
def plan_comment(
    author: str,
    label: str,
    pr: int | None,
    exit_code: int,
    plan_file: Path | None,
    log_file: Path | None,
    artifact: str | None,
) -> None:
    """Post or update the plan comment (or 'plan failed at SHA'); write the job summary."""
    with _Session(author, label) as s:
        code = review.post_plan(
            s.gh,
            s.ctx,
            s.bot,
            pr=review.pr_number(s.ctx, pr),
            exit_code=exit_code,
            plan_file=plan_file,
            log_text=_read(log_file),
            artifact=artifact or None,
        )
    sys.exit(code)


@github.command("fetch-plan")
@_common
@click.option("--sha", help="The merged commit (default GITHUB_SHA).")
@click.option(
    "-o", "--out", type=click.Path(path_type=Path), required=True, help="Where to write plan.json."
)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="Check the plan was made from this config (offline, no carrier call).",
)
@_errors
def fetch_plan(author: str, label: str, sha: str | None, out: Path, config: Path | None) -> None:
    """Fetch the plan reviewed on the pull request merged as SHA (exit 0 found, 1 error,
    3 refused: nothing to apply, said on the pull request)."""
    with _Session(author, label) as s:
        commit = sha or s.ctx.sha
        if not commit:
            raise click.UsageError("no commit: pass --sha or set GITHUB_SHA")
        code = review.fetch_plan(s.gh, s.ctx, s.bot, sha=commit, out=out, config=config)
    sys.exit(code)


@github.command("apply-comment")
@_common
@pr_option
@exit_code_option
@click.option(
    "--output",
    "output_file",
    type=click.Path(path_type=Path),
    help="The apply's stdout (--format markdown, or text).",
)
@log_option
@_errors
def apply_comment(
    author: str,
    label: str,
    pr: int | None,
    exit_code: int,
    output_file: Path | None,
    log_file: Path | None,
) -> None:
    """Report the apply in the job summary and on the merged pull request (--pr)."""
    with _Session(author, label) as s:
        code = review.report_apply(
            s.gh,
            s.ctx,
            s.bot,
            pr=pr,
            exit_code=exit_code,
            output=_read(output_file),
            log_text=_read(log_file),
        )
    sys.exit(code)


@github.command("drift-issue")
@_common
@exit_code_option
@click.option(
    "--parts",
    "parts_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="The drift --split-dir DIR.",
)
@log_option
@click.option("--title", default="Carrier accounts drifted from the YAML", show_default=True)
@_errors
def drift_issue(
    author: str, label: str, exit_code: int, parts_dir: Path, log_file: Path | None, title: str
) -> None:
    """Open or update the drift issue (exit code 2), close it (0); write the job summary."""
    with _Session(author, label) as s:
        code = review.drift_issue(
            s.gh,
            s.ctx,
            s.bot,
            exit_code=exit_code,
            parts_dir=parts_dir,
            log_text=_read(log_file),
            title=title,
        )
    sys.exit(code)
