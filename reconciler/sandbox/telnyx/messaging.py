"""Telnyx's messaging-profile bulk updates (``/messaging_numbers_bulk_updates``): orders that
assign numbers to a messaging profile (or unassign them), and their life on the store's clock.

``POST`` takes ``messaging_profile_id`` (one of the account's profiles, or ``""`` to unassign),
``numbers`` (+E.164, never ids) and ``assign_only``, and answers **200** with the order:
``{record_type, order_id, success, pending, failed}``. There is no status field: the order is
done when ``pending`` is empty. ``GET /messaging_numbers_bulk_updates/{order_id}`` answers the same
shape.

An order's numbers stay ``pending`` for knob ``telnyx.messaging_order_pending_s`` (read at
creation; 0 settles them in the creating answer), then each moves to ``success`` (the number's
``messaging_profile_id``/``_name`` in ``GET /phone_numbers`` change at that moment) or to
``failed`` with no reason, as the carrier reports it: a number listed in knob
``telnyx.fail_numbers``, drawn under ``telnyx.messaging_number_faults`` (per order and number), not
``active``, or released since (``telnyx.shift_listing``). Settling is lazy, like jobs: the gate
calls ``advance`` before every request.

``assign_only: false`` ("changing other settings", which the carrier does not name) changes
nothing else here: the sandbox simulates no other messaging setting (docs/sandbox-telnyx.md).
Refusals use the messaging error body (``messaging_Errors``; code and title on every item).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import requestlog
from ..faults import chance
from ..http import dumps, json_response, json_text_response
from ..store import SandboxStore
from . import knobs
from .account import MESSAGING_PROFILES
from .errors import NOT_FOUND, ApiError, err
from .number import iso, set_messaging_profile
from .requests import E164, read_body

RECORD_TYPE = "messaging_numbers_bulk_update"
FIELDS = ("messaging_profile_id", "numbers", "assign_only")


class MessagingOrders:
    """The ``/messaging_numbers_bulk_updates`` handlers."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    async def create_order(self, request: Request) -> Response:
        body = await read_body(request)
        profile, numbers = _checked(body)
        now = self.store.clock.now()
        pending_s = float(knobs.value(self.store, "telnyx.messaging_order_pending_s"))
        with self.store.transaction() as conn:
            owned = dict(
                conn.execute(
                    "SELECT phone_number, id FROM telnyx_numbers "
                    "WHERE phone_number IN (SELECT value FROM json_each(?))",
                    (dumps(numbers),),
                ).fetchall()
            )
            if foreign := [n for n in numbers if n not in owned]:
                raise ApiError(422, [_not_owned(body["numbers"].index(n), n) for n in foreign])
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM telnyx_messaging_orders"
            ).fetchone()[0]
            order_id = str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox.invalid/telnyx/messaging_orders/{seq}")
            )
            doc = {
                "record_type": RECORD_TYPE,
                "order_id": order_id,
                "success": [],
                "pending": numbers,
                "failed": [],
            }
            work = {"profile": profile, "assign_only": body.get("assign_only", False)}
            due_at: float | None = now + pending_s
            if pending_s <= 0:
                _settle(self.store, conn, doc, work, iso(now))
                due_at = None
            conn.execute(
                "INSERT INTO telnyx_messaging_orders (seq, id, due_at, doc, work) "
                "VALUES (?, ?, ?, ?, ?)",
                (seq, order_id, due_at, dumps(doc), dumps(work)),
            )
        requestlog.note(ids=[owned[n] for n in numbers], job=order_id)  # ids, as for jobs
        return json_response(200, {"data": doc})

    async def get_order(self, request: Request) -> Response:
        with self.store.lock:
            row = self.store.conn.execute(
                "SELECT doc FROM telnyx_messaging_orders WHERE id = ?",
                (request.path_params["order_id"],),
            ).fetchone()
        if row is None:
            raise ApiError(404, [NOT_FOUND])
        return json_text_response(200, '{"data":' + row[0] + "}")


