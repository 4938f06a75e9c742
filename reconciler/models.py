"""Canonical per-number settings, one normal form for both sides of the diff.

Users write settings as nested YAML (validated by the pydantic models below). Live state comes
from the carrier in its own wire shape. Both are reduced to the same *flat canonical form*: a dict
from a dotted field path (``"sms_enabled"``, ``"destinations"``,
``"voice.call_forwarding.forwards_to"``) to a JSON-compatible value in a normal form:

* Wavix ``destinations``: a list of ``{destination, priority, transport, trunk_id}`` dicts sorted by
  priority (transport always the integer code 1/4/5, trunk_id ``None`` unless transport is 5);
* Telnyx ``tags``: a sorted list without duplicates (the carrier treats tags as a set);
* everything else: the scalar as the carrier stores it.

Only the fields a number's YAML declares are *managed*; flattening keeps exactly the declared
leaves, so a partially declared nested object (Telnyx ``voice.call_forwarding``) manages only the
declared subfields.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

Settings = dict[str, Any]
"""Flat canonical settings: dotted field path -> canonical JSON-compatible value."""


# --------------------------------------------------------------------------------------------
# Live numbers (what providers return)


@dataclass(slots=True)
class LiveNumber:
    """One number of a carrier account as read from the carrier, in canonical form.

    ``settings`` holds every field the provider can set (flat canonical). ``patchable`` is False
    for numbers the carrier will not let us update (e.g. Telnyx ``port-pending``): they are
    reported, never patched.
    """

    id: str
    e164: str
    status: str
    settings: Settings = field(default_factory=dict)
    patchable: bool = True


# --------------------------------------------------------------------------------------------
# Validators shared by the settings models


def check_e164(value: str) -> str:
    """A valid +E.164 number (phonenumbers decides validity), returned in E.164 form."""
    if not value.startswith("+"):
        raise ValueError(f"{value!r} is not in +E.164 form (it must start with '+')")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164 != value:
        raise ValueError(f"{value!r} is not in E.164 form; write {e164!r}")
    return value


def check_url(value: str) -> str:
    """An absolute http(s) URL. Kept verbatim (no normalisation) so diffs never show noise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


E164 = Annotated[StrictStr, AfterValidator(check_e164)]
HttpUrlStr = Annotated[StrictStr, AfterValidator(check_url)]


class _Strict(BaseModel):
    """Base for user-facing settings: unknown keys rejected, explicit nulls rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key in cls.model_fields:
                    raise ValueError(
                        f"{key}: null is not a value; remove the key to leave the field unmanaged"
                    )
        return data


# --------------------------------------------------------------------------------------------
# Wavix

WAVIX_TRANSPORTS: dict[str, int] = {"sip_uri": 1, "pstn": 4, "sip_trunk": 5}
"""YAML names for Wavix's transport codes (../shared/carriers/wavix.md §7.4)."""


class WavixDestination(_Strict):
    destination: StrictStr = Field(min_length=1)
    priority: StrictInt = Field(ge=0)
    transport: Literal["sip_uri", "pstn", "sip_trunk", 1, 4, 5]
    trunk_id: StrictInt | None = None

    @model_validator(mode="after")
    def _trunk_rules(self) -> WavixDestination:
        code = transport_code(self.transport)
        if code == 5 and self.trunk_id is None:
            raise ValueError("transport sip_trunk (5) needs trunk_id")
        if code != 5 and self.trunk_id is not None:
            raise ValueError("trunk_id is only allowed with transport sip_trunk (5)")
        return self


def transport_code(value: str | int) -> int:
    return WAVIX_TRANSPORTS[value] if isinstance(value, str) else value


class WavixSettings(_Strict):
    """Settings Wavix's bulk ``PATCH /v1/numbers`` can set."""

    sms_enabled: StrictBool | None = None
    destinations: list[WavixDestination] | None = None
    sms_relay_url: HttpUrlStr | None = None
    call_recording_enabled: StrictBool | None = None
    transcription_enabled: StrictBool | None = None
    transcription_threshold: StrictInt | None = Field(default=None, ge=0)
    call_status_url: HttpUrlStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and "label" in data:
            raise ValueError(
                "label: Wavix cannot set a number's label through its API "
                "(read-only in PATCH /v1/numbers); remove it"
            )
        return data

    @field_validator("destinations")
    @classmethod
    def _unique_priorities(cls, value: list[WavixDestination] | None) -> Any:
        if value is not None:
            seen = [d.priority for d in value]
            if len(seen) != len(set(seen)):
                raise ValueError("destinations: two destinations share a priority")
        return value


