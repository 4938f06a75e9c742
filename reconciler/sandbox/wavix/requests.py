"""What a Wavix request may carry: strict body models (the spec's ``additionalProperties: false``
and types), query and path parameters. Every violation is a 400 naming the parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from starlette.requests import Request

from ..http import loads, uint
from .account import TRUNKS
from .errors import invalid

INT32_MAX = 2**31 - 1
ID_MAX = 2**63 - 1
"""Number ids are 64-bit: the spec types them int32, but its own examples (``47832123321``) and
the live platform use 11-12 digits. SQLite's INTEGER holds them exactly."""


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("not an absolute http(s) URL")
    return value


def _transport(value: int) -> int:
    if value not in (1, 4, 5):
        raise ValueError("transport must be 1, 4 or 5")
    return value


Int32 = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
Url = Annotated[StrictStr, AfterValidator(_url)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DestinationIn(_Body):
    destination: StrictStr = Field(min_length=1)
    priority: Int32
    transport: Annotated[StrictInt, AfterValidator(_transport)]
    trunk_id: Int32 | None = None


class NumberUpdate(_Body):
    """``NumberUpdateRequest``; explicit nulls are rejected before validation (see ``parse``)."""

    sms_enabled: StrictBool | None = None
    destinations: list[DestinationIn] | None = None
    sms_relay_url: Url | None = None
    call_recording_enabled: StrictBool | None = None
    transcription_enabled: StrictBool | None = None
    transcription_threshold: Int32 | None = None
    call_status_url: Url | None = None


class NumberBulkUpdate(NumberUpdate):
    ids: list[Annotated[StrictInt, Field(ge=1, le=ID_MAX)]]


def parse(model: type[_Body], raw: bytes, *, optional: bool = False) -> Any:
    if not raw.strip() and optional:
        return model()
    try:
        data = loads(raw)
    except ValueError:
        raise invalid("body") from None
    if not isinstance(data, dict):
        raise invalid("body")
    for key, value in data.items():
        if value is None and key in model.model_fields:
            raise invalid(key)  # the spec types every field non-nullable
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(".".join(str(p) for p in exc.errors()[0]["loc"])) from None


def check_trunks(destinations: list[DestinationIn] | None) -> None:
    for i, d in enumerate(destinations or ()):
        if d.transport == 5 and d.trunk_id not in TRUNKS:
            raise invalid(f"destinations.{i}.trunk_id")
        if d.transport != 5 and d.trunk_id is not None:
            raise invalid(f"destinations.{i}.trunk_id")


def fields(update: NumberUpdate) -> dict[str, Any]:
    """The request fields actually sent, JSON-ready (destinations as plain dicts)."""
    return update.model_dump(include=set(update.model_fields_set) - {"ids"})


def int_param(q: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    value = uint(raw)
    if value is None or not minimum <= value <= INT32_MAX:
        raise invalid(name)
    return value


def path_id(request: Request) -> int:
    value = uint(request.path_params["id"])
    if value is None or not 0 < value <= ID_MAX:
        raise invalid("id")
    return value
