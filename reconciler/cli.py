"""The command line: click wiring only. Config → runner (plan, rails) → render → exit code.

Exit codes, the same for every command (README and docs/review-workflow.md list them):

  0  success, or nothing to do (plan without --detailed-exitcode; drift in sync)
  1  error: invalid config, unreadable/edited/outdated plan file, carrier error, cancelled
  2  changes (plan --detailed-exitcode) or drift (drift)
  3  refused, nothing sent: a stale saved plan, a safety rail, an empty config (drift)
  4  partial apply: some numbers did not reach their desired state
  130  apply interrupted (Ctrl-C): the message says which calls were sent and what to run next
  143  apply terminated (SIGTERM, e.g. a cancelled CI job): the same message as for Ctrl-C

``RECONCILER_LOG`` (debug, info, warning, error) sets the log level on stderr, like terraform's
``TF_LOG``; ``-v``/``-vv`` win when given.

Shell completion (click): ``eval "$(_RECONCILER_COMPLETE=bash_source reconciler)"`` in
``~/.bashrc`` (``zsh_source`` for zsh, ``fish_source`` for fish).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from rich.console import Console

from . import __version__, journal, planfile, rails, render, runner
from .applier import ApplyInterrupted
from .errors import Aborted, ConfigError, PlanError, ReconcilerError, Refused, StalePlan
from .loader import load
from .plan import Plan

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

EXIT_CHANGES = 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM
LOG_ENV = "RECONCILER_LOG"
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _Terminate:
    """SIGTERM taken the way Ctrl-C is, while ``apply`` runs (GitHub cancels a job with SIGINT,
    then SIGTERM): the main task is cancelled as asyncio's SIGINT handler does, so the applier
    stops sending, records the calls in flight and raises ``ApplyInterrupted``. Outside the
    event loop it raises ``KeyboardInterrupt``, as Python's SIGINT handler does. The handler is
    installed for the block only; the previous one is restored after. ``hit``: a SIGTERM came
    (exit 143 rather than 130)."""

    def __init__(self) -> None:
        self.hit = False
        self._task: asyncio.Task[Any] | None = None
        self._previous: Any = None

    def __enter__(self) -> _Terminate:
        self._previous = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    async def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Await ``main`` as the task a SIGTERM cancels."""
        self._task = asyncio.current_task()
        try:
            return await main
        finally:
            self._task = None

    def _on_term(self, signum: int, frame: Any) -> None:
        task = self._task
        if task is not None and task.cancelling():
            return  # already stopping (a Ctrl-C or an earlier SIGTERM): let it finish
        self.hit = True
        if task is None:
            raise KeyboardInterrupt
        task.get_loop().call_soon_threadsafe(task.cancel)


def _run(main: Coroutine[Any, Any, T], terminate: _Terminate | None = None) -> T:
    """``asyncio.run(main)`` with the result kept off the main task: on the way out Python
    3.11's runner looks up its SIGINT handler, whose repr holds the task and so repr()s the
    whole result (0.1 s for a 100k-number plan). ``terminate``: SIGTERM cancels ``main``."""
    box: list[T] = []

    async def boxed() -> None:
        box.append(await (terminate.run(main) if terminate is not None else main))

    asyncio.run(boxed())
    return box[0]


def _log_level(verbose: int, env: str | None) -> tuple[int, str | None]:
    """The log level: ``-v`` (info) / ``-vv`` (debug) when given, else ``RECONCILER_LOG``, else
    warning; and a warning to print when the variable names no level."""
    if verbose:
        return (logging.INFO if verbose == 1 else logging.DEBUG), None
    if not env or not env.strip():
        return logging.WARNING, None
    level = LOG_LEVELS.get(env.strip().lower())
    if level is None:
        shown = env.strip()[:20] + ("…" if len(env.strip()) > 20 else "")
        return logging.WARNING, (
            f"Warning: {LOG_ENV}={shown!r} is not a log level; use one of "
            f"{', '.join(LOG_LEVELS)} (logging at warning)"
        )
    return level, None


def _console(err: bool = False) -> Console:
    return Console(stderr=err, highlight=False, soft_wrap=True)