def canonical_destinations(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wavix destinations (request or response shape) → canonical sorted list."""
    out = [
        {
            "destination": d["destination"],
            "priority": d["priority"],
            "transport": transport_code(d["transport"]),
            "trunk_id": d.get("trunk_id"),
        }
        for d in items
    ]
    out.sort(key=lambda d: (d["priority"], d["destination"], d["transport"]))
    return out


# --------------------------------------------------------------------------------------------
# Telnyx

_CNAM = re.compile(r"^[A-Za-z0-9 ]{1,15}$")


def check_cnam(value: str) -> str:
    if not _CNAM.match(value):
        raise ValueError(
            f"{value!r}: cnam_listing_details must be 1-15 letters, digits or spaces"
        )
    return value


def check_forwards_to(value: str) -> str:
    return value if value == "" else check_e164(value)


class TelnyxCallForwarding(_Strict):
    call_forwarding_enabled: StrictBool | None = None
    forwarding_type: Literal["always", "on-failure"] | None = None
    forwards_to: Annotated[StrictStr, AfterValidator(check_forwards_to)] | None = None


class TelnyxCallRecording(_Strict):
    inbound_call_recording_enabled: StrictBool | None = None
    inbound_call_recording_channels: Literal["single", "dual"] | None = None
    inbound_call_recording_format: Literal["wav", "mp3"] | None = None


class TelnyxCnamListing(_Strict):
    cnam_listing_enabled: StrictBool | None = None
    cnam_listing_details: Annotated[StrictStr, AfterValidator(check_cnam)] | None = None


class TelnyxMediaFeatures(_Strict):
    accept_any_rtp_packets_enabled: StrictBool | None = None
    rtp_auto_adjust_enabled: StrictBool | None = None
    t38_fax_gateway_enabled: StrictBool | None = None


class TelnyxVoice(_Strict):
    call_forwarding: TelnyxCallForwarding | None = None
    call_recording: TelnyxCallRecording | None = None
    caller_id_name_enabled: StrictBool | None = None
    cnam_listing: TelnyxCnamListing | None = None
    inbound_call_screening: Literal["disabled", "reject_calls", "flag_calls"] | None = None
    media_features: TelnyxMediaFeatures | None = None
    tech_prefix_enabled: StrictBool | None = None
    translated_number: StrictStr | None = None
    usage_payment_method: Literal["pay-per-minute", "channel"] | None = None


class TelnyxSettings(_Strict):
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
    return sorted(set(tags or ()))


# --------------------------------------------------------------------------------------------
# Registry and flat form

SETTINGS_MODELS: dict[str, type[_Strict]] = {"wavix": WavixSettings, "telnyx": TelnyxSettings}

SECRET_FIELDS: dict[str, frozenset[str]] = {
    "wavix": frozenset(),
    "telnyx": frozenset({"external_pin"}),
}
"""Fields whose values are masked in every output (text, JSON, Markdown, logs)."""

MASK = "(sensitive)"

# Fields whose value is one whole list (replace semantics), not a nested object to recurse into.
_LEAF_LISTS: dict[str, Callable[[Any], list[Any]]] = {"destinations": canonical_destinations, "tags": canonical_tags}


def flatten(model: BaseModel, prefix: str = "") -> Settings:
    """Declared leaves of a settings model → flat canonical settings."""
    out: Settings = {}
    for name in model.model_fields_set:
        value = getattr(model, name)
        if value is None:
            continue
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            out.update(flatten(value, prefix=f"{path}."))
        elif name in _LEAF_LISTS:
            raw = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
            out[path] = _LEAF_LISTS[name](raw)
        else:
            out[path] = value
    return out


def field_paths(carrier: str) -> list[str]:
    """Every settable flat field path of a carrier, in declaration order."""

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        paths: list[str] = []
        for name, info in model.model_fields.items():
            sub = _submodel(info.annotation)
            if sub is not None:
                paths.extend(walk(sub, f"{prefix}{name}."))
            else:
                paths.append(f"{prefix}{name}")
        return paths

    return walk(SETTINGS_MODELS[carrier], "")


def _submodel(annotation: Any) -> type[BaseModel] | None:
    for arg in getattr(annotation, "__args__", ()) or (annotation,):
        if isinstance(arg, type) and issubclass(arg, _Strict):
            return arg
    return None


def unflatten(flat: Settings) -> dict[str, Any]:
    """Flat dotted paths → nested dict (for building carrier request bodies)."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def mask(carrier: str, path: str, value: Any) -> Any:
    return MASK if path in SECRET_FIELDS.get(carrier, ()) else value
