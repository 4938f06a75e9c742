"""HTTP conventions both simulators share: compact JSON, the bearer key, how a request's JSON
body and integer parameters are read, and one route per resource with a correct 405.

Both carriers answer ``application/json`` written without spaces, and both take the API key as
``Authorization: Bearer <key>``. What the JSON says and which keys are valid is each carrier's
own business (its ``errors`` and ``account`` modules); this module only says *whether* a body or
a parameter is readable, and each simulator answers its own error when it is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


def dumps(value: Any) -> str:
    """Compact JSON, the form both simulators store and send."""
    return json.dumps(value, separators=(",", ":"))


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return json_text_response(status, dumps(body), headers)


def json_text_response(
    status: int, text: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A response whose body is JSON already rendered (e.g. joined from stored rows)."""
    return Response(text, status_code=status, media_type="application/json", headers=headers)


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header value; None for any other scheme,
    an empty key or no header."""
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def loads(raw: bytes) -> Any:
    """A request body's JSON value. ``ValueError`` when it is not JSON (bad syntax, not UTF-8)
    or is nested deeper than the parser can follow: a malformed body either way, never a 500."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


_UINT = re.compile(r"[0-9]{1,100}")
"""What an integer parameter may look like on the wire."""


def uint(raw: str) -> int | None:
    """An integer query or path parameter: 1 to 100 ASCII digits, else None.

    Python's ``int()`` also takes ``1_0``, `` 3 ``, ``+3`` and other scripts' digits (``３``,
    ``٣``), which neither carrier documents; past 4300 digits it raises instead. Ranges are the
    caller's business (each carrier's limits and error differ)."""
    return int(raw) if _UINT.fullmatch(raw) else None


class Resource:
    """One path's methods, dispatched here rather than by one Starlette route per method, so a
    method the path does not have is answered by ``not_allowed`` (the carrier's error body) with
    an ``Allow`` header that lists exactly the methods it has (HEAD with GET, as Starlette serves
    it). Mount it as ``Route(path, Resource(...))``: an ASGI endpoint takes every method."""

    def __init__(
        self, methods: Mapping[str, Endpoint], not_allowed: Callable[[], Response]
    ) -> None:
        self.methods = dict(methods)
        if "GET" in self.methods:
            self.methods.setdefault("HEAD", self.methods["GET"])
        self.allow = ", ".join(sorted(self.methods))
        self.not_allowed = not_allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self.methods.get(request.method)
        if handler is None:
            response = self.not_allowed()
            response.headers["Allow"] = self.allow
        else:
            response = await handler(request)
        await response(scope, receive, send)


def route(path: str, resource: Resource) -> Route:
    """``Route(path, resource)``, anchored with ``\\Z``: Starlette's ``$`` also matches before a
    final newline, which would serve ``/v1/numbers%0A`` as ``/v1/numbers``."""
    out = Route(path, resource)
    assert out.path_regex.pattern.endswith("$")
    out.path_regex = re.compile(out.path_regex.pattern.removesuffix("$") + r"\Z")
    return out