def handle_errors(func: F) -> F:
    """The one error handler: domain errors → message on stderr + exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            err = _console(err=True)
            n = len(exc.issues)
            err.print(
                f"[bold red]Error:[/] the configuration has {n} problem{'s' if n != 1 else ''}:"
            )
            for issue in exc.issues:
                err.print(f"  {issue}", markup=False)
            sys.exit(exc.exit_code)
        except Aborted as exc:
            _console(err=True).print(f"Apply cancelled: {exc}", markup=False)
            sys.exit(exc.exit_code)
        except ReconcilerError as exc:
            err = _console(err=True)
            err.print("[bold red]Error:[/] ", end="")
            err.print(str(exc), markup=False)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _console(err=True).print("Interrupted.")
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


path_argument = click.argument("path", type=click.Path(path_type=Path), metavar="PATH")
sandbox_db_option = click.option(
    "--sandbox-db",
    type=click.Path(path_type=Path),
    envvar="RECONCILER_SANDBOX_DB",
    default=None,
    help="SQLite file of the embedded sandbox (default .reconciler/sandbox.sqlite3).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
account_option = click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help=(
        "Only this account, as named under providers: (repeatable); the others are not read. "
        "Default: every account."
    ),
)


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


output_options = _stack(
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "markdown"]),
        default="text",
        show_default=True,
        help="Output form (markdown: a pull-request comment).",
    ),
    click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
    click.option("--full", is_flag=True, help="Every number in detail, no '… and N more'."),
    click.option(
        "--split-dir",
        type=click.Path(path_type=Path),
        metavar="DIR",
        help=(
            "Markdown in parts that each fit a GitHub comment: DIR/plan-1.md, ... "
            "(paths on stdout)."
        ),
    ),
    click.option("--marker", metavar="TEXT", help="Hidden marker line of the Markdown parts."),
)
target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="SELECTOR",
    help=(
        "Only these numbers: +13135550100 or a prefix +1313555* (repeatable); "
        "the rest is not checked."
    ),
)
rail_options = _stack(
    click.option(
        "--max-change-share",
        type=click.FloatRange(0, 1),
        help="Rail for this run: most of the managed numbers that may change (0-1).",
    ),
    click.option(
        "--max-changes",
        type=click.IntRange(0),
        help="Rail for this run: most numbers that may change.",
    ),
    click.option(
        "--max-routing-changes",
        type=click.IntRange(0),
        help="Rail for this run: most numbers whose routing may change.",
    ),
    click.option("--force", is_flag=True, help="Apply even when a safety rail trips."),
)


def _overrides(limits: dict[str, Any]) -> rails.Overrides:
    return rails.Overrides(
        max_change_share=limits.get("max_change_share"),
        max_changes=limits.get("max_changes"),
        max_routing_changes=limits.get("max_routing_changes"),
        force=bool(limits.get("force")),
    )


class _Group(click.Group):
    """Usage errors exit 1, not click's 2: 2 means "changes" or "drift" to scripts."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # click reads it per instance
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # click reads it per instance
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Phone numbers as code: declare per-number carrier settings in YAML, plan, apply, drift.

    RECONCILER_LOG=debug|info|warning|error sets the log level on stderr (-v/-vv win)."""
    level, warning = _log_level(verbose, os.environ.get(LOG_ENV))
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if warning:
        click.echo(warning, err=True)
    if level > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)


@main.command()
@path_argument
@handle_errors
def validate(path: Path) -> None:
    """Check the YAML offline (no API call): keys, types, numbers, references."""
    _not_a_plan_file(path)
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


def _not_a_plan_file(path: Path) -> None:
    """``plan``/``validate``/``drift`` given a saved plan: one clear message, not the loader's
    "unknown key" for each of its keys."""
    if planfile.looks_like_plan_file(path):
        raise PlanError(
            f"{path} is a saved plan: use 'reconciler show {path}' or 'reconciler apply {path}'"
        )


def _emit(
    plan: Plan,
    *,
    fmt: str,
    full: bool = False,
    split_dir: Path | None = None,
    marker: str | None = None,
    drift: bool = False,
    verbose: bool = False,
) -> None:
    """Write a plan or drift report to stdout, or Markdown parts into ``split_dir``."""
    out = sys.stdout
    if split_dir is not None:
        split_dir.mkdir(parents=True, exist_ok=True)
        default = render.DRIFT_MARKER if drift else render.MARKER
        parts = render.markdown_parts(
            plan, drift=drift, full=full or verbose, marker=marker or default
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
            verbose=verbose,
            color=render.use_color(out),
            marker=marker or render.DRIFT_MARKER,
        )
    else:
        render.write_plan(plan, out, fmt=fmt, full=full, color=render.use_color(out))
    out.flush()  # before any message on stderr: a piped stdout is block-buffered


def _fmt(fmt: str, as_json: bool, split_dir: Path | None) -> str:
    if as_json:
        return "json"
    return "markdown" if split_dir is not None else fmt


def _wiring(sandbox_db: Path | None) -> runner.Wiring:
    """The sandbox file, and the progress display on stderr around the reads."""
    return runner.Wiring(
        sandbox_path=sandbox_db, progress=lambda ps: render.progress(_console(err=True), ps)
    )


@main.command()
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
    **limits: Any,
) -> None:
    """Read the live accounts and show what apply would change, in the fewest bulk calls.

    Rails the plan trips are shown as warnings: apply will refuse them without --force.
    --account limits the run (and a saved plan) to those accounts; the others are not read."""
    _not_a_plan_file(path)

    async def go() -> Plan:
        async with runner.planned(
            path,
            targets=targets,
            accounts=accounts,
            overrides=_overrides(limits),
            wiring=_wiring(sandbox_db),
        ) as run:
            if out is not None:
                planfile.write(
                    planfile.build(run.plan, run.state, run.observed, config_path=path), out
                )
            return run.plan

    result = _run(go())
    _emit(result, fmt=_fmt(fmt, as_json, split_dir), full=full, split_dir=split_dir, marker=marker)
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; apply exactly it with: reconciler apply {out}", err=True
        )
    if detailed_exitcode and result.has_changes:
        sys.exit(EXIT_CHANGES)


@main.command()
@click.argument("plan_file", type=click.Path(path_type=Path), metavar="PLAN_FILE")
@output_options
@handle_errors
def show(
    plan_file: Path, fmt: str, as_json: bool, full: bool, split_dir: Path | None, marker: str | None
) -> None:
    """Render a saved plan (from 'plan -o') without calling any API."""
    saved = planfile.read(plan_file)
    fmt = _fmt(fmt, as_json, split_dir)
    if fmt == "text" and split_dir is None:
        fleet = runner.Selection.of(saved.plan)
        click.echo(
            f"Saved plan {plan_file}: made {saved.created_at or '?'} by reconciler "
            f"{saved.tool_version or '?'} from {saved.config_path} ({saved.config_files} file(s))"
            + (f"; accounts: {fleet.describe()}." if fleet is not None else ".")
        )
    _emit(saved.plan, fmt=fmt, full=full, split_dir=split_dir, marker=marker)


@main.command()
@path_argument
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (config PATH).")
@click.option(
    "--skip-stale",
    is_flag=True,
    help="Plan file: leave out the numbers that changed since the plan and apply the rest.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Plan file: the config it was made from, when not at the recorded path.",
)
@click.option("--full", is_flag=True, help="Print every number of the plan and of the report.")
@click.option(  # H2b: the apply report's form
    "--format",
    "fmt",
    type=click.Choice(render.FORMATS),
    default="text",
    show_default=True,
    help="Report form; json/markdown: only the report on stdout (the plan goes to stderr).",
)
@target_option
@account_option
@rail_options
@sandbox_db_option
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    envvar=journal.STATE_DIR_ENV,
    default=None,
    help="Directory of the apply journal and lock (default .reconciler; docs/reliability.md).",
)
@handle_errors
def apply(
    path: Path,
    auto_approve: bool,
    skip_stale: bool,
    config: Path | None,
    full: bool,
    fmt: str,
    targets: tuple[str, ...],
    accounts: tuple[str, ...],
    sandbox_db: Path | None,
    state_dir: Path | None,
    **limits: Any,
) -> None:
    """Apply a saved plan file exactly, or plan a config, confirm and apply; then verify.

    PATH is a plan file from 'plan -o' (applied as reviewed: refused, exit 3, if a planned
    number changed since; no prompt) or a config (planned now; asks for 'yes').
    --account applies only those accounts (of the plan file: the rest of it is left untouched).
    SIGTERM is taken like Ctrl-C (exit 143 instead of 130)."""
    overrides = _overrides(limits)
    saved = planfile.looks_like_plan_file(path)
    if saved and targets:
        raise click.UsageError("--target applies when planning: make the plan file with it")
    # One apply of a config at a time from this machine (keyed by the config's resolved path).
    read = planfile.read(path) if saved else None
    key = config or (Path(read.config_path) if read is not None else path)
    again = " ".join(["reconciler apply", str(path), *(f"--account {a}" for a in accounts)])
    terminate = _Terminate()
    out = _ApplyOut(fmt, full)
    try:
        with terminate, out.stdout_aside(), journal.apply_lock(str(key.resolve()), state_dir):
            log = journal.Journal.open(state_dir)
            try:
                if saved:
                    work = _apply_saved(
                        read, path, config, skip_stale, overrides, out, sandbox_db, log, accounts
                    )
                else:
                    work = _apply_config(
                        path, auto_approve, targets, overrides, out, sandbox_db, log, accounts
                    )
                code = _run(work, terminate)
            finally:
                log.close()
    except ApplyInterrupted as exc:
        out.interrupted(exc, EXIT_TERMINATED if terminate.hit else EXIT_INTERRUPTED)
        sys.stdout.flush()
        err = _console(err=True)
        for line in exc.lines():
            err.print(line, markup=False)
        err.print(
            f"Next: run '{again}' again. It first settles the calls that were in "
            f"flight (journal {journal.state_dir(state_dir) / journal.JOURNAL_FILE}): their jobs "
            "are looked up and waited for, never sent twice; then it plans what is left.",
            markup=False,
        )
        sys.exit(EXIT_TERMINATED if terminate.hit else EXIT_INTERRUPTED)
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        if not terminate.hit:
            raise  # Ctrl-C outside the calls: handle_errors says "Interrupted.", exit 130
        sys.stdout.flush()
        when = " before any call was sent" if isinstance(exc, asyncio.CancelledError) else ""
        _console(err=True).print(f"Terminated (SIGTERM){when}.")
        sys.exit(EXIT_TERMINATED)
    sys.exit(code)


def _settled(run: Any) -> None:
    if run.settled:
        click.echo(f"Settled {len(run.settled)} call(s) an earlier apply left open:")
        for item in run.settled:
            click.echo(f"  - {item}")
        click.echo()


async def _apply_config(
    path: Path,
    auto_approve: bool,
    targets: tuple[str, ...],
    overrides: rails.Overrides,
    out: _ApplyOut,
    sandbox_db: Path | None,
    log: journal.Journal,
    accounts: tuple[str, ...] = (),
) -> int:
    async with runner.planned(
        path,
        targets=targets,
        accounts=accounts,
        overrides=overrides,
        wiring=_wiring(sandbox_db),
        journal=log,
    ) as run:
        _settled(run)
        _emit(run.plan, fmt="text", full=out.full)
        out.enforce(run.plan, force=overrides.force)
        if not run.plan.has_changes and not run.held.waits:
            return out.nothing(run.plan)
        if not auto_approve:
            _confirm()
        return await _send(
            run.plan, run.providers, run.held, log.recorder(run.plan, str(path)), out
        )


async def _apply_saved(
    saved: Any,
    path: Path,
    config: Path | None,
    skip_stale: bool,
    overrides: rails.Overrides,
    out: _ApplyOut,
    sandbox_db: Path | None,
    log: journal.Journal,
    accounts: tuple[str, ...] = (),
) -> int:
    async with runner.saved_plan(
        saved,
        config=config,
        accounts=accounts,
        overrides=overrides,
        wiring=_wiring(sandbox_db),
        journal=log,
    ) as run:
        _settled(run)
        _emit(run.plan, fmt="text", full=out.full)
        _left_out(run.left_out, path)
        the_plan = run.plan
        if run.moved:
            if not skip_stale:
                raise out.refused(the_plan, StalePlan(planfile.stale_message(run.moved), run.moved))
            click.echo()
            click.echo(
                f"Skipping {len(run.moved)} number(s) that changed since the plan was made "
                "(--skip-stale):"
            )
            for moved in run.moved:
                click.echo(f"  - {moved.describe()}")
            the_plan = run.without_moved()
        out.enforce(the_plan, force=overrides.force)
        if not the_plan.has_changes and not run.held.waits:
            click.echo("Nothing to apply.")
            return out.nothing(the_plan)
        return await _send(
            the_plan, run.providers, run.held, log.recorder(the_plan, str(path)), out
        )


def _left_out(left_out: Any, path: Path) -> None:
    """The accounts of a plan file that --account left out: untouched, and how to apply them."""
    if not left_out:
        return
    click.echo()
    click.echo("Left out by --account (not read, nothing sent; the plan file keeps them):")
    for a in left_out:
        click.echo(
            f"  - {a.account}: {a.changed} number(s) in {a.calls} call(s); apply with "
            f"'reconciler apply {path} --account {a.account}'"
        )


def _confirm() -> None:
    click.echo()
    try:
        answer = click.prompt(
            "Do you want to perform these actions? Only 'yes' will be accepted",
            default="",
            show_default=False,
        )
    except click.exceptions.Abort:
        raise Aborted("no answer; nothing was changed (use --auto-approve in scripts)") from None
    if answer.strip() != "yes":
        raise Aborted("nothing was changed")


async def _send(
    the_plan: Plan, providers: Any, held: Any = None, record: Any = None, out: Any = None
) -> int:
    out = out or _ApplyOut("text", False)
    out.sent = the_plan
    click.echo()
    click.echo(f"Applying {len(the_plan.calls)} bulk call(s)...")
    waits = len(held.waits) if held else 0
    if waits:
        click.echo(f"Waiting for {waits} job(s) already pending at the carrier...")
    with render.progress(_console(err=True), providers, len(the_plan.calls) + waits) as done:
        report = await runner.apply(
            the_plan, providers, on_call_done=done, held=held, record=record
        )
    out.report(report, the_plan)
    return report.exit_code


# ---- H2b: where apply writes (--format) ----------------------------------------------------


class _ApplyOut:
    """Where ``apply`` writes. Text: everything on stdout, as before. JSON and Markdown: one
    document on stdout (the report, or why nothing was sent: refused, interrupted, nothing to
    do) and every other line (the plan, progress, the prompt) on stderr, so stdout can go to a
    file or a pull-request comment as it is."""

    def __init__(self, fmt: str, full: bool) -> None:
        self.fmt, self.full = fmt, full
        self.stdout: TextIO = sys.stdout
        self.sent: Plan | None = None

    @contextlib.contextmanager
    def stdout_aside(self) -> Iterator[None]:
        """JSON/Markdown: the run's other lines go to stderr; the document to the real stdout."""
        self.stdout = sys.stdout
        if self.fmt == "text":
            yield
            return
        with contextlib.redirect_stdout(sys.stderr):
            yield

    def enforce(self, plan: Plan, *, force: bool) -> None:
        try:
            rails.enforce(plan, force=force)
        except Refused as exc:
            raise self.refused(plan, exc) from None

    def refused(self, plan: Plan, exc: Refused) -> Refused:
        """Write the refusal as the report (json/markdown); the error handler says why."""
        if self.fmt != "text":
            self._write(render.apply_outcome.refused(plan, str(exc), exc.exit_code))
        return exc

    def nothing(self, plan: Plan) -> int:
        if self.fmt != "text":
            self._write(render.apply_outcome.nothing_to_do(plan))
        return 0

    def report(self, report: Any, plan: Plan) -> None:
        self._write(report, plan)

    def interrupted(self, exc: ApplyInterrupted, code: int) -> None:
        if self.fmt != "text" and self.sent is not None:
            self._write(render.apply_outcome.interrupted(exc, self.sent, code))

    def _write(self, report: Any, plan: Plan | None = None) -> None:
        sys.stdout.flush()
        color = render.use_color(self.stdout)
        the_plan = plan if plan is not None else report.plan
        render.write_apply(report, the_plan, self.stdout, fmt=self.fmt, full=self.full, color=color)
        self.stdout.flush()


