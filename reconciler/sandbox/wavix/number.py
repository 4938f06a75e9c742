"""The Wavix ``Number`` object: a complete response body with the carrier's defaults, and how
request destinations become response destinations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .account import TRUNKS

NUMBER_FIELDS = (
    "id number activation_fee monthly_fee per_min city state country country_short_name "
    "destination channels require_docs documents domestic_cli free_min unlimited label status "
    "seconds added paid_until sms_enabled sms_relay_url cnam call_recording_enabled "
    "transcription_enabled transcription_threshold call_status_url"
).split()
"""The fields of a response ``Number``, in the order ``make_number`` writes them."""
DESTINATION_FIELDS = "id destination priority transport trunk_id trunk_label srtp".split()
"""The fields of a response destination item (``InboundCallDestination``)."""
ASYNC_FIELDS = ("destinations", "sms_relay_url")
"""Request fields the bulk PATCH applies later (the docs: "applied asynchronously")."""


def make_number(
    id: int,
    number: str,
    *,
    city: str = "DETROIT, MI",
    state: str | None = "MI",
    country: str = "United States",
    country_short_name: str = "US",
    destination: list[dict[str, Any]] | None = None,
    channels: int = 24,
    require_docs: list[str] | None = None,
    documents: list[dict[str, Any]] | None = None,
    label: str | None = None,
    status: str = "active",
    seconds: int = 0,
    added: str = "2024-01-15T09:30:00.000Z",
    paid_until: str = "2026-08-15",
    monthly_fee: str = "1.49",
    activation_fee: str = "0.00",
    per_min: str = "0.0060",
    sms_enabled: bool = False,
    sms_relay_url: str | None = None,
    cnam: bool | None = False,
    call_recording_enabled: bool = False,
    transcription_enabled: bool = False,
    transcription_threshold: int = 30,
    call_status_url: str | None = None,
) -> dict[str, Any]:
    """A complete response ``Number`` (spec schema). ``destination`` items need ``id``s set by
    the caller (``response_destinations`` does it)."""
    return {
        "id": id,
        "number": number,
        "activation_fee": activation_fee,
        "monthly_fee": monthly_fee,
        "per_min": per_min,
        "city": city,
        "state": state,
        "country": country,
        "country_short_name": country_short_name,
        "destination": destination or [],
        "channels": channels,
        "require_docs": require_docs or [],
        "documents": documents or [],
        "domestic_cli": country_short_name in ("US", "CA"),
        "free_min": 0,
        "unlimited": False,
        "label": label,
        "status": status,
        "seconds": str(seconds),
        "added": added,
        "paid_until": paid_until,
        "sms_enabled": sms_enabled,
        "sms_relay_url": sms_relay_url,
        "cnam": cnam,
        "call_recording_enabled": call_recording_enabled,
        "transcription_enabled": transcription_enabled,
        "transcription_threshold": transcription_threshold,
        "call_status_url": call_status_url,
    }


def response_destinations(
    new: Iterable[Mapping[str, Any]], old: list[dict[str, Any]], next_id: Callable[[], int]
) -> list[dict[str, Any]]:
    """Request destinations → response items; a destination that already existed keeps its id."""
    known = {(d["destination"], d["transport"], d.get("trunk_id")): d["id"] for d in old}
    out = []
    for d in new:
        trunk_id = d.get("trunk_id") if d["transport"] == 5 else None
        key = (d["destination"], d["transport"], trunk_id)
        out.append(
            {
                "id": known.pop(key) if key in known else next_id(),
                "destination": d["destination"],
                "priority": d["priority"],
                "transport": d["transport"],
                "trunk_id": trunk_id,
                "trunk_label": TRUNKS.get(trunk_id) if trunk_id is not None else None,
                "srtp": False,
            }
        )
    return out
