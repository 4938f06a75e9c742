"""The Wavix routes: every request passes fault injection, due asynchronous changes, the key
check and the key's rate limit, then its handler; a ``WavixError`` becomes the carrier's error
response. Every ``Number`` sent goes through the ``wavix.sparse_items`` knob (``sparse``), and
every PATCH through the refusal knobs (``refusals``) before anything is applied."""

from __future__ import annotations

import math
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import requestlog
from ..faults import Fault, WriteFaults, pop_fault
from ..http import Endpoint, Resource, bearer_key, dumps, json_text_response, route
from ..store import SandboxStore
from . import pending, sparse
from .account import DOC_TYPES, KEYS
from .errors import (
    WavixError,
    forbidden,
    injected,
    invalid,
    not_allowed,
    not_found,
    routing_error,
    unauthorized,
)
from .knobs import value
from .ratelimit import RateLimiter
from .refusals import refusal
from .requests import (
    NumberBulkUpdate,
    NumberUpdate,
    check_trunks,
    fields,
    int_param,
    parse,
    path_id,
)
from .tables import DestinationIds, bodies, stats, write_changes

MOUNT = "/wavix"
DEFAULT_PER_PAGE, MAX_PER_PAGE = 25, 100

_DOC_TYPES_JSON = dumps(DOC_TYPES)

Handler = Endpoint