# ---- end H2b


@main.command()
@path_argument
@output_options
@click.option(
    "-v",
    "--verbose",
    "verbose",
    is_flag=True,
    help="List unmanaged numbers and every drifted number.",
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
    verbose: bool,
    allow_empty: bool,
    targets: tuple[str, ...],
    accounts: tuple[str, ...],
    sandbox_db: Path | None,
) -> None:
    """For cron: exit 0 when the accounts match the YAML, 2 when something moved, 1 on error.

    Findings are grouped by cause (account, field, desired, actual). An empty or truncated
    config is refused (exit 3) unless --allow-empty. --account checks only those accounts."""
    _not_a_plan_file(path)

    async def go() -> Plan:
        async with runner.planned(
            path,
            targets=targets,
            accounts=accounts,
            wiring=_wiring(sandbox_db),
            list_unmanaged=verbose,
        ) as run:
            return run.plan

    result = _run(go())
    if not allow_empty:
        rails.refuse_empty(result.warnings)
    _emit(
        result,
        fmt=_fmt(fmt, as_json, split_dir),
        full=full,
        split_dir=split_dir,
        marker=marker,
        drift=True,
        verbose=verbose,
    )
    if result.has_changes:
        sys.exit(EXIT_CHANGES)


@main.command("export")
@click.argument("path", required=False, type=click.Path(path_type=Path), metavar="[PATH]")
@account_option
@click.option("--provider", "old_accounts", multiple=True, hidden=True)  # deprecated: --account
@click.option(
    "--type", "carrier", metavar="CARRIER", help="Quick start without PATH: wavix|telnyx."
)
@click.option("--base-url", help="Quick start: the carrier's API base URL.")
@click.option("--sandbox", "use_sandbox", is_flag=True, help="Quick start: the embedded sandbox.")
@click.option(
    "--fields",
    metavar="F,...",
    help="Fields to manage (default: all); a group such as voice.call_forwarding means its fields.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Write DIR/ACCOUNT.yaml (default: print the YAML on stdout).",
)
@sandbox_db_option
@handle_errors
def export_cmd(
    path: Path | None,
    accounts: tuple[str, ...],
    old_accounts: tuple[str, ...],
    carrier: str | None,
    base_url: str | None,
    use_sandbox: bool,
    fields: str | None,
    output: Path | None,
    sandbox_db: Path | None,
) -> None:
    """Write YAML describing live accounts (profiles, prefixes), which plan reads back unchanged.

    --account NAME: the account to export (repeatable; default: every account in PATH; without
    PATH, the name of the quick-start account)."""
    from .export import run_export, summary

    if old_accounts:  # the one spelling is --account; --provider keeps working for a while
        click.echo("Warning: --provider is deprecated; use --account (same meaning).", err=True)
        accounts = tuple(dict.fromkeys((*accounts, *old_accounts)))

    results = _run(
        run_export(
            path,
            accounts,
            carrier=carrier,
            base_url=base_url,
            sandbox=use_sandbox,
            fields=fields,
            output=output,
            sandbox_db=sandbox_db,
        )
    )
    if output is None:
        click.echo(results[0].text, nl=False)
    for result in results:
        for line in summary(result):
            click.echo(line, err=output is None)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the config files (for editors: yaml-language-server)."""
    from .schema import config_schema

    click.echo(json.dumps(config_schema(), indent=2))


@main.group()
def sandbox() -> None:
    """The embedded carrier simulators (Wavix under /wavix, Telnyx under /telnyx/v2)."""


@sandbox.command("serve")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only.")
@sandbox_db_option
@handle_errors
def sandbox_serve(port: int, host: str, sandbox_db: Path | None) -> None:
    """Serve the sandbox on loopback for any HTTP client or official SDK."""
    from .sandbox import SIMULATORS, Sandbox
    from .sandbox.serve import serve

    if not host.startswith("127.") and host not in ("localhost", "::1"):
        raise ConfigError(f"--host {host}: the sandbox serves on loopback only")
    sb = Sandbox.open(sandbox_db)
    base = f"http://{host}:{port}"
    click.echo(f"Sandbox state: {sb.store.path}")
    for name, sim in SIMULATORS.items():
        click.echo(f"  {name:<7} base_url {base}{sim.MOUNT}   key {sim.DEFAULT_KEY}")
    click.echo("Ctrl-C to stop.")
    serve(sb, port=port, host=host)


@sandbox.command("reset")
@sandbox_db_option
@handle_errors
def sandbox_reset(sandbox_db: Path | None) -> None:
    """Re-seed the sandbox with its documented deterministic state."""
    from .sandbox import Sandbox

    sb = Sandbox.open(sandbox_db)
    sb.reset()
    click.echo(f"Sandbox re-seeded: {sb.store.path}")
    sb.close()


@sandbox.command("seed")
@click.option("--numbers", type=int, required=True, help="How many numbers (1M is fine).")
@click.option(
    "--carrier", type=click.Choice(["wavix", "telnyx"]), default="wavix", show_default=True
)
@click.option("--profiles", type=int, default=5, show_default=True, help="Prefix profiles.")
@click.option(
    "--overrides",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of numbers with an exact entry overriding one field.",
)
@click.option(
    "--drift",
    type=float,
    default=0.3,
    show_default=True,
    help="Share of numbers whose live state differs from the YAML.",
)
@click.option("--seed", "seed_", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--config-out",
    type=click.Path(path_type=Path),
    required=True,
    metavar="DIR",
    help="Where to write the matching YAML (providers, profiles, numbers).",
)
@sandbox_db_option
@handle_errors
def sandbox_seed(
    numbers: int,
    carrier: str,
    profiles: int,
    overrides: float,
    drift: float,
    seed_: int,
    config_out: Path,
    sandbox_db: Path | None,
) -> None:
    """Replace a carrier's sandbox account with N synthetic numbers; write the YAML for it."""
    from .sandbox import Sandbox
    from .sandbox.synthetic import SyntheticAccount, seed

    account = SyntheticAccount(carrier, numbers, profiles, overrides, drift, seed_)
    sb = Sandbox.open(sandbox_db)
    try:
        db_option = f" --sandbox-db {sandbox_db}" if sandbox_db is not None else ""
        for line in seed(sb.store, account, config_out, db_option=db_option):
            click.echo(line)
    finally:
        sb.close()


