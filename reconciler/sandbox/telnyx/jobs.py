"""Telnyx's phone-number jobs (``/phone_numbers/jobs``): creating ``update_phone_numbers`` and
``update_emergency_settings`` jobs (one machinery, one cap; ``emergency`` checks the latter's
body), listing and reading them.

Their life on the clock (pending → in_progress → completed / failed / expired, applied in steps)
is ``lifecycle``'s. Knobs read here: ``telnyx.job_parameters`` (how the saved ``parameters`` are
normalised) and ``telnyx.job_read_lag`` (a new job answers 404 for a while); the jobs list accepts
``filter[status]`` only in the documented repeated ``filter[status][]`` form.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import requestlog
from ..http import dumps, json_response, json_text_response
from ..store import SandboxStore
from . import emergency, knobs
from .errors import NOT_FOUND, ApiError, bad_parameter, bad_request, bad_sort
from .lifecycle import hidden, new_work
from .number import iso
from .query import (
    FILTER_KEY,
    JOB_TARGET_FILTERS,
    offset,
    page_meta,
    paging,
    unsupported_filter,
    where,
)
from .requests import JOB_FIELDS, check_billing_group, leaves, read_body, validate

MAX_JOB_NUMBERS = 1000
MAX_ACTIVE_JOBS = 20
MAX_ACTIVE_EMERGENCY_JOBS = 500
"""With knob ``telnyx.emergency_job_cap_separate``: the cap of emergency jobs alone (the number in
the spec's 422 example for that operation; update jobs keep 20 of their own)."""
UPDATE_TYPE = "update_phone_numbers"
JOB_STATUSES = ("pending", "in_progress", "completed", "failed", "expired")
JOB_TYPES = ("update_emergency_settings", "delete_phone_numbers", "update_phone_numbers")
SDK_PARAMETERS = {"drop": ["voice.translated_number"], "sort_tags": True}
"""``telnyx.job_parameters = true``: the SDK's saved-parameters type has no
``voice.translated_number`` and says tags "may be normalized"."""


class Jobs:
    """The job routes' handlers."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.conn = store.conn

    async def list_jobs(self, request: Request) -> Response:
        query = request.query_params
        number, size = paging(query)
        sort = query.get("sort")
        if sort not in (None, "created_at"):
            raise bad_sort()
        wanted = _job_filters(query.multi_items())
        with self.store.lock:
            docs = [
                json.loads(r[0])
                for r in self.conn.execute(
                    "SELECT doc FROM telnyx_jobs ORDER BY seq " + ("ASC" if sort else "DESC")
                )
            ]
        docs = [d for d in docs if _job_matches(d, wanted)]
        omit = knobs.value(self.store, "telnyx.omit_page_meta")
        skip = offset(number, size)
        page = docs[skip : skip + size]
        return json_text_response(
            200,
            '{"data":' + dumps(page) + ',"meta":' + page_meta(number, size, len(docs), omit) + "}",
        )

    async def get_job(self, request: Request) -> Response:
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT seq, doc, work FROM telnyx_jobs WHERE id = ?", (request.path_params["id"],)
            ).fetchone()
            lagging = False
            if row is not None:
                work = json.loads(row[2])
                lagging = hidden(work, self.store.clock.now())
                if lagging:
                    conn.execute(
                        "UPDATE telnyx_jobs SET work = ? WHERE seq = ?", (dumps(work), row[0])
                    )
        if row is None or lagging:
            raise ApiError(404, [NOT_FOUND])
        return json_text_response(200, '{"data":' + row[1] + "}")

    async def create_job(self, request: Request) -> Response:
        body = await read_body(request)
        filter_query = [
            (k, v) for k, v in request.query_params.multi_items() if k.startswith("filter")
        ]
        given = _given(body, allow_none=bool(filter_query))
        update = {k: v for k, v in body.items() if k != "phone_numbers"}
        if problems := validate(update, JOB_FIELDS):
            raise ApiError(422, problems)
        if leaves(update) == 0:
            raise bad_request("You must provide at least 1 updateable field.", "/updateable_fields")
        if given and filter_query:
            raise bad_request("Specify either phone_numbers or filter, not both.", "/phone_numbers")
        if "billing_group_id" in update:
            check_billing_group(update["billing_group_id"])
        return self._create(UPDATE_TYPE, given, update, filter_query)

    async def create_emergency_job(self, request: Request) -> Response:
        """``POST /phone_numbers/jobs/update_emergency_settings``: the same checks on
        ``phone_numbers`` (no filter form: the operation declares none), then ``emergency``'s."""
        body = await read_body(request)
        given = _given(body, allow_none=False)
        update = emergency.checked({k: v for k, v in body.items() if k != "phone_numbers"})
        return self._create(emergency.JOB_TYPE, given, update, [])

    def _create(
        self,
        job_type: str,
        given: list[str],
        update: dict[str, Any],
        filter_query: list[tuple[str, str]],
    ) -> Response:
        with self.store.transaction() as conn:
            if given:
                targets = self._owned(conn, given)
            else:
                targets = self._matching(conn, filter_query)
            cap, counted = self._cap(job_type)
            active = conn.execute(
                "SELECT count(*) FROM telnyx_jobs WHERE due_at IS NOT NULL"
                + ("" if counted is None else " AND json_extract(doc, '$.type') = ?"),
                () if counted is None else (counted,),
            ).fetchone()[0]
            if active >= cap:
                raise bad_request(
                    f"You can have at most {cap} pending or in progress jobs", "/base"
                )
            doc = self._new_job(conn, job_type, given, targets, update)
        requestlog.note(ids=[i for i, _ in targets], job=doc["id"])
        return json_response(202, {"data": doc})

    def _cap(self, job_type: str) -> tuple[int, str | None]:
        """(the cap, the job type it counts; None: every type) for a new job of ``job_type``:
        one cap of 20 shared by every type unless knob ``telnyx.emergency_job_cap_separate``."""
        if not knobs.value(self.store, "telnyx.emergency_job_cap_separate"):
            return MAX_ACTIVE_JOBS, None
        if job_type == emergency.JOB_TYPE:
            return MAX_ACTIVE_EMERGENCY_JOBS, job_type
        return MAX_ACTIVE_JOBS, job_type

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
        self,
        conn: Any,
        job_type: str,
        given: list[str],
        targets: list[tuple[str, str]],
        update: dict[str, Any],
    ) -> dict[str, Any]:
        now = self.store.clock.now()
        work = new_work(self.store, job_type, update, len(targets), now)
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
            "type": job_type,
            "status": "pending",
            "phone_numbers": echoed,
            "pending_operations": [{"id": i, "phone_number": e} for i, e in targets],
            "successful_operations": [],
            "failed_operations": [],
            "parameters": self._saved(
                {**update, "phone_numbers": given or [i for i, _ in targets]}
            ),
            "created_at": iso(now),
            "updated_at": iso(now),
            "etc": iso(work["done_at"]),
        }
        conn.execute(
            "INSERT INTO telnyx_jobs (seq, id, status, due_at, doc, work) "
            "VALUES (?, ?, 'pending', ?, ?, ?)",
            (seq, job_id, work["start_at"], dumps(doc), dumps(work)),
        )
        return doc

    def _saved(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """The ``parameters`` a job keeps, normalised as knob ``telnyx.job_parameters`` says."""
        how = knobs.value(self.store, "telnyx.job_parameters")
        if how is True:
            how = SDK_PARAMETERS
        if not how:
            return parameters
        if how.get("empty"):
            return {}  # "Historical jobs with no saved arguments return an empty object."
        saved = json.loads(dumps(parameters))
        for path in how.get("drop", ()):
            _drop(saved, path.split("."))
        if how.get("sort_tags") and isinstance(saved.get("tags"), list):
            saved["tags"] = sorted(set(saved["tags"]))
        return saved


def _given(body: dict[str, Any], *, allow_none: bool) -> list[str]:
    """A job body's ``phone_numbers`` without duplicates, checked in the documented order
    (present unless ``allow_none`` (a filter), an array of strings, 1 to 1000 of them)."""
    given = body.get("phone_numbers")
    if given is None and not allow_none:
        raise bad_request("must be present", "/phone_numbers")
    if given is not None and not (
        isinstance(given, list) and all(isinstance(p, str) for p in given)
    ):
        raise bad_request("must be an array of strings", "/phone_numbers")
    given = list(dict.fromkeys(given or ()))
    if not given and not allow_none:
        raise bad_request("You must provide at least 1 phone number.", "/phone_numbers")
    if len(given) > MAX_JOB_NUMBERS:
        raise bad_request(f"{MAX_JOB_NUMBERS} numbers is the maximum allowed.", "/phone_numbers")
    return given


def _drop(doc: dict[str, Any], path: list[str]) -> None:
    """Remove ``path`` from ``doc``, and any object it leaves empty."""
    head, rest = path[0], path[1:]
    if rest and isinstance(doc.get(head), dict):
        _drop(doc[head], rest)
        if not doc[head]:
            del doc[head]
    elif not rest:
        doc.pop(head, None)


def _job_filters(query: list[tuple[str, str]]) -> dict[str, set[str]]:
    """The jobs list's ``filter[...]`` parameters → wanted values per filter. Statuses only as
    repeated ``filter[status][]`` (the SDK's docstring: "scalar and comma-separated status values
    are not accepted"); every value checked against its enum (422 otherwise)."""
    wanted: dict[str, set[str]] = {}
    for key, value in query:
        if not key.startswith("filter"):
            continue
        match = FILTER_KEY.fullmatch(key)
        name, sub = (match.group(1), match.group(2)) if match else ("", None)
        if name == "status":
            if sub != "":
                raise bad_parameter(
                    "Use repeated filter[status][] parameters; scalar and comma-separated status "
                    "values are not accepted.",
                    key,
                )
            if value not in JOB_STATUSES:
                raise bad_parameter("must be one of: " + ", ".join(JOB_STATUSES), key)
            wanted.setdefault(name, set()).add(value)
        elif name == "type" and sub is None:
            if value not in JOB_TYPES:
                raise bad_parameter("must be one of: " + ", ".join(JOB_TYPES), key)
            wanted.setdefault(name, set()).add(value)
        elif name == "phone_number" and sub in (None, ""):
            wanted.setdefault(name, set()).update(value.split(","))
        else:
            raise unsupported_filter(key)
    return wanted


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
