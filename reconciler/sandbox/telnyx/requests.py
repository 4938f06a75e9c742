"""What a Telnyx write may carry: the fields each body accepts (kind per field; a dict is a
nested object), checking a body against them, and reading the JSON body itself."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from ..http import loads
from .account import BILLING_GROUPS
from .errors import ApiError, bad_request, err

# Matched with fullmatch: a ``$`` anchor would also match before a final newline.
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_CNAM = re.compile(r"[A-Za-z0-9 ]{1,15}")

_S, _B = "string", "boolean"
_FORWARDING = {
    "call_forwarding_enabled": _B,
    "forwarding_type": ("always", "on-failure"),
    "forwards_to": "forwards_to",
}
_RECORDING = {
    "inbound_call_recording_enabled": _B,
    "inbound_call_recording_channels": ("single", "dual"),
    "inbound_call_recording_format": ("wav", "mp3"),
}
_CNAM_LISTING = {"cnam_listing_enabled": _B, "cnam_listing_details": "cnam"}
_MEDIA = {
    "accept_any_rtp_packets_enabled": _B,
    "rtp_auto_adjust_enabled": _B,
    "t38_fax_gateway_enabled": _B,
}
VOICE_FIELDS: dict[str, Any] = {
    "call_forwarding": _FORWARDING,
    "call_recording": _RECORDING,
    "caller_id_name_enabled": _B,
    "cnam_listing": _CNAM_LISTING,
    "inbound_call_screening": ("disabled", "reject_calls", "flag_calls"),
    "media_features": _MEDIA,
    "tech_prefix_enabled": _B,
    "translated_number": _S,
    "usage_payment_method": ("pay-per-minute", "channel"),
}
JOB_FIELDS: dict[str, Any] = {
    "billing_group_id": _S,
    "connection_id": _S,
    "customer_reference": _S,
    "deletion_lock_enabled": _B,
    "external_pin": _S,
    "hd_voice_enabled": _B,
    "tags": "tags",
    "voice": VOICE_FIELDS,
}
NUMBER_PATCH_FIELDS: dict[str, Any] = {
    "address_id": _S,
    "billing_group_id": _S,
    "connection_id": _S,
    "customer_reference": _S,
    "external_pin": _S,
    "hd_voice_enabled": _B,
    "tags": "tags",
}


def validate(
    body: Mapping[str, Any], fields: Mapping[str, Any], at: str = ""
) -> list[dict[str, Any]]:
    """Every problem of ``body`` against ``fields``, as error items (empty when valid)."""
    problems: list[dict[str, Any]] = []
    for name, value in body.items():
        pointer = f"{at}/{name}"
        kind = fields.get(name)
        if kind is None:
            problems.append(
                err("10015", "Bad Request", "is not a permitted field", pointer=pointer)
            )
        elif isinstance(kind, dict):
            if isinstance(value, dict):
                problems.extend(validate(value, kind, pointer))
            else:
                problems.append(err("10015", "Bad Request", "must be an object", pointer=pointer))
        elif (msg := _check(kind, value)) is not None:
            code = "10016" if kind == "forwards_to" else "10015"
            title = "Invalid phone number" if code == "10016" else "Bad Request"
            problems.append(err(code, title, msg, pointer=pointer))
    return problems


def _check(kind: str | tuple[str, ...], value: Any) -> str | None:
    if isinstance(kind, tuple):
        return None if value in kind else "must be one of: " + ", ".join(kind)
    if kind == _B:
        return None if isinstance(value, bool) else "must be a boolean"
    if not isinstance(value, str) and kind != "tags":
        return "must be a string"
    if kind == "tags":
        ok = isinstance(value, list) and all(isinstance(t, str) and t for t in value)
        return None if ok else "must be an array of non-empty strings"
    if kind == "forwards_to" and value and not E164.fullmatch(value):
        return "Phone number must be in +E.164 format"
    if kind == "cnam" and not _CNAM.fullmatch(value):
        return "must be alphanumeric characters or spaces with a maximum length of 15"
    return None


def leaves(body: Mapping[str, Any]) -> int:
    """How many fields a body sets (a nested object counts its fields)."""
    return sum(leaves(v) if isinstance(v, dict) else 1 for v in body.values())


async def read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; 400 when it is not JSON (or too deeply nested to read) or not
    an object."""
    try:
        body = loads(await request.body())
    except ValueError:
        raise bad_request("The request body is not valid JSON.", "/base", status=400) from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "/base", status=400)
    return body


def check_billing_group(value: str, status: int = 403) -> None:
    """A billing group outside the account: 403 code 10010 for jobs, 422 for a PATCH."""
    if value not in BILLING_GROUPS:
        code, title = (
            ("10010", "Authorization Failed") if status == 403 else ("10015", "Bad Request")
        )
        raise ApiError(
            status,
            [
                err(
                    code,
                    title,
                    "The specified billing group either does not exist or is not part of your "
                    "account",
                    pointer="/billing_group_id",
                )
            ],
        )
