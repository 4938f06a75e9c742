"""The command line: click wiring only. Config → runner (plan, rails) → render → exit code.

* ``commands``: validate, plan, show, drift, schema; ``apply`` (``ApplyRequest``, ``ApplyOut``);
  ``export``; ``sandbox`` (the simulators); ``explain``; ``github`` lives in ``reconciler.ci``
  (it needs an HTTP client, which ``validate`` never imports). Every command but those of
  ``commands`` is imported when it is run (``LAZY``), not with the CLI: ``--help`` lists it
  from ``LAZY_HELP`` (issue 18: a command imports only what it uses).
* ``options``: the options, defined once; ``errors``: the one error handler and the exit codes
  (listed there, and in the README); ``running``: asyncio and SIGTERM.

``RECONCILER_LOG`` (debug, info, warning, error) sets the log level on stderr, like terraform's
``TF_LOG``; ``-v``/``-vv`` win when given.

Shell completion (click): ``eval "$(_RECONCILER_COMPLETE=bash_source reconciler)"`` in
``~/.bashrc`` (``zsh_source`` for zsh, ``fish_source`` for fish).
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

import click

from .. import __version__
from .commands import drift, plan, schema, show, validate
from .errors import EXIT_CHANGES, EXIT_INTERRUPTED, EXIT_TERMINATED, handle_errors
from .running import Terminate

_Terminate = Terminate  # the name tests and older callers use

LOG_ENV = "RECONCILER_LOG"
LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

LAZY = {
    "apply": "reconciler.cli.apply:apply",
    "explain": "reconciler.cli.explain:explain",  # issue 17: one number, explained
    "export": "reconciler.cli.export:export_cmd",
    "github": "reconciler.ci.command:github",
    "sandbox": "reconciler.cli.sandbox:sandbox",
}
"""Commands loaded when run, not when the CLI is imported: name → ``module:attr``."""
LAZY_HELP = {
    "apply": "Apply a saved plan file exactly, or plan a config, confirm and apply; then verify.",
    "export": "Write YAML describing live accounts (profiles, prefixes), which plan reads back "
    "unchanged.",
    "github": "The GitHub side of the review loop (used by action.yml; token from GITHUB_TOKEN).",
    "sandbox": "The embedded carrier simulators ('sandbox serve' lists each one's base URL and "
    "key).",
}
"""The first paragraph of a lazy command's help, which ``--help`` shows without importing it;
tests/test_startup.py checks it is the command's own. A lazy command not listed here is
imported to be listed."""


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


class _Group(click.Group):
    """Usage errors exit 1, not click's 2: 2 means "changes" or "drift" to scripts. Commands in
    ``LAZY`` are imported on first use."""

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

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in LAZY:
            module, _, attr = LAZY[cmd_name].partition(":")
            found = getattr(importlib.import_module(module), attr)
            self.add_command(found, cmd_name)
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, but a lazy command with a ``LAZY_HELP`` line is not imported."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in LAZY_HELP and name not in self.commands:
                command: click.Command | None = click.Command(name, help=LAZY_HELP[name])
            else:
                command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])


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


for _command in (validate, plan, show, drift, schema):
    main.add_command(_command)


def __getattr__(name: str) -> Any:
    """``ApplyRequest``: from ``apply``, imported on first use like the command."""
    if name == "ApplyRequest":
        return importlib.import_module(".apply", __name__).ApplyRequest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EXIT_CHANGES",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "LOG_ENV",
    "ApplyRequest",
    "Terminate",
    "_Terminate",
    "_log_level",
    "handle_errors",
    "main",
]
