"""A Telnyx phone number: its id, its two projections (``detailed`` for ``/phone_numbers``,
``voice`` for ``/phone_numbers/voice``) with the carrier's defaults, how a change applies to both
together, and timestamps as Telnyx writes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .account import CONNECTIONS, MESSAGING_PROFILES

SIM_EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp() - 1_000_000
"""Simulated time 1_000_000 (FakeClock's start) is 2026-01-01T00:00:00Z."""

SEED_CREATED = datetime(2025, 6, 2, 15, 0, tzinfo=UTC).timestamp()
"""Numbers are listed newest first; ordinal n was created ``n`` seconds before this."""


NESTED_DEFAULTS: dict[str, dict[str, Any]] = {
    "call_forwarding": {"call_forwarding_enabled": True, "forwards_to": ""},
    "call_recording": {
        "inbound_call_recording_enabled": False,
        "inbound_call_recording_channels": "single",
        "inbound_call_recording_format": "wav",
    },
    "cnam_listing": {"cnam_listing_enabled": False},
    "media_features": {
        "accept_any_rtp_packets_enabled": False,
        "rtp_auto_adjust_enabled": True,
        "t38_fax_gateway_enabled": False,
    },
}
"""The nested voice objects a write may set, as a new number has them (the spec's defaults;
``forwarding_type`` and ``cnam_listing_details`` have none and are absent)."""


@dataclass(frozen=True)
class Semantics:
    """How a write changes a number where Telnyx does not say (knobs ``telnyx.voice_replace``
    and ``telnyx.blank_reference_as_null``; docs/sandbox-telnyx.md)."""

    replace_nested: bool = False
    """A nested voice object sent replaces the stored one (unsent subfields back to defaults)
    instead of merging per subfield."""
    blank_reference_as_null: bool = False
    """``customer_reference: ""`` is stored as null instead of as the empty string."""


MERGE = Semantics()


def iso(t: float) -> str:
    """Simulated clock seconds → ISO 8601 UTC with milliseconds, as Telnyx writes them."""
    moment = datetime.fromtimestamp(SIM_EPOCH + t, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamp(t: float) -> str:
    """Epoch seconds → a whole-second Telnyx timestamp (creation dates of numbers)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def number_id(ordinal: int) -> str:
    """Deterministic 19-digit numeric id."""
    return str(1_293_384_261_075_700_000 + ordinal * 7_919)


def new_number(ordinal: int, e164: str, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(detailed, voice) of a number with Telnyx's defaults; ``fields`` as in a job body, plus
    read-only ones (``status``, ``source_type``, ``emergency_address_id`` (enabled and active when
    given), ``emergency_status``, ``messaging_profile_id`` (its name from the account's profiles
    unless ``messaging_profile_name`` is given))."""
    created = SEED_CREATED - ordinal
    status = fields.pop("status", "active")
    voice_fields = fields.pop("voice", {})
    emergency_address = fields.pop("emergency_address_id", None)
    emergency_status = fields.pop("emergency_status", "active" if emergency_address else "disabled")
    detailed: dict[str, Any] = {
        "id": number_id(ordinal),
        "record_type": "phone_number",
        "phone_number": e164,
        "status": status,
        "tags": [],
        "external_pin": None,
        "connection_id": None,
        "connection_name": None,
        "customer_reference": None,
        "billing_group_id": None,
        "messaging_profile_id": None,
        "messaging_profile_name": None,
        "emergency_address_id": emergency_address,
        "emergency_enabled": bool(emergency_address),
        "emergency_status": emergency_status,
        "call_forwarding_enabled": True,
        "call_recording_enabled": False,
        "cnam_listing_enabled": False,
        "caller_id_name_enabled": False,
        "t38_fax_gateway_enabled": False,
        "hd_voice_enabled": False,
        "inbound_call_screening": "disabled",
        "deletion_lock_enabled": False,
        "phone_number_type": "local",
        "source_type": fields.pop("source_type", "number_order"),
        "country_iso_alpha2": "US",
        "created_at": stamp(created),
        "purchased_at": stamp(created),
        "updated_at": stamp(created + 86_400),
        "activated_at": stamp(created + 90) if status == "active" else None,
    }
    voice: dict[str, Any] = {
        "id": detailed["id"],
        "record_type": "voice_settings",
        "phone_number": e164,
        **{name: dict(defaults) for name, defaults in NESTED_DEFAULTS.items()},
        "emergency": {
            "emergency_enabled": detailed["emergency_enabled"],
            "emergency_status": detailed["emergency_status"],
        },
        "inbound_call_screening": "disabled",
        "tech_prefix_enabled": False,
        "translated_number": "",
        "usage_payment_method": "pay-per-minute",
    }
    if emergency_address:
        voice["emergency"]["emergency_address_id"] = emergency_address
    profile = fields.pop("messaging_profile_id", None)
    detailed["messaging_profile_id"] = profile
    detailed["messaging_profile_name"] = fields.pop(
        "messaging_profile_name", MESSAGING_PROFILES.get(profile or "")
    )
    update_number(detailed, voice, {**fields, "voice": voice_fields}, detailed["updated_at"])
    return detailed, voice


def update_number(
    detailed: dict[str, Any],
    voice: dict[str, Any],
    changes: Mapping[str, Any],
    now: str,
    semantics: Semantics = MERGE,
) -> None:
    """Apply a PATCH or job body: top-level scalars replace, ``tags`` replace the whole set
    (``[]`` clears it), nested ``voice`` objects merge per subfield (or replace, see
    ``Semantics``). Summary flags of ``detailed`` follow ``voice``."""
    if semantics.blank_reference_as_null and changes.get("customer_reference") == "":
        changes = {**changes, "customer_reference": None}
    for name in (
        "billing_group_id",
        "customer_reference",
        "external_pin",
        "hd_voice_enabled",
        "deletion_lock_enabled",
        "connection_id",
    ):
        if name in changes:
            detailed[name] = changes[name]
    if "tags" in changes:
        detailed["tags"] = list(dict.fromkeys(changes["tags"]))
    if "connection_id" in changes:
        detailed["connection_name"] = CONNECTIONS.get(changes["connection_id"])
    for name in ("connection_id", "customer_reference"):  # plain strings in the voice view
        if name in changes:
            if changes[name] is None:
                voice.pop(name, None)
            else:
                voice[name] = changes[name]
    for name, value in (changes.get("voice") or {}).items():
        if name == "caller_id_name_enabled":  # only /phone_numbers shows it
            detailed[name] = value
        elif isinstance(value, dict) and semantics.replace_nested:
            voice[name] = {**NESTED_DEFAULTS.get(name, {}), **value}
        elif isinstance(value, dict):
            voice.setdefault(name, {}).update(value)
        else:
            voice[name] = value
    _summarise(detailed, voice)
    detailed["updated_at"] = now


def set_messaging_profile(detailed: dict[str, Any], profile_id: str, now: str) -> None:
    """Assign the number to ``profile_id`` (``""``: unassign): id and name as the listing shows
    them (``null`` both when unassigned)."""
    detailed["messaging_profile_id"] = profile_id or None
    detailed["messaging_profile_name"] = MESSAGING_PROFILES.get(profile_id) if profile_id else None
    detailed["updated_at"] = now


def set_emergency(
    detailed: dict[str, Any],
    voice: dict[str, Any],
    enabled: bool,
    address_id: str | None,
    status: str,
    now: str,
) -> None:
    """Write emergency settings to both projections (``voice.emergency`` leaves the address out
    when there is none, as new numbers have it)."""
    detailed.update(
        emergency_enabled=enabled,
        emergency_address_id=address_id,
        emergency_status=status,
        updated_at=now,
    )
    emergency: dict[str, Any] = {"emergency_enabled": enabled, "emergency_status": status}
    if address_id is not None:
        emergency["emergency_address_id"] = address_id
    voice["emergency"] = emergency


def settle_emergency(
    detailed: dict[str, Any], voice: dict[str, Any], status: str, now: str
) -> None:
    """The end of (de)provisioning: only ``emergency_status`` changes."""
    detailed["emergency_status"] = status
    detailed["updated_at"] = now
    voice.setdefault("emergency", {})["emergency_status"] = status


def _summarise(detailed: dict[str, Any], voice: Mapping[str, Any]) -> None:
    detailed["call_forwarding_enabled"] = voice["call_forwarding"].get(
        "call_forwarding_enabled", True
    )
    detailed["call_recording_enabled"] = voice["call_recording"].get(
        "inbound_call_recording_enabled", False
    )
    detailed["cnam_listing_enabled"] = voice["cnam_listing"].get("cnam_listing_enabled", False)
    detailed["t38_fax_gateway_enabled"] = voice["media_features"].get(
        "t38_fax_gateway_enabled", False
    )
    detailed["inbound_call_screening"] = voice.get("inbound_call_screening", "disabled")