def advance(store: SandboxStore) -> None:
    """Settle every order whose pending time is over (called before each request)."""
    now = store.clock.now()
    with store.lock:
        due = store.conn.execute(
            "SELECT seq FROM telnyx_messaging_orders WHERE due_at IS NOT NULL AND due_at <= ? "
            "ORDER BY due_at, seq",
            (now,),
        ).fetchall()
    for (seq,) in due:
        with store.transaction() as conn:
            doc_text, work_text, due_at = conn.execute(
                "SELECT doc, work, due_at FROM telnyx_messaging_orders WHERE seq = ?", (seq,)
            ).fetchone()
            doc = json.loads(doc_text)
            _settle(store, conn, doc, json.loads(work_text), iso(due_at))
            conn.execute(
                "UPDATE telnyx_messaging_orders SET due_at = NULL, doc = ? WHERE seq = ?",
                (dumps(doc), seq),
            )


def _settle(
    store: SandboxStore, conn: Any, doc: dict[str, Any], work: dict[str, Any], stamp: str
) -> None:
    """Move every pending number of ``doc`` to ``success`` (assigned) or ``failed``."""
    fail = set(knobs.value(store, "telnyx.fail_numbers"))
    ratio = knobs.value(store, "telnyx.messaging_number_faults")
    rows = {
        r[1]: r
        for r in conn.execute(
            "SELECT id, phone_number, status, detailed FROM telnyx_numbers "
            "WHERE phone_number IN (SELECT value FROM json_each(?))",
            (dumps(doc["pending"]),),
        )
    }
    writes = []
    for e164 in doc["pending"]:
        row = rows.get(e164)
        if (
            row is None  # released since the order was taken
            or row[2] != "active"
            or e164 in fail
            or row[0] in fail
            or chance(ratio, doc["order_id"], e164)
        ):
            doc["failed"].append(e164)
            continue
        detailed = json.loads(row[3])
        set_messaging_profile(detailed, work["profile"], stamp)
        writes.append((dumps(detailed), row[0]))
        doc["success"].append(e164)
    doc["pending"] = []
    conn.executemany("UPDATE telnyx_numbers SET detailed = ? WHERE id = ?", writes)


def _checked(body: dict[str, Any]) -> tuple[str, list[str]]:
    """(profile id, numbers without duplicates) of a valid order body; else 422 listing every
    problem (unknown fields, types, numbers not in +E.164, an unknown profile)."""
    problems = [_bad(f"/{name}", "is not a permitted field") for name in body if name not in FIELDS]
    profile = body.get("messaging_profile_id")
    if "messaging_profile_id" not in body:
        problems.append(_bad("/messaging_profile_id", "must be present"))
    elif not isinstance(profile, str):
        problems.append(_bad("/messaging_profile_id", "must be a string"))
    elif profile and profile not in MESSAGING_PROFILES:
        problems.append(
            _bad(
                "/messaging_profile_id",
                "The messaging profile does not exist or is not part of your account.",
            )
        )
    if "assign_only" in body and not isinstance(body["assign_only"], bool):
        problems.append(_bad("/assign_only", "must be a boolean"))
    numbers = body.get("numbers")
    if "numbers" not in body:
        problems.append(_bad("/numbers", "must be present"))
    elif not isinstance(numbers, list):
        problems.append(_bad("/numbers", "must be an array of +E.164 phone numbers"))
    elif not numbers:
        problems.append(_bad("/numbers", "You must provide at least 1 phone number."))
    else:
        problems.extend(
            _bad(f"/numbers/{i}", "must be a phone number in +E.164 format")
            for i, n in enumerate(numbers)
            if not (isinstance(n, str) and E164.fullmatch(n))
        )
    if problems:
        raise ApiError(422, problems)
    assert isinstance(profile, str) and isinstance(numbers, list)
    return profile, list(dict.fromkeys(numbers))


def _bad(pointer: str, detail: str) -> dict[str, Any]:
    return err("10015", "Bad Request", detail, pointer=pointer)


def _not_owned(index: int, number: str) -> dict[str, Any]:
    return _bad(f"/numbers/{index}", f"The phone number {number} is not in your account.")
