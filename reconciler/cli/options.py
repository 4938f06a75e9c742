"""Options defined once, shared by the commands; and the typed values some of them build.

The rail options build one ``rails.Overrides`` through a click callback (each option sets its
field of ``ctx.params["overrides"]``), so a command receives ``overrides: rails.Overrides``,
never loose keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# carriers and rails are imported when an option is used, not with the CLI (issue 18): '--help'
# reads these constants instead (tests/test_startup.py checks they match their sources).
FORMATS = ("text", "json", "markdown")
"""``render.FORMATS``."""
STATE_DIR_ENV = "RECONCILER_STATE_DIR"
"""``journal.STATE_DIR_ENV``."""


def stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several options as one decorator, applied in the order listed (as if written above)."""

    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


path_argument = click.argument("path", type=click.Path(path_type=Path), metavar="PATH")
sandbox_db_option = click.option(
    "--sandbox-db",
    type=click.Path(path_type=Path),
    envvar="RECONCILER_SANDBOX_DB",
    default=None,
    help="SQLite file of the embedded sandbox (default .reconciler/sandbox.sqlite3).",
)
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
output_options = stack(
    click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
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


def output_format(fmt: str, as_json: bool, split_dir: Path | None) -> str:
    """The form ``output_options`` ask for: ``--json`` wins, ``--split-dir`` means Markdown."""
    if as_json:
        return "json"
    return "markdown" if split_dir is not None else fmt


def _rail(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Set this option's field of the run's ``rails.Overrides`` (``ctx.params["overrides"]``)."""
    from .. import rails

    overrides = ctx.params.get("overrides", rails.Overrides())
    if param.name is not None and value is not None:
        overrides = replace(overrides, **{param.name: value})
    ctx.params["overrides"] = overrides


rail_options = stack(
    click.option(
        "--max-change-share",
        type=click.FloatRange(0, 1),
        callback=_rail,
        expose_value=False,
        help="Rail for this run: most of the managed numbers that may change (0-1).",
    ),
    click.option(
        "--max-changes",
        type=click.IntRange(0),
        callback=_rail,
        expose_value=False,
        help="Rail for this run: most numbers that may change.",
    ),
    click.option(
        "--max-routing-changes",
        type=click.IntRange(0),
        callback=_rail,
        expose_value=False,
        help="Rail for this run: most numbers whose routing may change.",
    ),
    click.option(
        "--force",
        is_flag=True,
        callback=_rail,
        expose_value=False,
        help="Apply even when a safety rail trips.",
    ),
)


class CarrierChoice(click.Choice):  # type: ignore[type-arg]
    """The carriers of the registry (``carriers.names()``), read when first needed, not when
    the CLI is imported; ``simulated``: only carriers with a sandbox simulator; ``extra``:
    more choices (``all``)."""

    def __init__(self, *, simulated: bool = False, extra: Sequence[str] = ()) -> None:
        super().__init__([])
        self.simulated, self.extra = simulated, tuple(extra)

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        from .. import carriers

        registry = carriers.registry()
        names = [n for n in sorted(registry) if not self.simulated or registry[n].simulator]
        return (*names, *self.extra)

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:  # click.Choice.__init__ assigns it
        pass
