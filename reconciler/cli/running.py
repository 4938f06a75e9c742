"""Running a command's coroutine: ``run`` (asyncio without the result on the main task) and
``Terminate`` (SIGTERM taken the way Ctrl-C is while ``apply`` runs)."""

from __future__ import annotations

import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")


class Terminate:
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

    def __enter__(self) -> Terminate:
        self._previous = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    async def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Await ``main`` as the task a SIGTERM cancels."""
        import asyncio

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


def run(main: Coroutine[Any, Any, T], terminate: Terminate | None = None) -> T:
    """``asyncio.run(main)`` with the result kept off the main task: on the way out Python
    3.11's runner looks up its SIGINT handler, whose repr holds the task and so repr()s the
    whole result (0.1 s for a 100k-number plan). ``terminate``: SIGTERM cancels ``main``."""
    import asyncio  # here, not with the CLI: '--help' and 'validate' need no event loop

    box: list[T] = []

    async def boxed() -> None:
        box.append(await (terminate.run(main) if terminate is not None else main))

    asyncio.run(boxed())
    return box[0]
