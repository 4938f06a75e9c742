"""The transient progress display on a terminal (rich, stderr): listing pages and bulk calls."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


@contextmanager
def progress(console: Console, providers: Mapping[str, Any], calls: int = 0) -> Iterator[Any]:
    """A transient progress display on a terminal (nothing otherwise): listing pages read per
    account, and with ``calls`` the bulk calls done. Yields the callback for finished calls."""
    if not console.is_terminal:
        yield lambda result: None
        return
    # Loaded only for a terminal: a pipe or a file shows no progress (~17 ms of imports).
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def pages(account: str, done: int, total: int) -> None:
            if account not in tasks:
                tasks[account] = bar.add_task(f"reading {account} (pages)", total=total)
            bar.update(tasks[account], completed=done, total=total)

        for provider in providers.values():
            provider.on_progress = pages
        call_task = bar.add_task("bulk calls", total=calls) if calls else None

        def call_done(result: Any) -> None:
            if call_task is not None:
                bar.advance(call_task)

        try:
            yield call_done
        finally:
            for provider in providers.values():
                provider.on_progress = None
