"""The command line: click wiring only. Loader → providers → planner/applier → render → exit code.

Exit codes (also in the README):
  validate  0 valid / 1 invalid
  plan      0 success; with --detailed-exitcode 0 no changes / 2 changes; 1 error
  apply     0 applied and verified / 4 partial (some numbers failed) / 1 error that stopped it
  drift     0 in sync / 2 drift / 1 error
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from . import __version__, render
from .errors import Aborted, ConfigError, ReconcilerError
from .loader import load
from .runner import apply as run_apply
from .runner import open_accounts, plan_accounts

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CHANGES = 2


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
            err.print(f"[bold red]Error:[/] the configuration has {n} problem{'s' if n != 1 else ''}:")
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
            sys.exit(130)

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Phone numbers as code: declare per-number carrier settings in YAML, plan, apply, drift."""
    level = logging.WARNING if not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        logging.getLogger("httpx").setLevel(logging.WARNING)


@main.command()
@path_argument
@handle_errors
def validate(path: Path) -> None:
    """Check the YAML offline (no API call): keys, types, numbers, references."""
    state = load(path)
    rules = sum(len(r) for r in state.rules.values())
    click.echo(
        f"Configuration is valid: {len(state.files)} file(s), {len(state.accounts)} account(s), "
        f"{rules} number selector(s)."
    )


async def _plan(path: Path, sandbox_db: Path | None) -> Any:
    state = load(path)
    async with open_accounts(state, sandbox_path=sandbox_db) as providers:
        with render.progress(_console(err=True), providers):
            return await plan_accounts(state, providers, meta={"config": str(path)})


@main.command()
@path_argument
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when no changes, 2 when changes.")
@json_option
@sandbox_db_option
@handle_errors
def plan(path: Path, detailed_exitcode: bool, as_json: bool, sandbox_db: Path | None) -> None:
    """Read the live accounts and show what apply would change, in the fewest bulk calls."""
    result = asyncio.run(_plan(path, sandbox_db))
    if as_json:
        click.echo(render.plan_json(result))
    else:
        render.render_plan(result, _console())
    _missing_check(result)
    if detailed_exitcode and result.has_changes:
        sys.exit(EXIT_CHANGES)


def _missing_check(result: Any) -> None:
    if result.missing:
        listed = ", ".join(f"{e} ({a})" for a, e in result.missing)
        raise ReconcilerError(
            f"declared numbers not in the account: {listed}. The tool never buys numbers: "
            "remove them from the YAML or order them first."
        )


@main.command()
@path_argument
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@sandbox_db_option
@handle_errors
def apply(path: Path, auto_approve: bool, sandbox_db: Path | None) -> None:
    """Plan, confirm, run the bulk calls, and verify by re-reading the carrier."""
    out = _console()

    async def go() -> int:
        state = load(path)
        async with open_accounts(state, sandbox_path=sandbox_db) as providers:
            with render.progress(_console(err=True), providers):
                the_plan = await plan_accounts(state, providers, meta={"config": str(path)})
            render.render_plan(the_plan, out)
            _missing_check(the_plan)
            if not the_plan.has_changes:
                return 0
            if not auto_approve:
                out.print()
                try:
                    answer = click.prompt(
                        "Do you want to perform these actions? Only 'yes' will be accepted",
                        default="",
                        show_default=False,
                    )
                except click.exceptions.Abort:
                    raise Aborted(
                        "no answer; nothing was changed (use --auto-approve in scripts)"
                    ) from None
                if answer.strip() != "yes":
                    raise Aborted("nothing was changed")
            out.print()
            out.print(f"Applying {len(the_plan.calls)} bulk call(s)...")
            with render.progress(_console(err=True), providers, len(the_plan.calls)) as done:
                report = await run_apply(the_plan, providers, on_call_done=done)
            render.render_apply(report, the_plan, out)
            return report.exit_code

    code = asyncio.run(go())
    sys.exit(code)


@main.command()
@path_argument
@json_option
@sandbox_db_option
@handle_errors
def drift(path: Path, as_json: bool, sandbox_db: Path | None) -> None:
    """For cron: exit 0 when the accounts match the YAML, 2 when something moved, 1 on error."""
    result = asyncio.run(_plan(path, sandbox_db))
    if as_json:
        click.echo(render.plan_json(result))
    elif result.has_changes:
        render.render_plan(result, _console(), drift=True)
    else:
        _console().print(
            f"No drift: {result.in_sync} managed numbers match the configuration "
            f"({result.unmanaged} unmanaged)."
        )
    _missing_check(result)
    if result.has_changes:
        sys.exit(EXIT_CHANGES)


@main.command("export")
@click.argument("path", required=False, type=click.Path(path_type=Path), metavar="[PATH]")
@click.option("--provider", "accounts", multiple=True, metavar="ACCOUNT", help="Account to export (repeatable; default: all in PATH).")
@click.option("--type", "carrier", metavar="CARRIER", help="Quick start without PATH: wavix or telnyx.")
@click.option("--base-url", help="Quick start: the carrier's API base URL.")
@click.option("--sandbox", "use_sandbox", is_flag=True, help="Quick start: the embedded sandbox.")
@click.option("--fields", metavar="F,...", help="Fields to manage (default: all but secrets); voice.call_forwarding means its fields.")
@click.option("-o", "--output", type=click.Path(path_type=Path), metavar="DIR", help="Write DIR/ACCOUNT.yaml (default: print the YAML).")
@sandbox_db_option
@handle_errors
def export_cmd(
    path: Path | None,
    accounts: tuple[str, ...],
    carrier: str | None,
    base_url: str | None,
    use_sandbox: bool,
    fields: str | None,
    output: Path | None,
    sandbox_db: Path | None,
) -> None:
    """Write YAML describing live accounts (profiles, prefixes), which plan reads back unchanged."""
    from .export import run_export, summary

    results = asyncio.run(
        run_export(path, accounts, carrier=carrier, base_url=base_url, sandbox=use_sandbox,
                   fields=fields, output=output, sandbox_db=sandbox_db)
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
@click.option("--carrier", type=click.Choice(["wavix", "telnyx"]), default="wavix", show_default=True)
@click.option("--profiles", type=int, default=5, show_default=True, help="Prefix profiles.")
@click.option("--overrides", type=float, default=0.0, show_default=True,
              help="Share of numbers with an exact entry overriding one field.")
@click.option("--drift", type=float, default=0.3, show_default=True,
              help="Share of numbers whose live state differs from the YAML.")
@click.option("--seed", "seed_", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--config-out", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Where to write the matching YAML (providers, profiles, numbers).")
@sandbox_db_option
@handle_errors
def sandbox_seed(numbers: int, carrier: str, profiles: int, overrides: float, drift: float,
                 seed_: int, config_out: Path, sandbox_db: Path | None) -> None:
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
        click.echo(f"{name} = {json.dumps(sb.store.knob(name, known[name].default))}")
    finally:
        sb.close()


if __name__ == "__main__":  # pragma: no cover
    main()
