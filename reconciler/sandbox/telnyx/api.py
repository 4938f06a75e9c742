"""The Telnyx routes: the two listings and one number's two views (read and PATCH), wired
with the jobs (update and emergency) and the messaging bulk-update orders behind the gate.
Mounted at ``MOUNT`` (the API's ``/v2`` base), so an official SDK pointed at
``http://127.0.0.1:PORT/telnyx/v2`` works unchanged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from .. import requestlog
from ..http import Endpoint, Resource, dumps, json_text_response, route
from ..store import SandboxStore
from . import churn, emergency, knobs, lifecycle, messaging
from .errors import (
    MESSAGING_UNAVAILABLE,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    ApiError,
    api_error,
    bad_parameter,
    bad_request,
    bad_sort,
    http_error,
)
from .gate import Gate
from .jobs import Jobs
from .number import iso, update_number
from .query import NUMBER_FILTERS, SORTS, VOICE_FILTERS, offset, page_meta, paging, where
from .requests import NUMBER_PATCH_FIELDS, VOICE_FIELDS, check_billing_group, read_body, validate

MOUNT = "/telnyx/v2"
UNAVAILABLE = "UNAVAILABLE"
"""What ``messaging_profile_id``/``_name`` read when the profile lookup failed (the SDK's
documented value; knob ``telnyx.messaging_profile_error = "unavailable"``)."""


class PhoneNumbers:
    """Handlers of ``/phone_numbers`` and ``/phone_numbers/{id}`` (and their ``/voice`` views)."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.conn = store.conn

    # ---- listings
    async def list_numbers(self, request: Request) -> Response:
        return self._listing(request, "detailed", NUMBER_FILTERS)

    async def list_voice(self, request: Request) -> Response:
        return self._listing(request, "voice", VOICE_FILTERS)

    def _listing(self, request: Request, column: str, filters: Mapping[str, Any]) -> Response:
        query = request.query_params
        number, size = paging(query)
        sort = query.get("sort")
        if sort is not None and sort not in SORTS:
            raise bad_sort()
        cond, args = where(query.multi_items(), filters)
        lookup = knobs.value(self.store, "telnyx.messaging_profile_error")
        lookup_failed = column == "detailed" and lookup is True
        unavailable = column == "detailed" and lookup == "unavailable"
        handle = query.get("handle_messaging_profile_error", "false")
        if column == "detailed" and handle not in ("true", "false"):
            raise bad_parameter("must be one of: true, false", "handle_messaging_profile_error")
        if lookup_failed and handle != "true":
            raise ApiError(503, [MESSAGING_UNAVAILABLE])
        if column == "voice" and (omitted := knobs.value(self.store, "telnyx.voice_listing_omits")):
            cond += (
                " AND id NOT IN (SELECT value FROM json_each(?))"
                " AND phone_number NOT IN (SELECT value FROM json_each(?))"
            )
            args += [dumps(omitted), dumps(omitted)]
        skip = offset(number, size)
        with self.store.lock:
            if cond == "1" and sort is None and churn.dense(self.store):
                total = self.conn.execute("SELECT max(ordinal) FROM telnyx_numbers").fetchone()[0]
                rows = self.conn.execute(
                    f"SELECT {column} FROM telnyx_numbers WHERE ordinal > ? AND ordinal <= ? "
                    "ORDER BY ordinal",
                    (skip, skip + size),
                ).fetchall()
            else:
                total = self.conn.execute(
                    f"SELECT count(*) FROM telnyx_numbers WHERE {cond}", args
                ).fetchone()[0]
                order = f"{SORTS[sort]}, ordinal" if sort else "ordinal"
                rows = self.conn.execute(
                    f"SELECT {column} FROM telnyx_numbers WHERE {cond} ORDER BY {order} "
                    "LIMIT ? OFFSET ?",
                    (*args, size, skip),
                ).fetchall()
        items = [r[0] for r in rows]
        errors = ""
        if lookup_failed:  # handle_messaging_profile_error=true: fields left out, errors added
            items = [dumps(_without_messaging(json.loads(item))) for item in items]
            errors = ',"errors":' + dumps([MESSAGING_UNAVAILABLE])
        elif unavailable:  # the SDK's reading: the string UNAVAILABLE where a profile is
            items = [_unavailable(item) for item in items]
        omit = knobs.value(self.store, "telnyx.omit_page_meta")
        meta = page_meta(number, size, total or 0, omit)
        if shifts := knobs.value(self.store, "telnyx.shift_listing"):
            churn.shift(self.store, shifts)
        return json_text_response(
            200, '{"data":[' + ",".join(items) + '],"meta":' + meta + errors + "}"
        )

    # ---- one number
    async def get_number(self, request: Request) -> Response:
        return json_text_response(200, '{"data":' + self._row(request, "detailed") + "}")

    async def get_voice(self, request: Request) -> Response:
        return json_text_response(200, '{"data":' + self._row(request, "voice") + "}")

    def _row(self, request: Request, column: str) -> str:
        with self.store.lock:
            row = self.conn.execute(
                f"SELECT {column} FROM telnyx_numbers WHERE id = ?", (request.path_params["id"],)
            ).fetchone()
        if row is None:
            raise ApiError(404, [NOT_FOUND])
        return str(row[0])

    async def patch_number(self, request: Request) -> Response:
        return await self._patch(request, NUMBER_PATCH_FIELDS, "detailed")

    async def patch_voice(self, request: Request) -> Response:
        return await self._patch(request, VOICE_FIELDS, "voice")

    async def _patch(self, request: Request, fields: Mapping[str, Any], column: str) -> Response:
        body = await read_body(request)
        if problems := validate(body, fields):
            raise ApiError(422, problems)
        if "billing_group_id" in body:
            check_billing_group(body["billing_group_id"], status=422)  # PATCH declares no 403
        changes = {k: v for k, v in body.items() if k != "address_id"}  # write-only
        if column == "voice":
            changes = {"voice": changes}
        semantics = knobs.semantics(self.store)
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT status, detailed, voice FROM telnyx_numbers WHERE id = ?",
                (request.path_params["id"],),
            ).fetchone()
            if row is None:
                raise ApiError(404, [NOT_FOUND])
            if row[0] != "active":
                raise bad_request(
                    f"The phone number cannot be updated while it is {row[0]}.", "/base"
                )
            detailed, voice = json.loads(row[1]), json.loads(row[2])
            update_number(detailed, voice, changes, iso(self.store.clock.now()), semantics)
            rendered = {"detailed": dumps(detailed), "voice": dumps(voice)}
            conn.execute(
                "UPDATE telnyx_numbers SET detailed = ?, voice = ? WHERE id = ?",
                (rendered["detailed"], rendered["voice"], request.path_params["id"]),
            )
        requestlog.note(ids=[request.path_params["id"]])
        return json_text_response(200, '{"data":' + rendered[column] + "}")


