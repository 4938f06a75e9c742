"""Wavix settings: what a number's YAML may declare, and the one canonical form of each value.

Facts: ../shared/carriers/wavix.md. ``canonical_destinations`` is the only normal form of a
destination list: the YAML side (``models.flatten`` through ``CARRIER.canonical``) and the
provider's page decoder both call it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from ...config import MAX_WAIT_S, Number, ProviderConfig
from ...models import HttpUrlStr, StrictSettings

DEFAULT_ASYNC_VERIFY_TIMEOUT_S = 120.0


class WavixConfig(ProviderConfig):
    """A Wavix account's options: the common ones and the wait for asynchronous fields."""

    async_verify_timeout_s: Number = Field(
        default=DEFAULT_ASYNC_VERIFY_TIMEOUT_S, ge=0, le=MAX_WAIT_S
    )
    """How long apply waits for ``destinations`` and ``sms_relay_url`` to show. Wavix applies
    them "asynchronously" after the bulk PATCH answers and documents no bound, so they get a
    longer wait than ``verify_timeout_s`` (which still bounds every other field)."""


TRANSPORTS: dict[str, int] = {"sip_uri": 1, "pstn": 4, "sip_trunk": 5}
"""YAML names for Wavix's transport codes (../shared/carriers/wavix.md §7.4)."""
TRANSPORT_NAMES = {code: name for name, code in TRANSPORTS.items()}


def transport_code(value: str | int) -> int:
    return TRANSPORTS[value] if isinstance(value, str) else value


class WavixDestination(StrictSettings):
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


class WavixSettings(StrictSettings):
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


def _destination_key(d: dict[str, Any]) -> tuple[Any, ...]:
    return (d["priority"], d["destination"], d["transport"])


def canonical_destinations(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Destinations (YAML, request or response shape) → the canonical list: items
    ``{destination, priority, transport (int code), trunk_id}`` sorted by priority."""
    out = [
        {
            "destination": d["destination"],
            "priority": d["priority"],
            "transport": transport_code(d["transport"]),
            "trunk_id": d.get("trunk_id"),
        }
        for d in items or ()
    ]
    out.sort(key=_destination_key)
    return out


def format_destination(path: str, item: Any) -> str | None:
    """``sip:x@pbx (sip_uri, p1)`` for one canonical destination; None for other values."""
    if path != "destinations" or not isinstance(item, dict) or "transport" not in item:
        return None
    transport = TRANSPORT_NAMES.get(item["transport"], str(item["transport"]))
    trunk = f", trunk {item['trunk_id']}" if item.get("trunk_id") is not None else ""
    return f"{item['destination']} ({transport}{trunk}, p{item['priority']})"


def written_destinations(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical destinations as a person writes them: transports by name (``sip_uri``)."""
    return [{**d, "transport": TRANSPORT_NAMES.get(d["transport"], d["transport"])} for d in items]
