"""Wavix's rate limit: requests per API key per window (knob ``wavix.rate_limit``).

Wavix publishes no numbers for ``/v1/numbers`` and no rate-limit headers; its SDK README says an
endpoint over its limit answers **429**, and the SDK honours ``Retry-After`` (seconds or an HTTP
date) and ``X-RateLimit-Reset`` (a Unix timestamp, whole seconds). So the 429 here carries what
knob ``wavix.rate_limit_headers`` lists: any of ``retry-after``, ``retry-after-date``,
``x-ratelimit-reset``, or nothing (a client must then back off on its own).

Each key has a fixed window of ``wavix.rate_window_s`` seconds (``sandbox/ratewindow.py``).
"""

from __future__ import annotations

import email.utils
import math

from ..ratewindow import RateWindows
from ..store import SandboxStore
from .errors import WavixError
from .knobs import value

TOO_MANY = "Too many requests"


class RateLimiter:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.windows = RateWindows()

    def count(self, key: str) -> None:
        """Count one request for ``key``; raise the 429 when it is over the limit."""
        limit = value(self.store, "wavix.rate_limit")
        if limit <= 0:
            return
        count, wait = self.windows.hit(
            key, self.store.clock.now(), value(self.store, "wavix.rate_window_s")
        )
        if count <= limit:
            return
        kinds = value(self.store, "wavix.rate_limit_headers")
        reset = self.store.clock.wall() + wait
        headers = {}
        if "retry-after" in kinds:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        elif "retry-after-date" in kinds:
            headers["Retry-After"] = email.utils.formatdate(math.ceil(reset), usegmt=True)
        if "x-ratelimit-reset" in kinds:
            headers["X-RateLimit-Reset"] = str(math.ceil(reset))
        raise WavixError(429, {"success": False, "message": TOO_MANY}, headers)
