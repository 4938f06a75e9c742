"""HTTP conventions both simulators share: compact JSON and the bearer key.

Both carriers answer ``application/json`` written without spaces, and both take the API key as
``Authorization: Bearer <key>``. What the JSON says and which keys are valid is each carrier's
own business (its ``errors`` and ``account`` modules).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response


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
