"""``reconciler apply``: a saved plan file exactly, or a config planned now, confirmed, applied.

The mode is decided once, from PATH, into an ``ApplyRequest``; a flag that means something in
one mode only is refused in the other (``--target`` with a plan file; ``--skip-stale`` and
``--config`` with a config). ``ApplyOut`` is where apply writes (``--format``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from ..errors import Aborted, Refused, StalePlan
from .commands import emit, wiring
from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED, console, handle_errors
from .options import (
    FORMATS,
    STATE_DIR_ENV,
    account_option,
    path_argument,
    rail_options,
    sandbox_db_option,
    target_option,
)
from .running import Terminate, run

if TYPE_CHECKING:
    from .. import journal, planfile, rails
    from ..applier import ApplyInterrupted, ApplyReport
    from ..journal import RunJournal
    from ..pending import Holds
    from ..plan import AccountSummary, Plan
    from ..render.apply import ApplyOutcome
    from ..runner import Provider, Run, SavedRun


def _rails() -> Any:
    """``reconciler.rails``, imported when an apply is built, not with the CLI (issue 18)."""
    from .. import rails

    return rails


def _outcome() -> Any:
    """``reconciler.render.apply``: the reports apply writes without an ``ApplyReport``."""
    from ..render import apply as outcome

    return outcome


@dataclass(frozen=True)
class ApplyRequest:
    """One ``apply`` as asked on the command line, its mode decided once: ``saved`` is the plan
    file read from PATH, or None when PATH is a config (planned now, confirmed with 'yes')."""

    path: Path
    saved: planfile.SavedPlan | None
    accounts: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    overrides: rails.Overrides = field(default_factory=lambda: _rails().Overrides())
    auto_approve: bool = False
    skip_stale: bool = False
    config: Path | None = None
    sandbox_db: Path | None = None
    state_dir: Path | None = None

    @classmethod
    def of(
        cls,
        path: Path,
        *,
        accounts: Sequence[str] = (),
        targets: Sequence[str] = (),
        overrides: rails.Overrides | None = None,
        auto_approve: bool = False,
        skip_stale: bool = False,
        config: Path | None = None,
        sandbox_db: Path | None = None,
        state_dir: Path | None = None,
    ) -> ApplyRequest:
        """Read PATH as a plan file when it is one; refuse the flags of the other mode."""
        from .. import planfile

        saved = planfile.looks_like_plan_file(path)
        if saved and targets:
            raise click.UsageError("--target applies when planning: make the plan file with it")
        if not saved:
            flags = (("--skip-stale", skip_stale), ("--config", config))
            given = [flag for flag, on in flags if on]
            if given:
                raise click.UsageError(
                    f"{' and '.join(given)} apply to a plan file (from 'reconciler plan -o "
                    f"FILE'); {path} is a config, which apply plans now"
                )
        return cls(
            path,
            planfile.read(path) if saved else None,
            tuple(accounts),
            tuple(targets),
            overrides or _rails().Overrides(),
            auto_approve,
            skip_stale,
            config,
            sandbox_db,
            state_dir,
        )

    @property
    def lock_key(self) -> str:
        """One apply of a config at a time from this machine (keyed by the config's path)."""
        if self.config is not None:
            key = self.config
        elif self.saved is not None:
            key = Path(self.saved.config_path)
        else:
            key = self.path
        return str(key.resolve())

    @property
    def again(self) -> str:
        """The command that runs this apply again."""
        return " ".join(
            ["reconciler apply", str(self.path), *(f"--account {a}" for a in self.accounts)]
        )


@click.command()
@path_argument
@click.option(
    "--auto-approve",
    is_flag=True,
    help="Do not ask for confirmation (config PATH; a plan file never asks).",
)
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
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
    envvar=STATE_DIR_ENV,
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
    overrides: rails.Overrides,
) -> None:
    """Apply a saved plan file exactly, or plan a config, confirm and apply; then verify.

    PATH is a plan file from 'plan -o' (applied as reviewed: refused, exit 3, if a planned
    number changed since; no prompt) or a config (planned now; asks for 'yes').
    --account applies only those accounts (of the plan file: the rest of it is left untouched).
    SIGTERM is taken like Ctrl-C (exit 143 instead of 130)."""
    import asyncio

    from .. import journal
    from ..applier import ApplyInterrupted

    request = ApplyRequest.of(
        path,
        accounts=accounts,
        targets=targets,
        overrides=overrides,
        auto_approve=auto_approve,
        skip_stale=skip_stale,
        config=config,
        sandbox_db=sandbox_db,
        state_dir=state_dir,
    )
    terminate = Terminate()
    out = ApplyOut(fmt, full)
    try:
        with terminate, out.stdout_aside(), journal.apply_lock(request.lock_key, state_dir):
            log = journal.Journal.open(state_dir)
            try:
                work = (
                    apply_saved(request, out, log)
                    if request.saved
                    else apply_config(request, out, log)
                )
                code = run(work, terminate)
            finally:
                log.close()
    except ApplyInterrupted as exc:
        out.interrupted(exc, EXIT_TERMINATED if terminate.hit else EXIT_INTERRUPTED)
        sys.stdout.flush()
        err = console(err=True)
        for line in exc.lines():
            err.print(line, markup=False)
        err.print(
            f"Next: run '{request.again}' again. It first settles the calls that were in "
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
        console(err=True).print(f"Terminated (SIGTERM){when}.")
        sys.exit(EXIT_TERMINATED)
    sys.exit(code)


def _settled(made: Run | SavedRun) -> None:
    if made.settled:
        click.echo(f"Settled {len(made.settled)} call(s) an earlier apply left open:")
        for item in made.settled:
            click.echo(f"  - {item}")
        click.echo()


async def apply_config(request: ApplyRequest, out: ApplyOut, log: journal.Journal) -> int:
    """Plan the config now, show the plan, ask for 'yes' (unless ``auto_approve``), send."""
    from .. import runner

    async with runner.planned(
        request.path,
        targets=request.targets,
        accounts=request.accounts,
        overrides=request.overrides,
        wiring=wiring(request.sandbox_db),
        journal=log,
    ) as made:
        _settled(made)
        emit(made.plan, fmt="text", full=out.full)
        out.enforce(made.plan, force=request.overrides.force)
        if not made.plan.has_changes and not made.held.waits:
            return out.nothing(made.plan)
        if not request.auto_approve:
            _confirm()
        return await _send(
            made.plan, made.providers, made.held, log.recorder(made.plan, str(request.path)), out
        )


async def apply_saved(request: ApplyRequest, out: ApplyOut, log: journal.Journal) -> int:
    """Check the plan file against its config and the live numbers; send it as reviewed."""
    from .. import planfile, runner

    assert request.saved is not None  # the mode ApplyRequest decided
    async with runner.saved_plan(
        request.saved,
        config=request.config,
        accounts=request.accounts,
        overrides=request.overrides,
        wiring=wiring(request.sandbox_db),
        journal=log,
    ) as made:
        _settled(made)
        emit(made.plan, fmt="text", full=out.full)
        _left_out(made.left_out, request.path)
        the_plan = made.plan
        if made.moved:
            if not request.skip_stale:
                raise out.refused(
                    the_plan, StalePlan(planfile.stale_message(made.moved), made.moved)
                )
            click.echo()
            click.echo(
                f"Skipping {len(made.moved)} number(s) that changed since the plan was made "
                "(--skip-stale):"
            )
            for moved in made.moved:
                click.echo(f"  - {moved.describe()}")
            the_plan = made.without_moved()
        out.enforce(the_plan, force=request.overrides.force)
        if not the_plan.has_changes and not made.held.waits:
            click.echo("Nothing to apply.")
            return out.nothing(the_plan)
        return await _send(
            the_plan, made.providers, made.held, log.recorder(the_plan, str(request.path)), out
        )


def _left_out(left_out: Sequence[AccountSummary], path: Path) -> None:
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
    the_plan: Plan,
    providers: Mapping[str, Provider],
    held: Holds,
    record: RunJournal,
    out: ApplyOut,
) -> int:
    from .. import render, runner

    out.sent = the_plan
    click.echo()
    click.echo(f"Applying {len(the_plan.calls)} bulk call(s)...")
    waits = len(held.waits)
    if waits:
        click.echo(f"Waiting for {waits} job(s) already pending at the carrier...")
    with render.progress(console(err=True), providers, len(the_plan.calls) + waits) as done:
        report = await runner.apply(
            the_plan, providers, on_call_done=done, held=held, record=record
        )
    out.report(report, the_plan)
    return report.exit_code


class ApplyOut:
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
            _rails().enforce(plan, force=force)
        except Refused as exc:
            raise self.refused(plan, exc) from None

    def refused(self, plan: Plan, exc: Refused) -> Refused:
        """Write the refusal as the report (json/markdown); the error handler says why."""
        if self.fmt != "text":
            self._write(_outcome().refused(plan, str(exc), exc.exit_code), plan)
        return exc

    def nothing(self, plan: Plan) -> int:
        if self.fmt != "text":
            self._write(_outcome().nothing_to_do(plan), plan)
        return 0

    def report(self, report: ApplyReport, plan: Plan) -> None:
        self._write(report, plan)

    def interrupted(self, exc: ApplyInterrupted, code: int) -> None:
        if self.fmt != "text" and self.sent is not None:
            self._write(_outcome().interrupted(exc, self.sent, code), self.sent)

    def _write(self, report: ApplyReport | ApplyOutcome, plan: Plan) -> None:
        from .. import render

        sys.stdout.flush()
        color = render.use_color(self.stdout)
        render.write_apply(report, plan, self.stdout, fmt=self.fmt, full=self.full, color=color)
        self.stdout.flush()
