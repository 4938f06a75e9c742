"""How a phone-number job (``update_phone_numbers`` or ``update_emergency_settings``) lives on the
store's clock: pending → in_progress → completed (or expired, or failed), applied in steps.

Jobs advance lazily: before every request (``Gate``) each job whose next transition is due moves
on, at the transition's scheduled time. A job's ``work`` (stored beside its document) holds the
update and its schedule, fixed at creation from the knobs:

* ``start_at``: the end of the pending time (``telnyx.job_pending_s``). ``telnyx.expire_jobs`` is
  read then: expired jobs apply nothing.
* ``steps`` (``telnyx.job_steps``, default 1): the run time (``telnyx.job_run_s``) is cut into
  that many equal slices; at the end of slice *j* the *j*-th share of the targets is written and
  moves from ``pending_operations`` to ``successful_operations`` or ``failed_operations``, so a
  client polling an ``in_progress`` job sees numbers already changed.
* ``fail`` (``telnyx.fail_jobs``): when the last step is due the job ends ``failed`` instead of
  running it; that step's numbers stay in ``pending_operations``, unchanged.
* ``semantics`` (``telnyx.voice_replace``, ``telnyx.blank_reference_as_null``): how the update
  changes each number.
* ``hidden_reads``, ``visible_at`` (``telnyx.job_read_lag``): how long ``GET`` answers 404.
* ``type``: an emergency job writes each number through ``emergency.apply`` (which schedules its
  ``emergency_status``) instead of ``update_number``, with the knobs ``emergency.new_work`` keeps.

Per number, knob ``telnyx.fail_numbers`` (read when its step runs) fails it with
``NUMBER_FAILURE``, and so does a draw under ``telnyx.job_number_faults`` (per job and number);
a number that is not ``active`` fails with 10015; a number released since the job was created
(``telnyx.shift_listing``) fails with 10005.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from ..faults import chance
from ..http import dumps
from ..store import SandboxStore
from . import emergency, knobs
from .errors import NUMBER_FAILURE, err
from .number import Semantics, iso, update_number

FINISHED = ("completed", "failed", "expired")


def new_work(
    store: SandboxStore, job_type: str, update: dict[str, Any], targets: int, now: float
) -> dict[str, Any]:
    """The schedule of a job of ``job_type`` created ``now`` with ``targets`` numbers, from the
    knobs."""
    pending_s = float(knobs.value(store, "telnyx.job_pending_s"))
    run_s = float(knobs.value(store, "telnyx.job_run_s"))
    lag = knobs.value(store, "telnyx.job_read_lag") or {}
    extra = emergency.new_work(store) if job_type == emergency.JOB_TYPE else {}
    return {
        **extra,
        "type": job_type,
        "update": update,
        "start_at": now + pending_s,
        "done_at": now + pending_s + run_s,
        "steps": int(knobs.value(store, "telnyx.job_steps")),
        "step": 0,
        "targets": targets,
        "fail": bool(knobs.value(store, "telnyx.fail_jobs")),
        "semantics": asdict(knobs.semantics(store)),
        "hidden_reads": int(lag.get("polls", 0)),
        "visible_at": now + float(lag.get("seconds", 0)),
    }


def hidden(work: dict[str, Any], now: float) -> bool:
    """Is the job still invisible to ``GET /phone_numbers/jobs/{id}`` (``telnyx.job_read_lag``)?
    Counts one read against the job's hidden reads (the caller stores ``work``)."""
    if work.get("hidden_reads", 0) > 0:
        work["hidden_reads"] -= 1
        return True
    return now < work.get("visible_at", now)


def advance(store: SandboxStore) -> None:
    """Move every job whose next transition is due (called before each request)."""
    now = store.clock.now()
    with store.lock:
        due = store.conn.execute(
            "SELECT seq FROM telnyx_jobs WHERE due_at IS NOT NULL AND due_at <= ? "
            "ORDER BY due_at, seq",
            (now,),
        ).fetchall()
    for (seq,) in due:
        with store.transaction() as conn:
            doc_text, work_text = conn.execute(
                "SELECT doc, work FROM telnyx_jobs WHERE seq = ?", (seq,)
            ).fetchone()
            doc, work = json.loads(doc_text), json.loads(work_text)
            due_at = _advance(store, conn, doc, work, now)
            conn.execute(
                "UPDATE telnyx_jobs SET status = ?, due_at = ?, doc = ?, work = ? WHERE seq = ?",
                (doc["status"], due_at, dumps(doc), dumps(work), seq),
            )