class WavixSimulator:
    """Request handling over the store. One instance per app; all state lives in SQLite."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.rate = RateLimiter(store)
        self.write_faults = WriteFaults()

    # ---- plumbing shared by every route
    def route(self, scope: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            entry = requestlog.start("wavix", request.method, request.url.path)
            try:
                response = await self._handle(request, scope, handler)
            except WavixError as err:
                response = err.response()
            requestlog.record(self.store, entry, response.status_code)
            return response

        return endpoint

    async def _handle(self, request: Request, scope: str, handler: Handler) -> Response:
        fault = pop_fault(self.store, "wavix.fail_next")
        if fault is not None:
            requestlog.note(fault=f"fail_next {fault.status}")
            raise injected(fault)
        pending.apply_due(self.store)
        self.rate.count(self._authorize(request, scope))
        drawn = None
        if scope == "write":
            drawn = self.write_faults.draw(value(self.store, "wavix.write_faults"))
        if drawn is not None:
            requestlog.note(fault=drawn.kind)
            if not drawn.after_commit:
                raise injected(Fault(drawn.status))
        response = await handler(request)
        if drawn is not None and response.status_code < 300:
            raise injected(Fault(drawn.status))  # done, but the answer never arrives
        return response

    def _authorize(self, request: Request, scope: str) -> str:
        """The request's key, once it is known to allow ``scope``."""
        key = bearer_key(request.headers.get("authorization"))
        level = KEYS.get(key) if key is not None else None
        if level is None and key is not None and key in value(self.store, "wavix.keys"):
            level = "write"
        if key is None or level is None:
            raise unauthorized()
        if scope == "write" and level != "write":
            raise forbidden()
        return key

    def _shaped(self, bodies: list[str]) -> list[str]:
        rules = sparse.rules(self.store)
        return [sparse.shape(rules, b) for b in bodies] if rules else bodies

    # ---- GET /v1/numbers
    async def list_numbers(self, request: Request) -> Response:
        q = request.query_params
        page = int_param(q, "page", 1)
        per_page = int_param(q, "per_page", DEFAULT_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            raise invalid("per_page")  # documented max 100; real behaviour unknown (doc)
        where: list[str] = []
        args: list[Any] = []
        if q.get("search"):
            digits = q["search"].lstrip("+")
            where.append("instr(number, ?) > 0")
            args.append(digits)
        if "label" in q:
            where.append("label = ?")
            args.append(q["label"])
        if "label_present" in q:
            flag = q["label_present"].lower()
            if flag not in ("true", "false"):
                raise invalid("label_present")
            where.append(
                "(label IS NOT NULL AND label != '')"
                if flag == "true"
                else "(label IS NULL OR label = '')"
            )
        if "city_id" in q:
            where.append("city_id = ?")
            args.append(int_param(q, "city_id", 0, minimum=0))
        conn = self.store.conn
        with self.store.lock:
            if where:
                clause = " WHERE " + " AND ".join(where)
                total = conn.execute(
                    f"SELECT COUNT(*) FROM wavix_numbers{clause}", args
                ).fetchone()[0]
                rows = conn.execute(
                    f"SELECT body FROM wavix_numbers{clause} ORDER BY id LIMIT ? OFFSET ?",
                    [*args, per_page, (page - 1) * per_page],
                ).fetchall()
            else:
                total, lo, hi = stats(conn)
                if total and total == hi - lo + 1:  # dense ids: a page is an id range
                    start = lo + (page - 1) * per_page
                    rows = conn.execute(
                        "SELECT body FROM wavix_numbers WHERE id >= ? AND id < ? ORDER BY id",
                        (start, start + per_page),
                    ).fetchall()
                else:
                    rows = conn.execute(
                        "SELECT body FROM wavix_numbers ORDER BY id LIMIT ? OFFSET ?",
                        (per_page, (page - 1) * per_page),
                    ).fetchall()
        pagination = {
            "current_page": page,
            "per_page": per_page,
            "total": total,
            "total_pages": math.ceil(total / per_page),
        }
        text = (
            '{"items":['
            + ",".join(self._shaped([r[0] for r in rows]))
            + '],"doc_types":'
            + _DOC_TYPES_JSON
            + ',"pagination":'
            + dumps(pagination)
            + "}"
        )
        return json_text_response(200, text)

    # ---- GET /v1/numbers/{id}
    async def get_number(self, request: Request) -> Response:
        number_id = path_id(request)
        with self.store.lock:
            row = self.store.conn.execute(
                "SELECT body FROM wavix_numbers WHERE id = ?", (number_id,)
            ).fetchone()
        if row is None:
            raise not_found()
        return json_text_response(200, self._shaped([row[0]])[0])

    # ---- PATCH /v1/numbers/{id}
    async def update_number(self, request: Request) -> Response:
        number_id = path_id(request)
        update = parse(NumberUpdate, await request.body(), optional=True)
        check_trunks(update.destinations)
        changes = fields(update)
        with self.store.transaction() as conn:
            found = bodies(conn, [number_id])
            if not found:
                raise not_found()
            refused = refusal(self.store, found, changes)
            if refused is not None:
                raise refused
            ids = DestinationIds(conn)
            body = write_changes(conn, {number_id: changes}, ids)[number_id]
            ids.save()
            pending.supersede(conn, number_id, changes)
        requestlog.note(ids=[str(number_id)])
        return json_text_response(200, self._shaped([body])[0])

    # ---- PATCH /v1/numbers (bulk)
    async def bulk_update(self, request: Request) -> Response:
        update = parse(NumberBulkUpdate, await request.body())
        check_trunks(update.destinations)
        ids_in = list(dict.fromkeys(update.ids))  # duplicates accepted, applied once
        if not ids_in:
            raise invalid("ids")
        limit = value(self.store, "wavix.max_ids")
        if limit is not None and len(ids_in) > limit:
            raise invalid("ids")
        changes = fields(update)
        delays = pending.async_delays(self.store)
        later = {k: v for k, v in changes.items() if delays.get(k, 0) > 0}
        sync = {k: v for k, v in changes.items() if k not in later}
        with self.store.transaction() as conn:
            found = bodies(conn, ids_in)
            if len(found) != len(ids_in):
                raise not_found()  # whole request refused, nothing applied
            refused = refusal(self.store, found, changes)
            if refused is not None:
                raise refused  # all or nothing: one refused number fails every id
            if sync:
                ids = DestinationIds(conn)
                found.update(write_changes(conn, dict.fromkeys(ids_in, sync), ids))
                ids.save()
            if later:
                now = self.store.clock.now()
                due = {f: now + delays[f] for f in later}
                pending.schedule(conn, ids_in, later, due)
        requestlog.note(ids=[str(i) for i in ids_in])
        text = '{"items":[' + ",".join(self._shaped([found[i] for i in ids_in])) + "]}"
        return json_text_response(200, text)


def make_app(store: SandboxStore) -> Starlette:
    sim = WavixSimulator(store)

    def resource(**methods: Handler) -> Resource:
        return Resource(methods, lambda: not_allowed().response())

    return Starlette(
        routes=[
            route(
                "/v1/numbers",
                resource(
                    GET=sim.route("read", sim.list_numbers),
                    PATCH=sim.route("write", sim.bulk_update),
                ),
            ),
            route(
                "/v1/numbers/{id}",
                resource(
                    GET=sim.route("read", sim.get_number),
                    PATCH=sim.route("write", sim.update_number),
                ),
            ),
        ],
        exception_handlers={HTTPException: routing_error},
    )