def _without_messaging(item: dict[str, Any]) -> dict[str, Any]:
    for name in ("messaging_profile_id", "messaging_profile_name"):
        item.pop(name, None)
    return item


def _unavailable(item: str) -> str:
    number = json.loads(item)
    if number.get("messaging_profile_id") is None:
        return item  # no profile: nothing to look up
    number.update(messaging_profile_id=UNAVAILABLE, messaging_profile_name=UNAVAILABLE)
    return dumps(number)


def make_app(store: SandboxStore) -> ASGIApp:
    numbers, jobs, orders = PhoneNumbers(store), Jobs(store), messaging.MessagingOrders(store)

    def advance() -> None:
        """Everything due on the clock, in causal order: jobs run (an emergency job schedules
        its numbers' status), then messaging orders settle, then emergency statuses."""
        lifecycle.advance(store)
        messaging.advance(store)
        emergency.settle(store)

    def resource(**methods: Endpoint) -> Resource:
        return Resource(methods, lambda: ApiError(405, [METHOD_NOT_ALLOWED]).response())

    routes = [
        route("/phone_numbers", resource(GET=numbers.list_numbers)),
        route("/phone_numbers/voice", resource(GET=numbers.list_voice)),
        route("/phone_numbers/jobs", resource(GET=jobs.list_jobs)),
        route("/phone_numbers/jobs/update_phone_numbers", resource(POST=jobs.create_job)),
        route(
            "/phone_numbers/jobs/update_emergency_settings",
            resource(POST=jobs.create_emergency_job),
        ),
        route("/phone_numbers/jobs/{id}", resource(GET=jobs.get_job)),
        route("/phone_numbers/{id}", resource(GET=numbers.get_number, PATCH=numbers.patch_number)),
        route(
            "/phone_numbers/{id}/voice",
            resource(GET=numbers.get_voice, PATCH=numbers.patch_voice),
        ),
        route("/messaging_numbers_bulk_updates", resource(POST=orders.create_order)),
        route("/messaging_numbers_bulk_updates/{order_id}", resource(GET=orders.get_order)),
    ]
    app = Starlette(
        routes=routes, exception_handlers={ApiError: api_error, HTTPException: http_error}
    )
    return Gate(app, store, advance)