@sandbox.command("knob")
@click.argument("name", required=False)
@click.argument("value", required=False)
@sandbox_db_option
@handle_errors
def sandbox_knob(name: str | None, value: str | None, sandbox_db: Path | None) -> None:
    """List the knobs, show one, or set one (VALUE is JSON; 'null' removes it), e.g. latency_ms 100.

    A served sandbox sees the change at its next request."""
    from .sandbox import Sandbox, knobs

    known = knobs.registry()
    if name is not None:
        knobs.lookup(name, known)  # unknown name: refused before anything is opened
        checked = knobs.check(name, knobs.parse(value)) if value is not None else None
    sb = Sandbox.open(sandbox_db)
    try:
        if name is None:
            click.echo("\n".join(knobs.describe(known.values(), sb.store.knobs())))
            return
        if value is not None:
            sb.store.set_knob(name, checked)
        current = sb.store.knob(name, known[name].default)
        shown = "(set; not shown)" if known[name].secret and current else json.dumps(current)
        click.echo(f"{name} = {shown}")
    finally:
        sb.close()


@sandbox.command("drift")
@click.option("--numbers", type=click.IntRange(1), required=True, help="How many numbers to edit.")
@click.option("--seed", "seed_", type=int, help="Random seed (default: a new one, printed).")
@click.option(
    "--carrier",
    "carrier",
    type=click.Choice(["wavix", "telnyx", "all"]),
    default="all",
    show_default=True,
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Edit only numbers and fields this config manages (so drift sees every edit).",
)
@sandbox_db_option
@handle_errors
def sandbox_drift(
    numbers: int, seed_: int | None, carrier: str, config: Path | None, sandbox_db: Path | None
) -> None:
    """Change N numbers behind the tool's back (like an edit in the carrier's portal)."""
    from .sandbox import Sandbox
    from .sandbox.drift import candidates, choose, make_drift, managed_by

    names = ("wavix", "telnyx") if carrier == "all" else (carrier,)
    managed = managed_by(load(config)) if config is not None else None
    sb = Sandbox.open(sandbox_db)
    try:
        seed_ = seed_ if seed_ is not None else random.SystemRandom().randrange(1_000_000)
        rng = random.Random(seed_)
        chosen = choose(candidates(sb, names, managed), numbers, rng)
        edits = _run(make_drift(sb, chosen, rng))
    finally:
        sb.close()
    for e in edits:
        click.echo(
            f"  {e.carrier:<7} {e.e164}  {e.field}: {json.dumps(e.old)} → {json.dumps(e.new)}"
        )
    click.echo(
        f"Changed {len(edits)} number(s) out of band (--seed {seed_} repeats this choice). "
        "Next: reconciler drift PATH"
    )


# --- reconciler github (owned by reconciler/ci; registration only) ---------------------------
from .ci.command import github as _github  # noqa: E402  (after main: ci imports nothing of cli)

main.add_command(_github, "github")
# --- end reconciler github ------------------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
