"""Telnyx synthetic numbers (``reconciler sandbox seed``) and portal edits (``sandbox drift``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ...models import unflatten
from ..simulator import PortalEdits, SyntheticShape

EDITED = "changed-by-hand"


def _profile(i: int) -> dict[str, Any]:
    return {
        "tags": ["synthetic", f"team{i}"],
        "connection_id": f"1684641123236{i % 1_000_000:06d}",
        "customer_reference": f"ref-{i}",
        "voice.call_forwarding.forwards_to": f"+1312555{i % 10_000:04d}",
        "voice.call_recording.inbound_call_recording_enabled": i % 2 == 0,
    }


SYNTHETIC = SyntheticShape(
    profile=_profile,
    override_field="customer_reference",
    override_value=lambda j: f"cust-{j:02d}",
    wrong={
        "tags": lambda v: v[:1],
        "connection_id": lambda v: v[:-1] + ("9" if v[-1] != "9" else "8"),
        "customer_reference": lambda v: v + "-old",
        "voice.call_forwarding.forwards_to": lambda v: v[:-1] + ("1" if v[-1] != "1" else "2"),
        "voice.call_recording.inbound_call_recording_enabled": lambda v: not v,
    },
    live=unflatten,
    numbers_table="telnyx_numbers",
)


def _numbers(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    query = "SELECT id, phone_number FROM telnyx_numbers WHERE status = 'active' ORDER BY ordinal"
    return [(id_, number) for id_, number in conn.execute(query)]


DRIFT = PortalEdits(
    mutations={
        "hd_voice_enabled": lambda v: not v,
        "customer_reference": lambda v: EDITED if v != EDITED else EDITED + "-2",
        "tags": lambda v: sorted({*(v or []), EDITED}) if EDITED not in (v or []) else [],
    },
    numbers=_numbers,
    path=lambda id_: f"/phone_numbers/{id_}",
    unwrap=lambda body: body["data"],
)

__all__ = ["DRIFT", "SYNTHETIC"]
