"""``reconciler explain PATH NUMBER``: where one number's settings come from, and what apply
would do to them. Wiring only: ``reconciler.explain`` reads and explains, ``render.explain``
prints."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .commands import not_a_plan_file, wiring
from .errors import handle_errors
from .options import account_option, path_argument, sandbox_db_option
from .running import run


@click.command()
@path_argument
@click.argument("number", metavar="NUMBER")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output form (json: one versioned document, docs/explain-output.schema.json).",
)
@account_option
@sandbox_db_option
@handle_errors
def explain(
    path: Path, number: str, fmt: str, accounts: tuple[str, ...], sandbox_db: Path | None
) -> None:
    """Explain one live NUMBER (+E.164): each field's desired value and the entry that set it
    (file:line, selector, profile), what it overrode, the live value, and the call that would
    change it. Exit 0 when shown (in sync or not), 1 on error."""
    from .. import explain as explain_
    from .. import render
    from ..render.explain import explain_json, explain_text

    not_a_plan_file(path)
    found = run(explain_.read(path, number, accounts=accounts, wiring=wiring(sandbox_db)))
    out = sys.stdout
    if fmt == "json":
        out.write(explain_json(found))
    else:
        out.write(explain_text(found, color=render.use_color(out)))
    out.flush()


__all__ = ["explain"]
