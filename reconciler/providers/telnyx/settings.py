"""Telnyx settings: what a number's YAML may declare, and the one canonical form of each value.

Facts: ../shared/carriers/telnyx.md. ``canonical_tags`` and ``canonical_reference`` are the only
normal forms of a tag list and of a customer reference: the YAML side (``models.flatten`` through
``CARRIER.canonical``) and the provider's listing decoder both call them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictStr

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


class TelnyxSettings(StrictSettings):
    """Settings the Telnyx ``update_phone_numbers`` job can set."""

    tags: list[Annotated[StrictStr, Field(min_length=1)]] | None = None
    connection_id: StrictStr | None = None
    customer_reference: StrictStr | None = None
    billing_group_id: StrictStr | None = None
    external_pin: StrictStr | None = None
    hd_voice_enabled: StrictBool | None = None
    deletion_lock_enabled: StrictBool | None = None
    voice: TelnyxVoice | None = None


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
