"""The main commands but ``apply``: validate, plan, show, drift, schema.

Each one wires loader → runner (plan, rails) → render → exit code; nothing else happens here.
``runner`` (and with it the providers and their HTTP client) is imported by the commands that
read a carrier, so ``validate`` and ``schema`` stay offline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import PlanError
from .errors import EXIT_CHANGES, console, handle_errors
from .options import (
    account_option,
    output_format,
    output_options,
    path_argument,
    rail_options,
    sandbox_db_option,
    target_option,
)
from .running import run

if TYPE_CHECKING:
    from .. import rails
    from ..plan import Plan
    from ..runner import Wiring

# planfile, rails, render, the runner: imported where used, so '--help' and 'validate' load
# only what they run (issue 18).


@click.command()
@path_argument
@handle_errors
def validate(path: Path) -> None:
    """Check the YAML offline (no API call): keys, types, numbers, references."""
    from .. import rails
    from ..loader import load

    not_a_plan_file(path)
    state = load(path)
    rules = sum(len(r) for r in state.rules.values())
    click.echo(
        f"Configuration is valid: {len(state.files)} file(s), {len(state.accounts)} account(s), "
        f"{rules} number selector(s)."
    )
    for warning in rails.config_warnings(state):
        click.echo(f"Warning: {warning.message}", err=True)
    for issue in state.unset_secrets:  # fine offline; plan and apply refuse until it is set
        click.echo(f"Warning: {issue}", err=True)


def not_a_plan_file(path: Path) -> None:
    """``plan``/``validate``/``drift`` given a saved plan: one clear message, not the loader's
    "unknown key" for each of its keys."""
    if not path.is_file():
        return  # a config directory (or nothing): not a plan file, and no need to load planfile
    from .. import planfile

    if planfile.looks_like_plan_file(path):
        raise PlanError(
            f"{path} is a saved plan: use 'reconciler show {path}' or 'reconciler apply {path}'"
        )


def emit(
    plan: Plan,
    *,
    fmt: str,
    full: bool = False,
    split_dir: Path | None = None,
    marker: str | None = None,
    drift: bool = False,
    every: bool = False,
) -> None:
    """Write a plan or drift report to stdout, or Markdown parts into ``split_dir``.
    ``every``: drift lists unmanaged numbers and every drifted number."""
    from .. import render

    out = sys.stdout
    if split_dir is not None:
        split_dir.mkdir(parents=True, exist_ok=True)
        default = render.DRIFT_MARKER if drift else render.MARKER
        parts = render.markdown_parts(
            plan, drift=drift, full=full or every, marker=marker or default
        )
        stem = "drift" if drift else "plan"
        for old in split_dir.glob(f"{stem}-*.md"):
            old.unlink()  # parts of an earlier, longer run would be posted again
        for i, body in enumerate(parts, 1):
            part = split_dir / f"{stem}-{i}.md"
            part.write_text(body, encoding="utf-8")
            click.echo(str(part))
        return
    if drift:
        render.write_drift(
            plan,
            out,
            fmt=fmt,
            verbose=every,
            color=render.use_color(out),
            marker=marker or render.DRIFT_MARKER,
        )
    else:
        render.write_plan(plan, out, fmt=fmt, full=full, color=render.use_color(out))
    out.flush()  # before any message on stderr: a piped stdout is block-buffered


def wiring(sandbox_db: Path | None) -> Wiring:
    """The sandbox file, and the progress display on stderr around the reads."""
    from .. import render
    from ..runner import Wiring

    return Wiring(
        sandbox_path=sandbox_db, progress=lambda ps: render.progress(console(err=True), ps)
    )


@click.command()
@path_argument
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Also save the plan to FILE (JSON) for 'reconciler apply FILE'.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when no changes, 2 when changes.")
@output_options
@target_option
@account_option
@rail_options
@sandbox_db_option
@handle_errors
def plan(
    path: Path,
    out: Path | None,
    detailed_exitcode: bool,
    fmt: str,
    as_json: bool,
    full: bool,
    split_dir: Path | None,
    marker: str | None,
    targets: tuple[str, ...],
    accounts: tuple[str, ...],
    sandbox_db: Path | None,
    overrides: rails.Overrides,
) -> None:
    """Read the live accounts and show what apply would change, in the fewest bulk calls.

    Rails the plan trips are shown as warnings: apply will refuse them without --force.
    --account limits the run (and a saved plan) to those accounts; the others are not read."""
    from .. import runner

    not_a_plan_file(path)

    async def go() -> Plan:
        async with runner.planned(
            path,
            targets=targets,
            accounts=accounts,
            overrides=overrides,
            wiring=wiring(sandbox_db),
        ) as made:
            if out is not None:
                from .. import planfile  # only to save the plan (-o)

                planfile.write(
                    planfile.build(made.plan, made.state, made.observed, config_path=path), out
                )
            return made.plan

    result = run(go())
    emit(
        result,
        fmt=output_format(fmt, as_json, split_dir),
        full=full,
        split_dir=split_dir,
        marker=marker,
    )
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; apply exactly it with: reconciler apply {out}", err=True
        )
    if detailed_exitcode and result.has_changes:
        sys.exit(EXIT_CHANGES)


@click.command()
@click.argument("plan_file", type=click.Path(path_type=Path), metavar="PLAN_FILE")
@output_options
@handle_errors
def show(
    plan_file: Path, fmt: str, as_json: bool, full: bool, split_dir: Path | None, marker: str | None
) -> None:
    """Render a saved plan (from 'plan -o') without calling any API."""
    from .. import planfile

    saved = planfile.read(plan_file)
    fmt = output_format(fmt, as_json, split_dir)
    if fmt == "text" and split_dir is None:
        fleet = saved.plan.scope.accounts
        click.echo(
            f"Saved plan {plan_file}: made {saved.created_at or '?'} by reconciler "
            f"{saved.tool_version or '?'} from {saved.config_path} ({saved.config_files} file(s))"
            + (f"; accounts: {fleet.describe()}." if fleet is not None else ".")
        )
    emit(saved.plan, fmt=fmt, full=full, split_dir=split_dir, marker=marker)


def _deprecated_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """``drift -v``: the old spelling of ``--all`` (the group's ``-v`` is logging)."""
    if value:
        click.echo("Warning: drift -v is deprecated; use --all (same meaning).", err=True)
    return value


@click.command()
@path_argument
@output_options
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="List unmanaged numbers and every drifted number.",
)
@click.option(  # deprecated: --all (before, -v meant "every number" here and logging before it)
    "-v", "--verbose", "old_every", is_flag=True, hidden=True, callback=_deprecated_verbose
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Accept a config that manages nothing in an account it declares.",
)
@target_option
@account_option
@sandbox_db_option
@handle_errors
def drift(
    path: Path,
    fmt: str,
    as_json: bool,
    full: bool,
    split_dir: Path | None,
    marker: str | None,
    every: bool,
    old_every: bool,
    allow_empty: bool,
    targets: tuple[str, ...],
    accounts: tuple[str, ...],
    sandbox_db: Path | None,
) -> None:
    """For cron: exit 0 when the accounts match the YAML, 2 when something moved, 1 on error.

    Findings are grouped by cause (account, field, desired, actual). An empty or truncated
    config is refused (exit 3) unless --allow-empty. --account checks only those accounts.
    --all lists unmanaged numbers and every drifted number."""
    from .. import rails, runner

    not_a_plan_file(path)
    every = every or old_every

    async def go() -> Plan:
        async with runner.planned(
            path,
            targets=targets,
            accounts=accounts,
            wiring=wiring(sandbox_db),
            list_unmanaged=every,
        ) as made:
            return made.plan

    result = run(go())
    if not allow_empty:
        rails.refuse_empty(result.warnings)
    emit(
        result,
        fmt=output_format(fmt, as_json, split_dir),
        full=full,
        split_dir=split_dir,
        marker=marker,
        drift=True,
        every=every,
    )
    if result.has_changes:
        sys.exit(EXIT_CHANGES)


@click.command()
def schema() -> None:
    """Print the JSON Schema of the config files (for editors: yaml-language-server)."""
    from ..schema import config_schema

    click.echo(json.dumps(config_schema(), indent=2))


__all__ = ["drift", "emit", "not_a_plan_file", "plan", "schema", "show", "validate", "wiring"]
