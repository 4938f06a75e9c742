"""Telnyx settings: what a number's YAML may declare, and the one canonical form of each value.

Facts: ../shared/carriers/telnyx.md. ``canonical_tags`` and ``canonical_reference`` are the only
normal forms of a tag list and of a customer reference: the YAML side (``models.flatten`` through
``CARRIER.canonical``) and the provider's listing decoder both call them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ...config import PollingConfig
from ...models import StrictSettings, check_e164

_CNAM = re.compile(r"^[A-Za-z0-9 ]{1,15}$")


def check_cnam(value: str) -> str:
    if not _CNAM.fullmatch(value):  # not match: $ would let a trailing "\n" through
        raise ValueError(f"{value!r}: cnam_listing_details must be 1-15 letters, digits or spaces")
    return value


def check_forwards_to(value: str) -> str:
    return value if value == "" else check_e164(value)


class TelnyxCallForwarding(StrictSettings):
    call_forwarding_enabled: StrictBool | None = None
    forwarding_type: Literal["always", "on-failure"] | None = None
    forwards_to: Annotated[StrictStr, AfterValidator(check_forwards_to)] | None = None


class TelnyxCallRecording(StrictSettings):
    inbound_call_recording_enabled: StrictBool | None = None
    inbound_call_recording_channels: Literal["single", "dual"] | None = None
    inbound_call_recording_format: Literal["wav", "mp3"] | None = None


class TelnyxCnamListing(StrictSettings):
    cnam_listing_enabled: StrictBool | None = None
    cnam_listing_details: Annotated[StrictStr, AfterValidator(check_cnam)] | None = None


class TelnyxMediaFeatures(StrictSettings):
    accept_any_rtp_packets_enabled: StrictBool | None = None
    rtp_auto_adjust_enabled: StrictBool | None = None
    t38_fax_gateway_enabled: StrictBool | None = None


class TelnyxVoice(StrictSettings):
    call_forwarding: TelnyxCallForwarding | None = None
    call_recording: TelnyxCallRecording | None = None
    caller_id_name_enabled: StrictBool | None = None
    cnam_listing: TelnyxCnamListing | None = None
    inbound_call_screening: Literal["disabled", "reject_calls", "flag_calls"] | None = None
    media_features: TelnyxMediaFeatures | None = None
    tech_prefix_enabled: StrictBool | None = None
    translated_number: StrictStr | None = None
    usage_payment_method: Literal["pay-per-minute", "channel"] | None = None


_STRING_OR_NULL = {"type": ["string", "null"], "title": "Emergency Address Id"}


class TelnyxSettings(StrictSettings):
    """Settings a Telnyx number's YAML may declare: those the ``update_phone_numbers`` job sets,
    then the messaging profile (messaging bulk updates) and the emergency settings (emergency
    jobs). ``emergency_address_id: null`` is a value here ("no address", canonical ``""``): it
    lets an entry disable emergency calling on numbers whose profile names an address."""

    tags: list[Annotated[StrictStr, Field(min_length=1)]] | None = None
    connection_id: StrictStr | None = None
    customer_reference: StrictStr | None = None
    billing_group_id: StrictStr | None = None
    external_pin: StrictStr | None = None
    hd_voice_enabled: StrictBool | None = None
    deletion_lock_enabled: StrictBool | None = None
    voice: TelnyxVoice | None = None
    messaging_profile_id: StrictStr | None = None
    """A messaging profile id, or ``""`` for none."""
    emergency_enabled: StrictBool | None = None
    emergency_address_id: Annotated[
        StrictStr | None,
        WithJsonSchema({"type": ["string", "null"], "title": "Emergency Address Id"}),
    ] = None
    """Required when ``emergency_enabled`` is true; absent or null when it is false."""

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:  # overrides StrictSettings': one null is a value
        if isinstance(data, dict) and data.get("emergency_address_id", "") is None:
            data = {**data, "emergency_address_id": ""}
        return super()._no_nulls(data)  # type: ignore[misc,operator]

    @field_validator("emergency_address_id")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and value != value.strip():
            raise ValueError(f"{value[:40]!r}: an emergency address id has no blanks around it")
        return value


def canonical_tags(tags: list[str] | None) -> list[str]:
    """Tags as the carrier treats them: a set, kept as a sorted list."""
    return sorted(set(tags or ()))


def canonical_reference(value: str | None) -> str:
    """``customer_reference`` with "no reference" as ``""``: a job can only clear it by sending
    ``""`` (the field is a non-nullable string), and whether the carrier then reads it back as
    ``""`` or null is undocumented (docs/sandbox-telnyx.md, "Empty values"), so both read alike."""
    return value or ""


WHOLE_OBJECTS = (
    "voice.call_forwarding.",
    "voice.call_recording.",
    "voice.cnam_listing.",
    "voice.media_features.",
)
"""Nested voice objects a job sends whole: whether Telnyx merges a partial object into the stored
one or replaces it (resetting unsent subfields) is undocumented, so a call that changes one
subfield also sends its siblings, filled from the live read; either way they stay as they were."""


def canonical_optional_id(value: str | None) -> str:
    """A messaging profile or emergency address id with "none" as ``""`` (the carrier reads
    back null; ``""`` is how a messaging bulk update unassigns)."""
    return value or ""


EMERGENCY_ENABLED, EMERGENCY_ADDRESS = "emergency_enabled", "emergency_address_id"
MESSAGING_PROFILE = "messaging_profile_id"
UNAVAILABLE = "UNAVAILABLE"
"""What ``GET /phone_numbers`` may show as ``messaging_profile_id`` when the profile lookup
failed (``handle_messaging_profile_error``); a missing key reads the same: unknown."""


def check_emergency(merged: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One number's merged desired settings: enabled needs an address, disabled takes none, an
    address needs ``emergency_enabled: true`` declared (an E911 address is a legal matter:
    never applied by guess)."""
    enabled = merged.get(EMERGENCY_ENABLED)
    address = merged.get(EMERGENCY_ADDRESS)
    if enabled is True and not address:
        return [
            (
                EMERGENCY_ENABLED,
                "emergency_enabled is true but no emergency_address_id is declared for this "
                "number: add the address id (the carrier requires it when enabling)",
            )
        ]
    if enabled is False and address:
        return [
            (
                EMERGENCY_ADDRESS,
                f"emergency_address_id {address!r} is declared, but emergency_enabled is false "
                "for this number: remove the address, or write emergency_address_id: null in "
                "the entry that disables it",
            )
        ]
    if enabled is None and address is not None:
        return [
            (
                EMERGENCY_ADDRESS,
                "emergency_address_id is declared without emergency_enabled: add "
                "emergency_enabled: true (or false with no address)",
            )
        ]
    return []


class TelnyxConfig(PollingConfig):
    """Telnyx account options: job polling, and the messaging bulk update's batch."""

    messaging_max_batch: int | None = Field(default=None, ge=1, le=10_000, strict=True)
    """Numbers per messaging bulk update (none documented; 1000 when unset)."""
