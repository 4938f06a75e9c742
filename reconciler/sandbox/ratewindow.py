"""Per-key fixed rate windows, as both simulators count requests against a key's rate limit.

A key's first request opens a window of ``length`` seconds (store clock); every request in it
counts, refused ones too; the first request after it ends opens the next. Counters live in
memory, per app.
"""

from __future__ import annotations


class RateWindows:
    def __init__(self) -> None:
        self._windows: dict[str, list[float]] = {}  # key → [window start, requests]

    def hit(self, key: str, now: float, length: float) -> tuple[int, float]:
        """Count one request for ``key`` → (requests in its window so far, seconds left in it)."""
        window = self._windows.get(key)
        if window is None or now >= window[0] + length:
            window = self._windows[key] = [now, 0]
        window[1] += 1
        return int(window[1]), window[0] + length - now
