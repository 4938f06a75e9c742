"""Telnyx's error responses: the ``{"errors": [...]}`` envelope, its items, and the fixed errors
the gate and the fault knobs send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..http import json_response

_ERROR_URL = "https://developers.telnyx.com/docs/overview/errors/"


class ApiError(Exception):
    """An error response in Telnyx's ``{"errors": [...]}`` envelope."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("detail", ""))
        self.status, self.errors = status, errors

    def response(self) -> Response:
        return json_response(self.status, {"errors": self.errors})


def err(
    code: str,
    title: str,
    detail: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"code": code, "title": title, "detail": detail}
    if pointer is not None or parameter is not None:
        item["source"] = {
            k: v for k, v in (("pointer", pointer), ("parameter", parameter)) if v is not None
        }
    item["meta"] = {"url": _ERROR_URL + code}
    return item


def bad_request(detail: str, pointer: str, status: int = 422, code: str = "10015") -> ApiError:
    """A problem with the request body, at JSON ``pointer``."""
    return ApiError(status, [err(code, "Bad Request", detail, pointer=pointer)])


def bad_parameter(detail: str, parameter: str) -> ApiError:
    """A problem with a query ``parameter`` (filters)."""
    return ApiError(422, [err("10015", "Bad Request", detail, parameter=parameter)])


def bad_sort() -> ApiError:
    detail = "The value provided for sorting is not valid. Check the value used and try again."
    return ApiError(422, [err("10015", "Invalid sorting value", detail, pointer="/sort")])


NOT_FOUND = err(
    "10005",
    "Resource not found",
    "The requested resource or URL could not be found.",
    pointer="/base",
)
METHOD_NOT_ALLOWED = err(
    "10015",
    "Bad Request",
    "The requested method is not allowed for this resource.",
    pointer="/base",
)
"""A method the path does not have (405; ``http.Resource`` adds ``Allow``). The spec documents
no 405, so the body is the envelope's generic request error."""
AUTH_FAILED = err(
    "10009", "Authentication failed", "Could not understand the provided credentials."
)
_TOO_MANY = err(
    "10011", "Too many requests", "You have exceeded the maximum number of allowed requests."
)
_FAULTS = {
    400: err("10015", "Bad Request", "The request could not be processed."),
    401: AUTH_FAILED,
    403: err("10006", "Not authorized", "You are not authorized to access the requested resource."),
    404: NOT_FOUND,
    422: err("10015", "Bad Request", "The request could not be processed."),
    429: _TOO_MANY,
}
MESSAGING_UNAVAILABLE = err(
    "10007",
    "Unexpected error",
    "Messaging profile information could not be loaded.",
)
"""Knob ``telnyx.messaging_profile_error``: the 503 of ``GET /phone_numbers`` without
``handle_messaging_profile_error=true``, and the ``errors`` item of a page with it."""
_UNEXPECTED = err("10007", "Unexpected error", "An unexpected error occurred.")
NUMBER_FAILURE = err(
    "10007",
    "Unexpected error",
    "The phone number could not be updated. Please try again.",
    pointer="/phone_numbers",
)
"""The error a number listed in knob ``telnyx.fail_numbers`` gets in a job's failed_operations."""


def fault_response(status: int, headers: Mapping[str, str]) -> Response:
    """The response for an injected or rate-limit failure with ``status``."""
    return json_response(status, {"errors": [_FAULTS.get(status, _UNEXPECTED)]}, headers)


async def api_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: an ``ApiError`` raised by a handler."""
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: routing errors (an unknown URL) in Telnyx's shape. A wrong
    method never gets here: ``http.Resource`` answers it with ``METHOD_NOT_ALLOWED``."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return ApiError(404, [NOT_FOUND]).response()
    return json_response(
        exc.status_code,
        {"errors": [err("10015", "Bad Request", str(exc.detail), pointer="/base")]},
    )
