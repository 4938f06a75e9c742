"""Numbers in the Telnyx sandbox: the documented deterministic account (docs/sandbox-telnyx.md,
matching examples/desired-state) and ``seed_synthetic``, the fast loader benchmarks use."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

from ..http import dumps
from ..store import SandboxStore
from . import churn
from .account import BILLING_GROUPS, EMERGENCY_ADDRESSES, MESSAGING_PROFILES
from .number import SEED_CREATED, new_number, number_id, stamp
from .tables import NumberRow, insert_numbers

CHI_CONNECTION, DEN_CONNECTION = "1684641123236054244", "1684641123236054255"
PA_CONNECTION, CHI_LEGACY = "1684641123236054266", "1684641123236054299"
CHI_BILLING, DEN_BILLING, SALES_BILLING = BILLING_GROUPS
SALES_SMS, SUPPORT_SMS, ALERTS_SMS = MESSAGING_PROFILES
CHI_ADDRESS, DEN_ADDRESS, PA_ADDRESS = EMERGENCY_ADDRESSES

CHICAGO_SUPPORT: dict[str, Any] = {
    "tags": ["support", "chicago"],
    "connection_id": CHI_CONNECTION,
    "customer_reference": "support-chi",
    "billing_group_id": CHI_BILLING,
    "hd_voice_enabled": True,
    "emergency_address_id": CHI_ADDRESS,
    "messaging_profile_id": SUPPORT_SMS,
    "voice": {
        "call_forwarding": {
            "call_forwarding_enabled": True,
            "forwarding_type": "on-failure",
            "forwards_to": "+13125550100",
        },
        "call_recording": {
            "inbound_call_recording_enabled": True,
            "inbound_call_recording_channels": "dual",
            "inbound_call_recording_format": "mp3",
        },
        "cnam_listing": {"cnam_listing_enabled": True, "cnam_listing_details": "ACME Support"},
        "inbound_call_screening": "flag_calls",
        "caller_id_name_enabled": True,
    },
}
DENVER_FAX: dict[str, Any] = {
    "tags": ["fax"],
    "connection_id": DEN_CONNECTION,
    "customer_reference": "fax-den",
    "billing_group_id": DEN_BILLING,
    "deletion_lock_enabled": True,
    "voice": {
        "media_features": {"t38_fax_gateway_enabled": True, "rtp_auto_adjust_enabled": True},
        "usage_payment_method": "channel",
    },
}

CHICAGO_DRIFT: dict[int, dict[str, Any]] = {
    # +1312736720N → how it differs from profile chicago-support (+ the 7200 override). The
    # messaging profile and emergency differences sit on numbers that differ already, so a
    # configuration managing them changes no more numbers (the example's change-share rail).
    0: {
        "tags": ["support", "chicago", "vip"],  # in sync: the override
        "voice": {"cnam_listing": {"cnam_listing_details": "ACME Help Line"}},
    },
    3: {"tags": ["support"], "messaging_profile_id": None},
    6: {"tags": ["support", "chicago", "legacy"]},
    9: {"voice": {"call_forwarding": {"forwards_to": "+13125550199"}}},
    12: {"voice": {"call_recording": {"inbound_call_recording_enabled": False}}},
    15: {
        "voice": {"cnam_listing": {"cnam_listing_details": "ACME Sales"}},
        "messaging_profile_id": ALERTS_SMS,
        "emergency_address_id": DEN_ADDRESS,
    },
    18: {"hd_voice_enabled": False, "emergency_address_id": None},
    21: {"connection_id": CHI_LEGACY},
    24: {
        "voice": {
            "call_forwarding": {"forwarding_type": "always"},
            "inbound_call_screening": "disabled",
        }
    },
    27: {
        "status": "port-pending",
        "source_type": "port_request",
        "customer_reference": "",
        "emergency_address_id": None,
    },
}
DENVER_DRIFT: dict[int, dict[str, Any]] = {
    2: {"voice": {"media_features": {"t38_fax_gateway_enabled": False}}},
    5: {"deletion_lock_enabled": False},
    8: {"voice": {"usage_payment_method": "pay-per-minute"}},
}
PALO_ALTO: list[dict[str, Any]] = [
    {
        "tags": ["sales"],
        "connection_id": PA_CONNECTION,
        "customer_reference": "sales-pa",
        "billing_group_id": SALES_BILLING,
        "hd_voice_enabled": True,
        "messaging_profile_id": SALES_SMS,
    },
    {
        "tags": ["sales", "west"],
        "connection_id": PA_CONNECTION,
        "customer_reference": "sales-pa",
        "billing_group_id": SALES_BILLING,
        "external_pin": "4417",
        "messaging_profile_id": SALES_SMS,
        "voice": {"call_forwarding": {"forwarding_type": "always", "forwards_to": "+16505550199"}},
    },
    {"tags": [], "voice": {"translated_number": "+16505550100"}},
    {
        "tags": ["sales"],
        "connection_id": PA_CONNECTION,
        "emergency_address_id": PA_ADDRESS,
        "voice": {"tech_prefix_enabled": True},
    },
    {
        "tags": ["trial"],
        "connection_id": PA_CONNECTION,
        "customer_reference": "trial-2025",
        "voice": {"caller_id_name_enabled": True, "inbound_call_screening": "reject_calls"},
    },
    {"tags": [], "status": "port-out-pending"},
]


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and key in out else value
    return out


def seed_numbers() -> Iterator[tuple[str, dict[str, Any]]]:
    """The 46 documented numbers, in listing order: (e164, fields for ``new_number``)."""
    for i in range(30):
        yield f"+1312736{7200 + i}", _merge(CHICAGO_SUPPORT, CHICAGO_DRIFT.get(i, {}))
    for i in range(10):
        yield f"+1303555{9100 + i}", _merge(DENVER_FAX, DENVER_DRIFT.get(i, {}))
    for i, fields in enumerate(PALO_ALTO):
        yield f"+1650555{100 + i:04d}", fields


def seed(store: SandboxStore) -> None:
    """Load the documented deterministic account (tables are empty: ``Sandbox.reset``)."""
    rows: list[NumberRow] = []
    for ordinal, (e164, fields) in enumerate(seed_numbers(), start=1):
        detailed, voice = new_number(ordinal, e164, **fields)
        rows.append(
            (ordinal, detailed["id"], e164, detailed["status"], dumps(detailed), dumps(voice))
        )
    with store.transaction() as conn:
        insert_numbers(conn, rows)
    churn.reset(store)


def seed_synthetic(
    store: SandboxStore,
    count: int,
    *,
    prefix: str = "1415",
    first_line: int = 2_000_000,
    settings: Mapping[str, Any] | None = None,
    drift: Mapping[str, Any] | None = None,
    drift_every: int = 0,
) -> range:
    """Append ``count`` numbers fast, for benchmarks (a million in about 20 s).

    Numbers are ``+{prefix}{first_line + i:07d}`` (default +1 415 200 0000 onward). Each is a
    ``new_number`` with ``settings`` in a job body's shape (``{"tags": [...], "voice":
    {"call_forwarding": {"forwards_to": ...}}}``; read-only ``status`` too), and every
    ``drift_every``-th one (i % drift_every == drift_every - 1) has ``drift`` merged on top.
    Rows are %-templates filled per number: no JSON encoding in the loop. Ordinals continue
    after the current maximum (ids: ``number_id(ordinal)``); returns the ordinals inserted.
    """
    templates = [_templates(dict(settings or {}))]
    if drift and drift_every:
        templates.append(_templates(_merge(settings or {}, drift)))
    with store.transaction() as conn:
        first = (conn.execute("SELECT max(ordinal) FROM telnyx_numbers").fetchone()[0] or 0) + 1

        def rows() -> Iterator[NumberRow]:
            for i in range(count):
                ordinal = first + i
                status, detailed, voice = templates[
                    1 if drift_every and i % drift_every == drift_every - 1 else 0
                ]
                created = SEED_CREATED - ordinal
                values = {
                    "id": number_id(ordinal),
                    "e164": f"+{prefix}{first_line + i:07d}",
                    "created": stamp(created),
                    "updated": stamp(created + 86_400),
                    "activated": stamp(created + 90),
                }
                yield (
                    ordinal,
                    values["id"],
                    values["e164"],
                    status,
                    detailed % values,
                    voice % values,
                )

        try:
            insert_numbers(conn, rows())
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"+{prefix}{first_line:07d} + {count}: numbers already exist") from exc
    return range(first, first + count)


def _templates(fields: dict[str, Any]) -> tuple[str, str, str]:
    """(status, detailed, voice) of a synthetic number: JSON %-templates with the per-number
    values (id, number, timestamps) as named placeholders."""
    detailed, voice = new_number(0, "@@e164@@", **fields)
    marks = {
        "id": "@@id@@",
        "created_at": "@@created@@",
        "purchased_at": "@@created@@",
        "updated_at": "@@updated@@",
    }
    if detailed["activated_at"] is not None:
        marks["activated_at"] = "@@activated@@"
    detailed.update(marks)
    voice["id"] = "@@id@@"
    out = []
    for doc in (detailed, voice):
        text = dumps(doc).replace("%", "%%")
        for name in ("id", "e164", "created", "updated", "activated"):
            text = text.replace(f"@@{name}@@", f"%({name})s")
        out.append(text)
    return detailed["status"], out[0], out[1]
