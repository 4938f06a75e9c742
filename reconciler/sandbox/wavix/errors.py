"""Wavix's error responses (the spec's components), raised inside handlers as ``WavixError``."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..faults import Fault
from ..http import json_response


class WavixError(Exception):
    """Raised inside a handler; becomes the carrier's error response."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("message", ""))
        self.status, self.body, self.headers = status, body, headers or {}

    def response(self) -> Response:
        return json_response(self.status, self.body, self.headers)


def invalid(param: str) -> WavixError:
    return WavixError(400, {"success": False, "message": f"Missing or invalid parameter {param}"})


def unauthorized() -> WavixError:
    return WavixError(401, {"success": False, "error": True, "message": "Unauthorized"})


def forbidden() -> WavixError:
    return WavixError(
        403,
        {"success": False, "message": "Forbidden: this API key lacks the numbers:write scope"},
    )


def not_found() -> WavixError:
    return WavixError(404, {"success": False, "message": "Record not found"})


def not_allowed() -> WavixError:
    """A method the path does not have (the caller adds ``Allow``). Wavix documents no 405; its
    error shape is ``{success, message}`` everywhere."""
    return WavixError(405, {"success": False, "message": "Method not allowed"})


FAULT_MESSAGES = {
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}


def injected(fault: Fault) -> WavixError:
    """The error for an entry of knob ``wavix.fail_next``; 429 and 503 always say when to retry."""
    headers = {}
    if fault.retry_after is not None or fault.status in (429, 503):
        headers["Retry-After"] = f"{fault.retry_after if fault.retry_after is not None else 1:g}"
    message = FAULT_MESSAGES.get(fault.status, "Injected failure")
    return WavixError(fault.status, {"success": False, "message": message}, headers)


async def routing_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: a path no route has (404) in Wavix's shape, not plain text."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return not_found().response()
    return WavixError(exc.status_code, {"success": False, "message": str(exc.detail)}).response()
