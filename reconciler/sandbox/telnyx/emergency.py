"""Emergency (E911) settings in bulk: what an ``update_emergency_settings`` job body may carry, what
its job does to each number, and how ``emergency_status`` then settles on the store's clock.

The job itself (creation checks, cap, lifecycle, polling) is the one update jobs use (``jobs``,
``lifecycle``); this module holds only what differs:

* ``checked(body)``: ``emergency_enabled`` (boolean, required) and ``emergency_address_id``
  (string or null: required when enabling, null or omitted when disabling); anything else but
  ``phone_numbers`` is refused. An address outside the account is *not* refused here: the spec's
  example job shows it as a per-number failure (10015 "The field is invalid.", pointer
  ``/emergency_address_id``), and so does the sandbox.
* ``apply``: per number, as the job's step runs. Enabling (or moving to another address) writes
  ``emergency_enabled``/``emergency_address_id`` at once and ``emergency_status: provisioning``;
  disabling writes ``false``/``null`` and ``deprovisioning``. A number already in the requested
  state (``active`` at that address, or ``disabled``) is left as it is.
* ``settle``: after knob ``telnyx.emergency_provisioning_s`` (read when the job is created)
  ``provisioning`` becomes ``active``, or ``provisioning-failed`` for a number drawn under
  ``telnyx.emergency_provisioning_faults`` (per job and number), and ``deprovisioning`` becomes
  ``disabled``. The gate calls ``settle`` before every request, after the jobs advance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..faults import chance
from ..http import dumps
from ..store import SandboxStore
from . import knobs
from .account import EMERGENCY_ADDRESSES
from .errors import ApiError, err
from .number import iso, set_emergency, settle_emergency

JOB_TYPE = "update_emergency_settings"
FIELDS = ("emergency_enabled", "emergency_address_id")
INVALID_ADDRESS = err(
    "10015", "Bad Request", "The field is invalid.", pointer="/emergency_address_id"
)
"""A job's per-number error for an address outside the account (the spec's example job)."""


def checked(update: Mapping[str, Any]) -> dict[str, Any]:
    """The job's update (``emergency_enabled``, and ``emergency_address_id`` when enabling or
    sent as null) of a valid body without ``phone_numbers``; else 422 listing every problem."""
    problems = [
        _bad(f"/{name}", "is not a permitted field") for name in update if name not in FIELDS
    ]
    enabled = update.get("emergency_enabled")
    address = update.get("emergency_address_id")
    if "emergency_enabled" not in update:
        problems.append(_bad("/emergency_enabled", "must be present"))
    elif not isinstance(enabled, bool):
        problems.append(_bad("/emergency_enabled", "must be a boolean"))
    if address is not None and not isinstance(address, str):
        problems.append(_bad("/emergency_address_id", "must be a string or null"))
    elif enabled is True and not address:
        problems.append(_bad("/emergency_address_id", "is required when emergency_enabled is true"))
    elif enabled is False and address is not None:
        problems.append(
            _bad("/emergency_address_id", "must be null or omitted when emergency_enabled is false")
        )
    if problems:
        raise ApiError(422, problems)
    if enabled or "emergency_address_id" in update:  # a null sent is kept ("null preserved")
        return {"emergency_enabled": enabled, "emergency_address_id": address}
    return {"emergency_enabled": enabled}


def new_work(store: SandboxStore) -> dict[str, Any]:
    """What an emergency job fixes at creation, beside the common schedule."""
    return {
        "provisioning_s": float(knobs.value(store, "telnyx.emergency_provisioning_s")),
        "provisioning_faults": knobs.value(store, "telnyx.emergency_provisioning_faults"),
    }


def refusal(update: Mapping[str, Any]) -> dict[str, Any] | None:
    """The per-number error every number of this job gets, if any (an unknown address)."""
    address = update.get("emergency_address_id")
    if address is not None and address not in EMERGENCY_ADDRESSES:
        return INVALID_ADDRESS
    return None


def apply(
    conn: Any,
    job_id: str,
    work: Mapping[str, Any],
    number_id: str,
    detailed: dict[str, Any],
    voice: dict[str, Any],
    at: float,
) -> bool:
    """Write the job's emergency settings to one number at simulated time ``at`` and schedule
    its status; → whether the number changed."""
    update = work["update"]
    enabled, address = update["emergency_enabled"], update.get("emergency_address_id")
    if enabled:
        if (detailed["emergency_enabled"], detailed["emergency_address_id"]) == (
            True,
            address,
        ) and detailed["emergency_status"] == "active":
            return False
        moving, final = "provisioning", "active"
        if chance(work.get("provisioning_faults"), job_id, number_id):
            final = "provisioning-failed"
    else:
        if not detailed["emergency_enabled"] and detailed["emergency_status"] == "disabled":
            return False
        moving, final = "deprovisioning", "disabled"
    delay = float(work.get("provisioning_s", 0))
    set_emergency(detailed, voice, enabled, address, final if delay <= 0 else moving, iso(at))
    if delay <= 0:
        conn.execute("DELETE FROM telnyx_emergency_settling WHERE number_id = ?", (number_id,))
    else:
        conn.execute(
            "INSERT OR REPLACE INTO telnyx_emergency_settling VALUES (?, ?, ?)",
            (number_id, at + delay, final),
        )
    return True


def settle(store: SandboxStore) -> None:
    """Every number whose (de)provisioning is over takes its final ``emergency_status``."""
    now = store.clock.now()
    with store.lock:
        due = store.conn.execute(
            "SELECT count(*) FROM telnyx_emergency_settling WHERE due_at <= ?", (now,)
        ).fetchone()[0]
    if not due:
        return
    with store.transaction() as conn:
        rows = conn.execute(
            "SELECT s.number_id, s.due_at, s.final, n.detailed, n.voice "
            "FROM telnyx_emergency_settling s JOIN telnyx_numbers n ON n.id = s.number_id "
            "WHERE s.due_at <= ?",
            (now,),
        ).fetchall()
        writes = []
        for number_id, due_at, final, detailed_text, voice_text in rows:
            detailed, voice = json.loads(detailed_text), json.loads(voice_text)
            settle_emergency(detailed, voice, final, iso(due_at))
            writes.append((dumps(detailed), dumps(voice), number_id))
        conn.executemany("UPDATE telnyx_numbers SET detailed = ?, voice = ? WHERE id = ?", writes)
        conn.execute("DELETE FROM telnyx_emergency_settling WHERE due_at <= ?", (now,))


def _bad(pointer: str, detail: str) -> dict[str, Any]:
    return err("10015", "Bad Request", detail, pointer=pointer)
