"""Contract checking: validate every HTTP exchange against a carrier's OpenAPI document.

Interface (shared by the Wavix and Telnyx tests)::

    contract = ContractTransport(inner, spec_path("wavix-numbers.openapi.json"), "/wavix")
    client = make_client(base_url, key, transport=contract)   # or any httpx.AsyncClient
    ...                                                       # exercise the client
    contract.assert_clean(min_exchanges=3)

* ``ContractTransport(inner, spec, strip_prefix="", *, server_url=None)`` (``spec``: a path or a
  loaded ``OpenAPI``, e.g. ``wavix_contract.wavix_spec()``) is an
  ``httpx.AsyncBaseTransport`` wrapping ``inner`` (e.g. ``httpx.ASGITransport(app=sandbox.app)``).
  Each request is validated before it is sent (path, method, parameters, security, body) and each
  response after it is received (status listed for the operation, headers, body schema).
* Mapping onto the spec: ``strip_prefix`` (the simulator's mount, e.g. ``/wavix`` or
  ``/telnyx/v2``) is removed from the request path and the rest is appended to the spec's server
  URL (``servers[0].url``, or ``server_url``). So ``/telnyx/v2/phone_numbers`` against a server
  ``https://api.telnyx.com/v2`` is checked as ``https://api.telnyx.com/v2/phone_numbers``.
* ``violations`` (list of ``Violation``) and ``exchanges`` (int) record what was seen; nothing
  raises inside the transport, so the client under test behaves exactly as without the wrapper.
* ``assert_clean(min_exchanges)`` fails with every violation listed, or when fewer than
  ``min_exchanges`` exchanges were checked (so a test cannot pass by checking nothing).
* ``check(request, response)`` validates one exchange synchronously (for sync clients/tests
  that already hold an ``httpx.Response``).

Specs are parsed once per path and cached (openapi-core validates the document on load).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    status: int | None
    side: str  # "request" | "response"
    message: str

    def __str__(self) -> str:
        status = f" → {self.status}" if self.status is not None else ""
        return f"{self.method} {self.path}{status} [{self.side}] {self.message}"


@lru_cache(maxsize=8)
def load_spec(path: str) -> OpenAPI:
    return OpenAPI.from_file_path(path)


class _OpenAPIRequest:
    """``httpx.Request`` → openapi-core's ``Request`` protocol, re-rooted on the spec server."""

    def __init__(self, request: httpx.Request, host_url: str, path: str) -> None:
        self.host_url = host_url
        self.path = path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "application/json").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(request.url.params.multi_items()),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _OpenAPIResponse:
    """``httpx.Response`` (already read) → openapi-core's ``Response`` protocol."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "").lower()
        self.headers = Headers(list(response.headers.items()))
        self.data: bytes | None = response.content


def _describe(error: Exception) -> str:
    """One line per underlying schema error, with the JSON path where it happened."""
    parts = [f"{type(error).__name__}: {error}"]
    cause: BaseException | None = error
    while cause is not None:
        for schema_error in getattr(cause, "schema_errors", ()) or ():
            where = "/".join(str(p) for p in schema_error.absolute_path) or "(root)"
            parts.append(f"  at {where}: {schema_error.message}")
        cause = cause.__cause__
    return "\n".join(parts)


class ContractTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        spec: Path | str | OpenAPI,
        strip_prefix: str = "",
        *,
        server_url: str | None = None,
    ) -> None:
        self.inner = inner
        self.openapi = spec if isinstance(spec, OpenAPI) else load_spec(str(spec))
        self.strip_prefix = strip_prefix.rstrip("/")
        server = server_url or self.openapi.spec.read_value()["servers"][0]["url"]
        parts = urlsplit(server)
        self._host_url = f"{parts.scheme}://{parts.netloc}"
        self._server_path = parts.path.rstrip("/")
        self.violations: list[Violation] = []
        self.exchanges = 0

    # ---- the transport
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.check(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    # ---- checking
    def check(self, request: httpx.Request, response: httpx.Response | None = None) -> None:
        path = request.url.path
        if self.strip_prefix and path.startswith(self.strip_prefix):
            path = path[len(self.strip_prefix) :] or "/"
        oa_request = _OpenAPIRequest(request, self._host_url, self._server_path + path)
        for error in self.openapi.iter_request_errors(oa_request):
            self._record(request, None, "request", error)
        if response is not None:
            for error in self.openapi.iter_response_errors(oa_request, _OpenAPIResponse(response)):
                self._record(request, response.status_code, "response", error)
        self.exchanges += 1

    def _record(
        self, request: httpx.Request, status: int | None, side: str, error: Exception
    ) -> None:
        self.violations.append(
            Violation(request.method, request.url.path, status, side, _describe(error))
        )

    def assert_clean(self, min_exchanges: int = 1) -> None:
        assert not self.violations, "contract violations:\n" + "\n".join(map(str, self.violations))
        assert self.exchanges >= min_exchanges, (
            f"only {self.exchanges} exchange(s) checked, expected at least {min_exchanges}"
        )


def assert_no_violations(transport: ContractTransport, min_exchanges: int = 1) -> None:
    """Function form of ``ContractTransport.assert_clean``."""
    transport.assert_clean(min_exchanges)
