"""Injected time, so polling, async application and backoff never wait for real in tests."""

from __future__ import annotations

import asyncio
import time


class Clock:
    """Wall clock: ``now()`` in seconds, ``sleep()`` really waits."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        """Unix time, for carrier headers that carry a timestamp (Wavix ``X-RateLimit-Reset``)."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock(Clock):
    """A clock that only moves when someone sleeps on it (or calls ``advance``)."""

    def __init__(self, start: float = 1_000_000.0, wall_start: float = 1_790_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self.slept: list[float] = []

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        """Unix time that moves with ``now`` (starts at ``wall_start``)."""
        return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)
