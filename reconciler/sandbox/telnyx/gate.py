"""The Telnyx gate: what happens to every request before its route.

In order: due jobs, messaging orders and emergency statuses advance (``advance``), the bearer key is
checked (``DEFAULT_KEY`` or one in knob ``telnyx.keys``; else 401), the request is counted against
its key's fixed rate window (knob ``telnyx.rate_limit`` requests per ``telnyx.rate_window_s``
seconds; 0 = no limit; the ``x-ratelimit-*`` headers go on every authenticated response, over the
limit is a 429; ``Date`` on every authenticated response, on the simulated clock that stamps the
jobs' ``updated_at``), and knob ``telnyx.fail_next`` may inject a failure, before the route runs or
(``processed``) instead of its response; on writes, knob ``telnyx.write_faults`` may draw one (a
timeout after commit is a ``processed`` 504). Every request is logged when knob ``request_log`` is
on."""

from __future__ import annotations

import math
from collections.abc import Callable
from email.utils import formatdate

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import requestlog
from ..faults import Fault, WriteFaults, pop_fault
from ..http import bearer_key, json_response
from ..ratewindow import RateWindows
from ..store import SandboxStore
from . import knobs
from .account import DEFAULT_KEY
from .errors import AUTH_FAILED, fault_response
from .number import SIM_EPOCH

WRITES = ("POST", "PATCH")
"""Methods knob ``telnyx.write_faults`` applies to."""


class Gate:
    """ASGI wrapper run before every route: ``advance`` (what is due on the clock), check the
    key, count the request against its rate window (headers on every authenticated response),
    inject faults."""

    def __init__(self, app: ASGIApp, store: SandboxStore, advance: Callable[[], None]) -> None:
        self.app, self.store, self.advance = app, store, advance
        self.windows = RateWindows()
        self.write_faults = WriteFaults()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = requestlog.start("telnyx", scope["method"], scope["path"])
        status = [0]

        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.handle(scope, receive, logged)
        finally:
            requestlog.record(self.store, entry, status[0])

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.advance()
        key = bearer_key(Headers(scope=scope).get("authorization"))
        if key is None or not self.authenticate(key):
            await json_response(401, {"errors": [AUTH_FAILED]})(scope, receive, send)
            return
        headers, limited = self.rate(key)
        headers["date"] = http_date(SIM_EPOCH + self.store.clock.now())  # the carrier's clock
        if limited:
            await fault_response(429, headers)(scope, receive, send)
            return
        fault = pop_fault(self.store, "telnyx.fail_next")
        if fault is not None:
            requestlog.note(fault=f"fail_next {fault.status}")
        elif scope["method"] in WRITES:
            drawn = self.write_faults.draw(knobs.value(self.store, "telnyx.write_faults"))
            if drawn is not None:
                requestlog.note(fault=drawn.kind)
                fault = Fault(drawn.status, processed=drawn.after_commit)
        if fault is not None and not fault.processed:
            await fault_response(fault.status, headers)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        *((k.encode(), v.encode()) for k, v in headers.items()),
                    ],
                }
            await send(message)

        if fault is None:
            await self.app(scope, receive, send_with_headers)
            return

        async def swallow(message: Message) -> None:  # processed, then the response is lost
            return None

        await self.app(scope, receive, swallow)
        await fault_response(fault.status, headers)(scope, receive, send)

    def authenticate(self, key: str) -> bool:
        return key == DEFAULT_KEY or key in knobs.value(self.store, "telnyx.keys")

    def rate(self, key: str) -> tuple[dict[str, str], bool]:
        """Count one request for ``key`` → (rate-limit headers, over the limit?)."""
        limit = int(knobs.value(self.store, "telnyx.rate_limit"))
        if limit <= 0:
            return {}, False
        length = float(knobs.value(self.store, "telnyx.rate_window_s"))
        count, left = self.windows.hit(key, self.store.clock.now(), length)
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - count)),
            "x-ratelimit-reset": str(max(1, math.ceil(left))),
        }
        return headers, count > limit


def http_date(epoch: float) -> str:
    """An HTTP ``Date`` (IMF-fixdate, whole seconds) for Unix time ``epoch``."""
    return formatdate(epoch, usegmt=True)
