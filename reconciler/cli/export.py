"""``reconciler export``: YAML describing live accounts, which ``plan`` reads back unchanged."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import handle_errors
from .options import account_option, sandbox_db_option
from .running import run


@click.command("export")
@click.argument("path", required=False, type=click.Path(path_type=Path), metavar="[PATH]")
@account_option
@click.option("--provider", "old_accounts", multiple=True, hidden=True)  # deprecated: --account
@click.option(
    "--type",
    "carrier",
    metavar="CARRIER",
    help="Quick start without PATH: the carrier (a providers: type; see 'reconciler schema').",
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
    from ..export import run_export, summary

    if old_accounts:  # the one spelling is --account; --provider keeps working for a while
        click.echo("Warning: --provider is deprecated; use --account (same meaning).", err=True)
        accounts = tuple(dict.fromkeys((*accounts, *old_accounts)))

    results = run(
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