def _step_due(work: dict[str, Any], step: int) -> float:
    steps = work.get("steps", 1)
    if step >= steps:
        return float(work["done_at"])
    return float(work["start_at"] + (work["done_at"] - work["start_at"]) * step / steps)


def _advance(
    store: SandboxStore, conn: Any, doc: dict[str, Any], work: dict[str, Any], now: float
) -> float | None:
    """Run every transition of one job due by ``now``; → its next due time (None: finished)."""
    if doc["status"] == "pending":
        if now < work["start_at"]:
            return float(work["start_at"])
        doc["updated_at"] = iso(work["start_at"])
        if knobs.value(store, "telnyx.expire_jobs"):
            doc["status"], doc["pending_operations"] = "expired", []
            return None
        doc["status"] = "in_progress"
    steps = work.get("steps", 1)
    while work.get("step", 0) < steps:
        step = work.get("step", 0) + 1
        due = _step_due(work, step)
        if now < due:
            return due
        if step == steps and work.get("fail"):
            doc.update(status="failed", updated_at=iso(due))
            return None
        share = math.ceil(step * work["targets"] / steps) - math.ceil(
            (step - 1) * work["targets"] / steps
        )
        _run(store, conn, doc, work, doc["pending_operations"][:share], due)
        doc["pending_operations"] = doc["pending_operations"][share:]
        work["step"] = step
        doc["updated_at"] = iso(due)
    doc.update(status="completed", pending_operations=[])
    return None


def _run(
    store: SandboxStore,
    conn: Any,
    doc: dict[str, Any],
    work: dict[str, Any],
    ops: list[dict[str, Any]],
    at: float,
) -> None:
    """Apply the job's update to the numbers of ``ops`` at simulated time ``at``, recording each
    outcome in ``doc``."""
    stamp = iso(at)
    is_emergency = work.get("type") == emergency.JOB_TYPE
    refused = emergency.refusal(work["update"]) if is_emergency else None
    fail = set(knobs.value(store, "telnyx.fail_numbers"))
    ratio = knobs.value(store, "telnyx.job_number_faults")
    semantics = Semantics(**work.get("semantics", {}))
    rows = conn.execute(
        "SELECT id, phone_number, status, detailed, voice FROM telnyx_numbers "
        "WHERE id IN (SELECT value FROM json_each(?))",
        (dumps([op["id"] for op in ops]),),
    )
    by_id = {r[0]: r for r in rows}
    writes = []
    for op in ops:
        row = by_id.get(op["id"])
        if row is None:
            doc["failed_operations"].append({**op, "errors": [_gone()]})
            continue
        id_, e164, status, detailed_text, voice_text = row
        if id_ in fail or e164 in fail or chance(ratio, doc["id"], id_):
            doc["failed_operations"].append({**op, "errors": [NUMBER_FAILURE]})
        elif status != "active":
            doc["failed_operations"].append({**op, "errors": [_not_active(status)]})
        elif refused is not None:
            doc["failed_operations"].append({**op, "errors": [refused]})
        else:
            detailed, voice = json.loads(detailed_text), json.loads(voice_text)
            if is_emergency:
                if emergency.apply(conn, doc["id"], work, id_, detailed, voice, at):
                    writes.append((dumps(detailed), dumps(voice), id_))
            else:
                update_number(detailed, voice, work["update"], stamp, semantics)
                writes.append((dumps(detailed), dumps(voice), id_))
            doc["successful_operations"].append(op)
    conn.executemany("UPDATE telnyx_numbers SET detailed = ?, voice = ? WHERE id = ?", writes)


def _not_active(status: str) -> dict[str, Any]:
    detail = f"The phone number cannot be updated while it is {status}."
    return err("10015", "Bad Request", detail, pointer="/phone_numbers")


def _gone() -> dict[str, Any]:
    detail = "The phone number is no longer in your account."
    return err("10005", "Resource not found", detail, pointer="/phone_numbers")
