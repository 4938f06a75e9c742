"""Telnyx's update jobs (``/phone_numbers/jobs``): creating, listing and reading them, and
their lifecycle.

Jobs advance lazily on the store's clock: before every request (``Gate``) each job whose next
transition is due is moved on (pending → in_progress → completed, or → expired with knob
``telnyx.expire_jobs``), and changes are written to the numbers only at completion. Knobs:
``telnyx.job_pending_s``, ``telnyx.job_run_s`` (how long each phase lasts) and
``telnyx.fail_numbers`` (numbers, by id or +E.164, that fail with ``NUMBER_FAILURE``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..http import dumps, json_response, json_text_response
from ..store import SandboxStore
from .errors import NOT_FOUND, NUMBER_FAILURE, ApiError, bad_request, bad_sort, err
from .number import iso, update_number
from .query import FILTER_KEY, JOB_TARGET_FILTERS, page_meta, paging, unsupported_filter, where
from .requests import JOB_FIELDS, check_billing_group, leaves, read_body, validate

MAX_JOB_NUMBERS = 1000
MAX_ACTIVE_JOBS = 20
DEFAULT_JOB_PENDING_S = 0.5
DEFAULT_JOB_RUN_S = 0.5


class Jobs:
    """The job routes' handlers, and ``advance``, which the gate calls before every request."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.conn = store.conn

    async def list_jobs(self, request: Request) -> Response:
        query = request.query_params
        number, size = paging(query)
        sort = query.get("sort")
        if sort not in (None, "created_at"):
            raise bad_sort()
        wanted: dict[str, set[str]] = {}
        for key, value in query.multi_items():
            if not key.startswith("filter"):
                continue
            match = FILTER_KEY.match(key)
            name = match.group(1) if match else ""
            if name not in ("type", "status", "phone_number"):
                raise unsupported_filter(key)
            wanted.setdefault(name, set()).update(value.split(","))
        with self.store.lock:
            docs = [
                json.loads(r[0])
                for r in self.conn.execute(
                    "SELECT doc FROM telnyx_jobs ORDER BY seq " + ("ASC" if sort else "DESC")
                )
            ]
        docs = [d for d in docs if _job_matches(d, wanted)]
        page = docs[(number - 1) * size : number * size]
        return json_text_response(
            200, '{"data":' + dumps(page) + ',"meta":' + page_meta(number, size, len(docs)) + "}"
        )

    async def get_job(self, request: Request) -> Response:
        with self.store.lock:
            row = self.conn.execute(
                "SELECT doc FROM telnyx_jobs WHERE id = ?", (request.path_params["id"],)
            ).fetchone()
        if row is None:
            raise ApiError(404, [NOT_FOUND])
        return json_text_response(200, '{"data":' + row[0] + "}")

    async def create_job(self, request: Request) -> Response:
        body = await read_body(request)
        filter_query = [
            (k, v) for k, v in request.query_params.multi_items() if k.startswith("filter")
        ]
        given = body.get("phone_numbers")
        if given is None and not filter_query:
            raise bad_request("must be present", "/phone_numbers")
        if given is not None and not (
            isinstance(given, list) and all(isinstance(p, str) for p in given)
        ):
            raise bad_request("must be an array of strings", "/phone_numbers")
        given = list(dict.fromkeys(given or ()))
        if not given and not filter_query:
            raise bad_request("You must provide at least 1 phone number.", "/phone_numbers")
        if len(given) > MAX_JOB_NUMBERS:
            raise bad_request(
                f"{MAX_JOB_NUMBERS} numbers is the maximum allowed.", "/phone_numbers"
            )
        update = {k: v for k, v in body.items() if k != "phone_numbers"}
        if problems := validate(update, JOB_FIELDS):
            raise ApiError(422, problems)
        if leaves(update) == 0:
            raise bad_request("You must provide at least 1 updateable field.", "/updateable_fields")
        if given and filter_query:
            raise bad_request("Specify either phone_numbers or filter, not both.", "/phone_numbers")
        if "billing_group_id" in update:
            check_billing_group(update["billing_group_id"])
        with self.store.transaction() as conn:
            if given:
                targets = self._owned(conn, given)
            else:
                targets = self._matching(conn, filter_query)
            active = conn.execute(
                "SELECT count(*) FROM telnyx_jobs WHERE due_at IS NOT NULL"
            ).fetchone()[0]
            if active >= MAX_ACTIVE_JOBS:
                raise bad_request(
                    f"You can have at most {MAX_ACTIVE_JOBS} pending or in progress jobs", "/base"
                )
            doc = self._new_job(conn, given, targets, update)
        return json_response(202, {"data": doc})

    def _owned(self, conn: Any, given: list[str]) -> list[tuple[str, str]]:
        kinds = {p.startswith("+") for p in given}
        if len(kinds) > 1:
            raise bad_request(
                "You must specify either all phone numbers in the e164 format or "
                "all as phone number ids",
                "/phone_numbers",
            )
        column = "phone_number" if kinds == {True} else "id"
        rows = conn.execute(
            f"SELECT {column}, id, phone_number FROM telnyx_numbers "
            f"WHERE {column} IN (SELECT value FROM json_each(?))",
            (dumps(given),),
        ).fetchall()
        found = {r[0]: (r[1], r[2]) for r in rows}
        if len(found) != len(given):
            raise bad_request("You must own every number in the bulk request", "/phone_numbers")
        return [found[p] for p in given]

    def _matching(self, conn: Any, filter_query: list[tuple[str, str]]) -> list[tuple[str, str]]:
        cond, args = where(filter_query, JOB_TARGET_FILTERS)
        rows = conn.execute(
            f"SELECT id, phone_number FROM telnyx_numbers WHERE {cond} ORDER BY ordinal LIMIT ?",
            (*args, MAX_JOB_NUMBERS),
        ).fetchall()
        if not rows:
            raise bad_request("No phone numbers match the given filter.", "/filter")
        return [(r[0], r[1]) for r in rows]

    def _new_job(
        self, conn: Any, given: list[str], targets: list[tuple[str, str]], update: dict[str, Any]
    ) -> dict[str, Any]:
        now = self.store.clock.now()
        pending_s = float(self.store.knob("telnyx.job_pending_s", DEFAULT_JOB_PENDING_S))
        run_s = float(self.store.knob("telnyx.job_run_s", DEFAULT_JOB_RUN_S))
        seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM telnyx_jobs").fetchone()[0]
        job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox.invalid/telnyx/jobs/{seq}"))
        if given:
            key = "phone_number" if given[0].startswith("+") else "id"
            echoed = [{key: p} for p in given]
        else:
            echoed = [{"id": i, "phone_number": e} for i, e in targets]
        doc = {
            "id": job_id,
            "record_type": "phone_numbers_job",
            "type": "update_phone_numbers",
            "status": "pending",
            "phone_numbers": echoed,
            "pending_operations": [{"id": i, "phone_number": e} for i, e in targets],
            "successful_operations": [],
            "failed_operations": [],
            "parameters": {**update, "phone_numbers": given or [i for i, _ in targets]},
            "created_at": iso(now),
            "updated_at": iso(now),
            "etc": iso(now + pending_s + run_s),
        }
        work = {"update": update, "start_at": now + pending_s, "done_at": now + pending_s + run_s}
        conn.execute(
            "INSERT INTO telnyx_jobs (seq, id, status, due_at, doc, work) "
            "VALUES (?, ?, 'pending', ?, ?, ?)",
            (seq, job_id, work["start_at"], dumps(doc), dumps(work)),
        )
        return doc

    def advance(self) -> None:
        """Move every job whose next transition is due (called before each request)."""
        now = self.store.clock.now()
        with self.store.lock:
            due = self.conn.execute(
                "SELECT seq FROM telnyx_jobs WHERE due_at IS NOT NULL "
                "AND due_at <= ? ORDER BY due_at, seq",
                (now,),
            ).fetchall()
        for (seq,) in due:
            with self.store.transaction() as conn:
                doc_text, work_text = conn.execute(
                    "SELECT doc, work FROM telnyx_jobs WHERE seq = ?", (seq,)
                ).fetchone()
                doc, work = json.loads(doc_text), json.loads(work_text)
                due_at = self._advance(conn, doc, work, now)
                conn.execute(
                    "UPDATE telnyx_jobs SET status = ?, due_at = ?, doc = ? WHERE seq = ?",
                    (doc["status"], due_at, dumps(doc), seq),
                )

    def _advance(self, conn: Any, doc: dict[str, Any], work: dict[str, Any], now: float) -> Any:
        if doc["status"] == "pending" and now >= work["start_at"]:
            doc["updated_at"] = iso(work["start_at"])
            if self.store.knob("telnyx.expire_jobs", False):
                doc["status"], doc["pending_operations"] = "expired", []
                return None
            doc["status"] = "in_progress"
        if doc["status"] == "in_progress" and now >= work["done_at"]:
            self._complete(conn, doc, work)
            return None
        return work["start_at"] if doc["status"] == "pending" else work["done_at"]

    def _complete(self, conn: Any, doc: dict[str, Any], work: dict[str, Any]) -> None:
        stamp = iso(work["done_at"])
        fail = set(self.store.knob("telnyx.fail_numbers", []) or [])
        ids = [op["id"] for op in doc["pending_operations"]]
        rows = conn.execute(
            "SELECT id, phone_number, status, detailed, voice FROM telnyx_numbers "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (dumps(ids),),
        )
        by_id = {r[0]: r for r in rows}
        writes = []
        for op in doc["pending_operations"]:
            id_, e164, status, detailed_text, voice_text = by_id[op["id"]]
            if id_ in fail or e164 in fail:
                doc["failed_operations"].append({**op, "errors": [NUMBER_FAILURE]})
            elif status != "active":
                doc["failed_operations"].append(
                    {
                        **op,
                        "errors": [
                            err(
                                "10015",
                                "Bad Request",
                                f"The phone number cannot be updated while it is {status}.",
                                pointer="/phone_numbers",
                            )
                        ],
                    }
                )
            else:
                detailed, voice = json.loads(detailed_text), json.loads(voice_text)
                update_number(detailed, voice, work["update"], stamp)
                writes.append((dumps(detailed), dumps(voice), id_))
                doc["successful_operations"].append(op)
        conn.executemany("UPDATE telnyx_numbers SET detailed = ?, voice = ? WHERE id = ?", writes)
        doc.update(status="completed", pending_operations=[], updated_at=stamp)


def _job_matches(doc: Mapping[str, Any], wanted: Mapping[str, set[str]]) -> bool:
    if "type" in wanted and doc["type"] not in wanted["type"]:
        return False
    if "status" in wanted and doc["status"] not in wanted["status"]:
        return False
    if "phone_number" in wanted:
        targets = {
            v
            for op in (
                doc["pending_operations"]
                + doc["successful_operations"]
                + doc["failed_operations"]
                + doc["phone_numbers"]
            )
            for v in (op.get("id"), op.get("phone_number"))
        }
        return bool(targets & wanted["phone_number"])
    return True
