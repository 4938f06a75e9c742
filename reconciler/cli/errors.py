"""The one error handler: domain errors become a message on stderr and an exit code.

Exit codes, the same for every command (README and docs/review-workflow.md list them):

  0  success, or nothing to do (plan without --detailed-exitcode; drift in sync)
  1  error: invalid config, unreadable/edited/outdated plan file, carrier error, cancelled
  2  changes (plan --detailed-exitcode) or drift (drift)
  3  refused, nothing sent: a stale saved plan, a safety rail, an empty config (drift)
  4  partial apply: some numbers did not reach their desired state
  130  apply interrupted (Ctrl-C): the message says which calls were sent and what to run next
  143  apply terminated (SIGTERM, e.g. a cancelled CI job): the same message as for Ctrl-C
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import Aborted, ConfigError, ReconcilerError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CHANGES = 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM


if TYPE_CHECKING:
    from rich.console import Console


def console(err: bool = False) -> Console:
    from rich.console import Console  # on first output, not with the CLI (issue 18)

    return Console(stderr=err, highlight=False, soft_wrap=True)


def handle_errors(func: F) -> F:
    """Domain errors → message on stderr + exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            err = console(err=True)
            n = len(exc.issues)
            err.print(
                f"[bold red]Error:[/] the configuration has {n} problem{'s' if n != 1 else ''}:"
            )
            for issue in exc.issues:
                err.print(f"  {issue}", markup=False)
            sys.exit(exc.exit_code)
        except Aborted as exc:
            console(err=True).print(f"Apply cancelled: {exc}", markup=False)
            sys.exit(exc.exit_code)
        except ReconcilerError as exc:
            err = console(err=True)
            err.print("[bold red]Error:[/] ", end="")
            err.print(str(exc), markup=False)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            console(err=True).print("Interrupted.")
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]
