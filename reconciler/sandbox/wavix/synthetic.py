"""Wavix synthetic numbers (``reconciler sandbox seed``) and portal edits (``sandbox drift``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from ..simulator import PortalEdits, SyntheticShape

TRANSPORTS = {"sip_uri": 1, "pstn": 4}
"""Wavix transport names (YAML) → the integers the API stores."""

EDITED_URL = "https://hooks.example.net/changed-by-hand"


def _profile(i: int) -> dict[str, Any]:
    return {
        "sms_enabled": i % 2 == 0,
        "destinations": [
            {"destination": f"sip:in{i}@pbx.example.com", "priority": 1, "transport": "sip_uri"},
            {"destination": f"+1313555{i % 10_000:04d}", "priority": 2, "transport": "pstn"},
        ],
        "sms_relay_url": f"https://hooks.example.com/sms/{i}",
        "call_recording_enabled": True,
        "transcription_threshold": 30 + i % 50,
    }


def _live(flat: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in flat.items() if k != "destinations"}
    out["destination"] = [
        {**d, "transport": TRANSPORTS[d["transport"]]} for d in flat["destinations"]
    ]
    return out


SYNTHETIC = SyntheticShape(
    profile=_profile,
    override_field="transcription_threshold",
    override_value=lambda j: 100 + j,  # profiles use 30..79: an override always differs
    wrong={
        "sms_enabled": lambda v: not v,
        "destinations": lambda v: v[:1],
        "sms_relay_url": lambda v: v + "-old",
        "call_recording_enabled": lambda v: not v,
        "transcription_threshold": lambda v: v + 5,
    },
    live=_live,
    numbers_table="wavix_numbers",
)


def _numbers(conn: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    for id_, number in conn.execute("SELECT id, number FROM wavix_numbers ORDER BY id"):
        yield str(id_), "+" + number.lstrip("+")


DRIFT = PortalEdits(
    mutations={
        "sms_enabled": lambda v: not v,
        "call_recording_enabled": lambda v: not v,
        "transcription_enabled": lambda v: not v,
        "call_status_url": lambda v: EDITED_URL if v != EDITED_URL else EDITED_URL + "/2",
    },
    numbers=_numbers,
    path=lambda id_: f"/v1/numbers/{id_}",
    unwrap=lambda body: body,
)

__all__ = ["DRIFT", "SYNTHETIC", "TRANSPORTS"]
