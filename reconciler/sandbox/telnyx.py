"""Telnyx v2 phone-number API simulator: the listings, per-number settings and update jobs.

Mounted at ``/telnyx/v2`` (the API's ``/v2`` base), so an official SDK pointed at
``http://127.0.0.1:PORT/telnyx/v2`` works unchanged. Behaviour follows ``shared/carriers/telnyx.md``
and the OpenAPI contract; every choice the carrier's documents leave open is listed in
``docs/sandbox-telnyx.md``.

Storage. One row per number holds both listing projections pre-rendered as compact JSON
(``detailed`` for ``GET /phone_numbers``, ``voice`` for ``GET /phone_numbers/voice``), so a page
body is a join of stored strings: nothing is decoded on the read path. ``ordinal`` is the rowid,
dense from 1 because numbers are never deleted, so an unfiltered page is a rowid range and the
total is ``max(ordinal)``. Filters and sorts scan with ``json_extract`` (fine for the seed, O(N)
at a million numbers). Writes (jobs, PATCH) decode one number, change it and re-render both
projections together, which keeps the summary flags of ``/phone_numbers`` in step with the voice
settings.

Time. Jobs advance lazily on the store's clock: at the start of every request each job whose next
transition is due is moved on (pending → in_progress → completed, or → expired), and changes are
written only at completion. Timestamps are ``SIM_EPOCH + clock.now()`` (simulated, not wall time).

Knobs (``store.set_knob``): ``telnyx.job_pending_s``, ``telnyx.job_run_s``, ``telnyx.fail_numbers``,
``telnyx.expire_jobs``, ``telnyx.rate_limit``, ``telnyx.fail_next``, ``telnyx.keys``.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .store import SandboxStore

MOUNT = "/telnyx/v2"
DEFAULT_KEY = "KEYsandbox_telnyx_0000"
"""The sandbox's full-access API key (fake; documented). Extra keys: knob ``telnyx.keys``."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS telnyx_numbers (
    ordinal INTEGER PRIMARY KEY,        -- dense 1..N: page n is a rowid range
    id TEXT NOT NULL UNIQUE,
    phone_number TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    detailed TEXT NOT NULL,             -- PhoneNumberDetailed, compact JSON
    voice TEXT NOT NULL                 -- PhoneNumberWithVoiceSettings, compact JSON
);
CREATE INDEX IF NOT EXISTS telnyx_numbers_status ON telnyx_numbers (status);
CREATE TABLE IF NOT EXISTS telnyx_jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    due_at REAL,                        -- next transition (NULL once finished)
    doc TEXT NOT NULL,                  -- PhoneNumbersJob, JSON
    work TEXT NOT NULL                  -- the update to apply and the schedule, JSON
);
CREATE INDEX IF NOT EXISTS telnyx_jobs_due ON telnyx_jobs (due_at) WHERE due_at IS NOT NULL;
"""
TABLES = ("telnyx_jobs", "telnyx_numbers")

SIM_EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp() - 1_000_000
"""Simulated time 1_000_000 (FakeClock's start) is 2026-01-01T00:00:00Z."""

PAGE_DEFAULT, PAGE_MAX = 20, 250
MAX_JOB_NUMBERS = 1000
MAX_ACTIVE_JOBS = 20
RATE_WINDOW_S = 60.0
DEFAULT_RATE_LIMIT = 10_000
DEFAULT_JOB_PENDING_S = 0.5
DEFAULT_JOB_RUN_S = 0.5

CONNECTIONS = {
    "1684641123236054244": "chicago-support-sip",
    "1684641123236054255": "denver-fax-t38",
    "1684641123236054266": "paloalto-sales-sip",
    "1684641123236054299": "chicago-legacy-pbx",
}
"""Connections of the sandbox account: id → ``connection_name``. Other ids are accepted
(``connection_name`` becomes null)."""

BILLING_GROUPS = {
    "6a09cdc3-8948-47f0-aa62-74ac943d6c58": "chicago-ops",
    "f5586561-8ff0-4291-a0ac-84fe544797bd": "denver-ops",
    "0c1c3a5e-2f4b-4f4e-9d55-3b1c1f6c2a77": "sales",
}
"""Billing groups of the sandbox account; a job naming another one gets 403 code 10010."""

_ERROR_URL = "https://developers.telnyx.com/docs/overview/errors/"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CNAM = re.compile(r"^[A-Za-z0-9 ]{1,15}$")
_FILTER_KEY = re.compile(r"^filter\[([^\]]+)\](?:\[([^\]]*)\])?$")


# --------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """An error response in Telnyx's ``{"errors": [...]}`` envelope."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0].get("detail", ""))
        self.status, self.errors = status, errors

    def response(self) -> Response:
        return _json(self.status, {"errors": self.errors})


def err(
    code: str,
    title: str,
    detail: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"code": code, "title": title, "detail": detail}
    if pointer is not None or parameter is not None:
        item["source"] = {
            k: v for k, v in (("pointer", pointer), ("parameter", parameter)) if v is not None
        }
    item["meta"] = {"url": _ERROR_URL + code}
    return item


def bad_request(detail: str, pointer: str, status: int = 422, code: str = "10015") -> ApiError:
    return ApiError(status, [err(code, "Bad Request", detail, pointer=pointer)])


_NOT_FOUND = err(
    "10005",
    "Resource not found",
    "The requested resource or URL could not be found.",
    pointer="/base",
)
_AUTH_FAILED = err(
    "10009", "Authentication failed", "Could not understand the provided credentials."
)
_TOO_MANY = err(
    "10011", "Too many requests", "You have exceeded the maximum number of allowed requests."
)
_FAULTS = {
    400: err("10015", "Bad Request", "The request could not be processed."),
    401: _AUTH_FAILED,
    403: err("10006", "Not authorized", "You are not authorized to access the requested resource."),
    404: _NOT_FOUND,
    422: err("10015", "Bad Request", "The request could not be processed."),
    429: _TOO_MANY,
}
_UNEXPECTED = err("10007", "Unexpected error", "An unexpected error occurred.")
NUMBER_FAILURE = err(
    "10007",
    "Unexpected error",
    "The phone number could not be updated. Please try again.",
    pointer="/phone_numbers",
)
"""The error a number listed in knob ``telnyx.fail_numbers`` gets in a job's failed_operations."""


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return _raw(status, _dumps(body), headers)


def _raw(status: int, text: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(text, status_code=status, media_type="application/json", headers=headers)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def iso(t: float) -> str:
    """Simulated clock seconds → ISO 8601 UTC with milliseconds, as Telnyx writes them."""
    moment = datetime.fromtimestamp(SIM_EPOCH + t, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------------------------
# Request bodies: what each write accepts (kind per field; a dict is a nested object)

_S, _B = "string", "boolean"
_FORWARDING = {
    "call_forwarding_enabled": _B,
    "forwarding_type": ("always", "on-failure"),
    "forwards_to": "forwards_to",
}
_RECORDING = {
    "inbound_call_recording_enabled": _B,
    "inbound_call_recording_channels": ("single", "dual"),
    "inbound_call_recording_format": ("wav", "mp3"),
}
_CNAM_LISTING = {"cnam_listing_enabled": _B, "cnam_listing_details": "cnam"}
_MEDIA = {
    "accept_any_rtp_packets_enabled": _B,
    "rtp_auto_adjust_enabled": _B,
    "t38_fax_gateway_enabled": _B,
}
VOICE_FIELDS: dict[str, Any] = {
    "call_forwarding": _FORWARDING,
    "call_recording": _RECORDING,
    "caller_id_name_enabled": _B,
    "cnam_listing": _CNAM_LISTING,
    "inbound_call_screening": ("disabled", "reject_calls", "flag_calls"),
    "media_features": _MEDIA,
    "tech_prefix_enabled": _B,
    "translated_number": _S,
    "usage_payment_method": ("pay-per-minute", "channel"),
}
JOB_FIELDS: dict[str, Any] = {
    "billing_group_id": _S,
    "connection_id": _S,
    "customer_reference": _S,
    "deletion_lock_enabled": _B,
    "external_pin": _S,
    "hd_voice_enabled": _B,
    "tags": "tags",
    "voice": VOICE_FIELDS,
}
NUMBER_PATCH_FIELDS: dict[str, Any] = {
    "address_id": _S,
    "billing_group_id": _S,
    "connection_id": _S,
    "customer_reference": _S,
    "external_pin": _S,
    "hd_voice_enabled": _B,
    "tags": "tags",
}


def validate(body: Mapping[str, Any], fields: Mapping[str, Any], at: str = "") -> list[dict]:
    """Every problem of ``body`` against ``fields``, as error items (empty when valid)."""
    problems: list[dict[str, Any]] = []
    for name, value in body.items():
        pointer = f"{at}/{name}"
        kind = fields.get(name)
        if kind is None:
            problems.append(
                err("10015", "Bad Request", "is not a permitted field", pointer=pointer)
            )
        elif isinstance(kind, dict):
            if isinstance(value, dict):
                problems.extend(validate(value, kind, pointer))
            else:
                problems.append(err("10015", "Bad Request", "must be an object", pointer=pointer))
        elif (msg := _check(kind, value)) is not None:
            code = "10016" if kind == "forwards_to" else "10015"
            title = "Invalid phone number" if code == "10016" else "Bad Request"
            problems.append(err(code, title, msg, pointer=pointer))
    return problems


def _check(kind: str | tuple[str, ...], value: Any) -> str | None:
    if isinstance(kind, tuple):
        return None if value in kind else "must be one of: " + ", ".join(kind)
    if kind == _B:
        return None if isinstance(value, bool) else "must be a boolean"
    if not isinstance(value, str) and kind != "tags":
        return "must be a string"
    if kind == "tags":
        ok = isinstance(value, list) and all(isinstance(t, str) and t for t in value)
        return None if ok else "must be an array of non-empty strings"
    if kind == "forwards_to" and value and not _E164.match(value):
        return "Phone number must be in +E.164 format"
    if kind == "cnam" and not _CNAM.match(value):
        return "must be alphanumeric characters or spaces with a maximum length of 15"
    return None


def _leaves(body: Mapping[str, Any]) -> int:
    return sum(_leaves(v) if isinstance(v, dict) else 1 for v in body.values())


# --------------------------------------------------------------------------------------------
# One number: both projections change together


def update_number(
    detailed: dict[str, Any], voice: dict[str, Any], changes: Mapping[str, Any], now: str
) -> None:
    """Apply a PATCH or job body: top-level scalars replace, ``tags`` replace the whole set,
    nested ``voice`` objects merge per subfield. Summary flags of ``detailed`` follow ``voice``."""
    for name in (
        "billing_group_id",
        "customer_reference",
        "external_pin",
        "hd_voice_enabled",
        "deletion_lock_enabled",
        "connection_id",
    ):
        if name in changes:
            detailed[name] = changes[name]
    if "tags" in changes:
        detailed["tags"] = list(dict.fromkeys(changes["tags"]))
    if "connection_id" in changes:
        detailed["connection_name"] = CONNECTIONS.get(changes["connection_id"])
    for name in ("connection_id", "customer_reference"):  # plain strings in the voice view
        if name in changes:
            if changes[name] is None:
                voice.pop(name, None)
            else:
                voice[name] = changes[name]
    for name, value in (changes.get("voice") or {}).items():
        if name == "caller_id_name_enabled":  # only /phone_numbers shows it
            detailed[name] = value
        elif isinstance(value, dict):
            voice.setdefault(name, {}).update(value)
        else:
            voice[name] = value
    _summarise(detailed, voice)
    detailed["updated_at"] = now


def _summarise(detailed: dict[str, Any], voice: Mapping[str, Any]) -> None:
    detailed["call_forwarding_enabled"] = voice["call_forwarding"].get(
        "call_forwarding_enabled", True
    )
    detailed["call_recording_enabled"] = voice["call_recording"].get(
        "inbound_call_recording_enabled", False
    )
    detailed["cnam_listing_enabled"] = voice["cnam_listing"].get("cnam_listing_enabled", False)
    detailed["t38_fax_gateway_enabled"] = voice["media_features"].get(
        "t38_fax_gateway_enabled", False
    )
    detailed["inbound_call_screening"] = voice.get("inbound_call_screening", "disabled")


# --------------------------------------------------------------------------------------------
# Listing filters: filter name → SQL condition builder (value, sub-key) → (sql, args)

Cond = tuple[str, list[Any]]


def _phone_digits(value: str, sub: str | None) -> Cond:
    digits = value.removeprefix("+")
    if not digits.isdigit():
        return "0", []  # "Non-numerical characters will result in no values being returned."
    if len(digits) < 3:
        raise ApiError(
            422,
            [
                err(
                    "10015",
                    "Bad Request",
                    "Requires at least three digits.",
                    parameter="filter[phone_number]",
                )
            ],
        )
    return "phone_number LIKE ?", [f"%{digits}%"]


def _field(column: str, path: str, nullable: bool = False) -> Callable[[str, str | None], Cond]:
    expr = f"json_extract({column}, '$.{path}')"

    def build(value: str, sub: str | None) -> Cond:
        if nullable and value == "null":
            return f"{expr} IS NULL", []
        return f"{expr} = ?", [value]

    return build


def _enum(sql: str, allowed: tuple[str, ...], name: str) -> Callable[[str, str | None], Cond]:
    def build(value: str, sub: str | None) -> Cond:
        if value not in allowed:
            raise ApiError(
                422,
                [
                    err(
                        "10015",
                        "Bad Request",
                        "must be one of: " + ", ".join(allowed),
                        parameter=f"filter[{name}]",
                    )
                ],
            )
        return sql, [value]

    return build


def _name_match(column_expr: str, ops: tuple[str, ...]) -> Callable[[str, str | None], Cond]:
    patterns = {"eq": "{}", "contains": "%{}%", "starts_with": "{}%", "ends_with": "%{}"}

    def build(value: str, sub: str | None) -> Cond:
        if sub not in ops:
            raise ApiError(
                422,
                [
                    err(
                        "10015",
                        "Bad Request",
                        "must be one of: " + ", ".join(ops),
                        parameter="filter[connection_name]",
                    )
                ],
            )
        op = "=" if sub == "eq" else "LIKE"
        return f"{column_expr} {op} ?", [patterns[sub].format(value)]

    return build


_STATUSES = (
    "purchase-pending",
    "purchase-failed",
    "port-pending",
    "active",
    "deleted",
    "port-failed",
    "emergency-only",
    "ported-out",
    "port-out-pending",
)
_USAGE = ("pay-per-minute", "channel")
_CONN_NAME = "json_extract(detailed, '$.connection_name')"

NUMBER_FILTERS: dict[str, Callable[[str, str | None], Cond]] = {
    "tag": lambda v, s: (
        "EXISTS (SELECT 1 FROM json_each(detailed, '$.tags') WHERE value = ?)",
        [v],
    ),
    "phone_number": _phone_digits,
    "status": _enum("status = ?", _STATUSES, "status"),
    "country_iso_alpha2": lambda v, s: (
        "json_extract(detailed, '$.country_iso_alpha2') IN (SELECT value FROM json_each(?))",
        [_dumps(v.split(","))],
    ),
    "connection_id": _field("detailed", "connection_id"),
    "customer_reference": _field("detailed", "customer_reference"),
    "billing_group_id": _field("detailed", "billing_group_id", nullable=True),
    "emergency_address_id": _field("detailed", "emergency_address_id", nullable=True),
    "voice.connection_name": _name_match(
        _CONN_NAME, ("eq", "contains", "starts_with", "ends_with")
    ),
    "voice.usage_payment_method": _enum(
        "json_extract(voice, '$.usage_payment_method') = ?", _USAGE, "voice.usage_payment_method"
    ),
    "number_type": lambda v, s: ("json_extract(detailed, '$.phone_number_type') = ?", [v]),
    "source": lambda v, s: (
        "json_extract(detailed, '$.source_type') = ?",
        ["port_request" if v == "ported" else "number_order"],
    ),
    "without_tags": lambda v, s: (
        ("json_array_length(detailed, '$.tags') = 0", []) if v == "true" else ("1", [])
    ),
    "has_bundle": lambda v, s: ("0", []) if v == "true" else ("1", []),  # no bundles here
}
VOICE_FILTERS = {
    "phone_number": _phone_digits,
    "connection_name": _name_match(_CONN_NAME, ("contains",)),
    "customer_reference": _field("detailed", "customer_reference"),
    "voice.usage_payment_method": NUMBER_FILTERS["voice.usage_payment_method"],
}
JOB_TARGET_FILTERS = {
    k: NUMBER_FILTERS[k]
    for k in (
        "has_bundle",
        "tag",
        "connection_id",
        "phone_number",
        "status",
        "voice.connection_name",
        "voice.usage_payment_method",
        "billing_group_id",
        "emergency_address_id",
        "customer_reference",
    )
}
SORTS = {
    "purchased_at": "json_extract(detailed, '$.purchased_at')",
    "phone_number": "phone_number",
    "connection_name": _CONN_NAME,
    "usage_payment_method": "json_extract(voice, '$.usage_payment_method')",
}


def where(query: Iterable[tuple[str, str]], filters: Mapping[str, Any]) -> Cond:
    """``filter[...]`` query parameters → one SQL condition (unknown filters are a 422)."""
    parts: list[str] = []
    args: list[Any] = []
    for key, value in query:
        if not key.startswith("filter"):
            continue
        match = _FILTER_KEY.match(key)
        build = filters.get(match.group(1)) if match else None
        if match is None or build is None:
            raise ApiError(
                422, [err("10015", "Bad Request", "is not a supported filter", parameter=key)]
            )
        sql, more = build(value, match.group(2))
        parts.append(sql)
        args.extend(more)
    return (" AND ".join(parts) or "1"), args


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """``page[number]``, ``page[size]`` → (number, size); 422 "Invalid pagination" otherwise."""
    out = {"number": 1, "size": PAGE_DEFAULT}
    for key, value in query.items():
        if not (key == "page" or key.startswith("page[")):
            continue
        name = key[5:-1] if key.endswith("]") else ""
        low, high = (1, PAGE_MAX) if name == "size" else (1, None)
        try:
            number = int(value)
        except ValueError:
            number = 0
        if name not in out or number < low or (high is not None and number > high):
            raise ApiError(
                422,
                [
                    err(
                        "10015",
                        "Invalid pagination",
                        "The provided 'page' parameter is invalid. It must be an object with 'size' "
                        "and/or 'number' with numeric values.",
                        pointer=f"page/{name or 'number'}",
                    )
                ],
            )
        out[name] = number
    return out["number"], out["size"]


def bad_sort() -> ApiError:
    detail = "The value provided for sorting is not valid. Check the value used and try again."
    return ApiError(422, [err("10015", "Invalid sorting value", detail, pointer="/sort")])


def _meta(number: int, size: int, total: int) -> str:
    return _dumps(
        {
            "page_number": number,
            "page_size": size,
            "total_pages": math.ceil(total / size),
            "total_results": total,
        }
    )


# --------------------------------------------------------------------------------------------
# The simulator


class TelnyxSim:
    """Request handlers over the store. ``make_app`` wraps them in routing and the gate."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.conn = store.conn
        self.windows: dict[str, list[float]] = {}  # key → [window start, requests]

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
        offset = (number - 1) * size
        with self.store.lock:
            if cond == "1" and sort is None:
                total = self.conn.execute("SELECT max(ordinal) FROM telnyx_numbers").fetchone()[0]
                rows = self.conn.execute(
                    f"SELECT {column} FROM telnyx_numbers WHERE ordinal > ? AND ordinal <= ? "
                    "ORDER BY ordinal",
                    (offset, offset + size),
                ).fetchall()
            else:
                total = self.conn.execute(
                    f"SELECT count(*) FROM telnyx_numbers WHERE {cond}", args
                ).fetchone()[0]
                order = f"{SORTS[sort]}, ordinal" if sort else "ordinal"
                rows = self.conn.execute(
                    f"SELECT {column} FROM telnyx_numbers WHERE {cond} ORDER BY {order} "
                    "LIMIT ? OFFSET ?",
                    (*args, size, offset),
                ).fetchall()
        body = '{"data":[' + ",".join(r[0] for r in rows) + '],"meta":'
        return _raw(200, body + _meta(number, size, total or 0) + "}")

    # ---- one number
    async def get_number(self, request: Request) -> Response:
        return _raw(200, '{"data":' + self._row(request, "detailed") + "}")

    async def get_voice(self, request: Request) -> Response:
        return _raw(200, '{"data":' + self._row(request, "voice") + "}")

    def _row(self, request: Request, column: str) -> str:
        with self.store.lock:
            row = self.conn.execute(
                f"SELECT {column} FROM telnyx_numbers WHERE id = ?", (request.path_params["id"],)
            ).fetchone()
        if row is None:
            raise ApiError(404, [_NOT_FOUND])
        return str(row[0])

    async def patch_number(self, request: Request) -> Response:
        return await self._patch(request, NUMBER_PATCH_FIELDS, "detailed")

    async def patch_voice(self, request: Request) -> Response:
        return await self._patch(request, VOICE_FIELDS, "voice")

    async def _patch(self, request: Request, fields: Mapping[str, Any], column: str) -> Response:
        body = await _body(request)
        if problems := validate(body, fields):
            raise ApiError(422, problems)
        if "billing_group_id" in body:
            _check_billing_group(body["billing_group_id"], status=422)  # PATCH declares no 403
        changes = {k: v for k, v in body.items() if k != "address_id"}  # write-only
        if column == "voice":
            changes = {"voice": changes}
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT status, detailed, voice FROM telnyx_numbers WHERE id = ?",
                (request.path_params["id"],),
            ).fetchone()
            if row is None:
                raise ApiError(404, [_NOT_FOUND])
            if row[0] != "active":
                raise bad_request(
                    f"The phone number cannot be updated while it is {row[0]}.", "/base"
                )
            detailed, voice = json.loads(row[1]), json.loads(row[2])
            update_number(detailed, voice, changes, iso(self.store.clock.now()))
            rendered = {"detailed": _dumps(detailed), "voice": _dumps(voice)}
            conn.execute(
                "UPDATE telnyx_numbers SET detailed = ?, voice = ? WHERE id = ?",
                (rendered["detailed"], rendered["voice"], request.path_params["id"]),
            )
        return _raw(200, '{"data":' + rendered[column] + "}")

    # ---- jobs
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
            match = _FILTER_KEY.match(key)
            name = match.group(1) if match else ""
            if name not in ("type", "status", "phone_number"):
                raise ApiError(
                    422, [err("10015", "Bad Request", "is not a supported filter", parameter=key)]
                )
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
        return _raw(
            200, '{"data":' + _dumps(page) + ',"meta":' + _meta(number, size, len(docs)) + "}"
        )

    async def get_job(self, request: Request) -> Response:
        with self.store.lock:
            row = self.conn.execute(
                "SELECT doc FROM telnyx_jobs WHERE id = ?", (request.path_params["id"],)
            ).fetchone()
        if row is None:
            raise ApiError(404, [_NOT_FOUND])
        return _raw(200, '{"data":' + row[0] + "}")

    async def create_job(self, request: Request) -> Response:
        body = await _body(request)
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
        if _leaves(update) == 0:
            raise bad_request("You must provide at least 1 updateable field.", "/updateable_fields")
        if given and filter_query:
            raise bad_request("Specify either phone_numbers or filter, not both.", "/phone_numbers")
        if "billing_group_id" in update:
            _check_billing_group(update["billing_group_id"])
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
        return _json(202, {"data": doc})

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
            (_dumps(given),),
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
            (seq, job_id, work["start_at"], _dumps(doc), _dumps(work)),
        )
        return doc

    def advance_jobs(self) -> None:
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
                    (doc["status"], due_at, _dumps(doc), seq),
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
            (_dumps(ids),),
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
                writes.append((_dumps(detailed), _dumps(voice), id_))
                doc["successful_operations"].append(op)
        conn.executemany("UPDATE telnyx_numbers SET detailed = ?, voice = ? WHERE id = ?", writes)
        doc.update(status="completed", pending_operations=[], updated_at=stamp)

    # ---- the gate: auth, rate limit, injected faults
    def authenticate(self, key: str | None) -> bool:
        return key is not None and (
            key == DEFAULT_KEY or key in (self.store.knob("telnyx.keys") or ())
        )

    def rate(self, key: str) -> tuple[dict[str, str], bool]:
        """Count one request for ``key`` → (rate-limit headers, over the limit?)."""
        limit = int(self.store.knob("telnyx.rate_limit", DEFAULT_RATE_LIMIT) or 0)
        if limit <= 0:
            return {}, False
        now = self.store.clock.now()
        window = self.windows.get(key)
        if window is None or now >= window[0] + RATE_WINDOW_S:
            window = self.windows[key] = [now, 0]
        window[1] += 1
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - int(window[1]))),
            "x-ratelimit-reset": str(max(1, math.ceil(window[0] + RATE_WINDOW_S - now))),
        }
        return headers, window[1] > limit

    def next_fault(self) -> tuple[int, bool] | None:
        """Pop knob ``telnyx.fail_next``: (status, processed?) for this request, if any."""
        queue = self.store.knob("telnyx.fail_next", None)
        if not queue:
            return None
        head, rest = queue[0], queue[1:]
        self.store.set_knob("telnyx.fail_next", rest or None)
        if isinstance(head, dict):
            return int(head["status"]), bool(head.get("processed", False))
        return int(head), False


def fault_response(status: int, headers: Mapping[str, str]) -> Response:
    return _json(status, {"errors": [_FAULTS.get(status, _UNEXPECTED)]}, headers)


def _check_billing_group(value: str, status: int = 403) -> None:
    if value not in BILLING_GROUPS:
        code, title = (
            ("10010", "Authorization Failed") if status == 403 else ("10015", "Bad Request")
        )
        raise ApiError(
            status,
            [
                err(
                    code,
                    title,
                    "The specified billing group either does not exist or is not part of your account",
                    pointer="/billing_group_id",
                )
            ],
        )


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


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise bad_request("The request body is not valid JSON.", "/base", status=400) from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "/base", status=400)
    return body


class Gate:
    """ASGI wrapper run before every route: advance due jobs, check the key, count the request
    against its rate window (headers on every authenticated response), inject faults."""

    def __init__(self, app: ASGIApp, sim: TelnyxSim) -> None:
        self.app, self.sim = app, sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.sim.advance_jobs()
        key = _bearer(scope)
        if key is None or not self.sim.authenticate(key):
            await _json(401, {"errors": [_AUTH_FAILED]})(scope, receive, send)
            return
        headers, limited = self.sim.rate(key)
        if limited:
            await fault_response(429, headers)(scope, receive, send)
            return
        fault = self.sim.next_fault()
        if fault is not None and not fault[1]:
            await fault_response(fault[0], headers)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        *((k.encode(), v.encode()) for k, v in headers.items()),
                    ],
                }
            await send(message)

        if fault is None:
            await self.app(scope, receive, send_with_headers)
            return

        async def swallow(message: Message) -> None:  # processed, then the response is lost
            return None

        await self.app(scope, receive, swallow)
        await fault_response(fault[0], headers)(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return (token.strip() or None) if scheme.lower() == "bearer" else None
    return None


def make_app(store: SandboxStore) -> ASGIApp:
    sim = TelnyxSim(store)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return ApiError(404, [_NOT_FOUND]).response()
        return _json(
            exc.status_code,
            {"errors": [err("10015", "Bad Request", str(exc.detail), pointer="/base")]},
        )

    routes = [
        Route("/phone_numbers", sim.list_numbers, methods=["GET"]),
        Route("/phone_numbers/voice", sim.list_voice, methods=["GET"]),
        Route("/phone_numbers/jobs", sim.list_jobs, methods=["GET"]),
        Route("/phone_numbers/jobs/update_phone_numbers", sim.create_job, methods=["POST"]),
        Route("/phone_numbers/jobs/{id}", sim.get_job, methods=["GET"]),
        Route("/phone_numbers/{id}", sim.get_number, methods=["GET"]),
        Route("/phone_numbers/{id}", sim.patch_number, methods=["PATCH"]),
        Route("/phone_numbers/{id}/voice", sim.get_voice, methods=["GET"]),
        Route("/phone_numbers/{id}/voice", sim.patch_voice, methods=["PATCH"]),
    ]
    app = Starlette(
        routes=routes, exception_handlers={ApiError: api_error, HTTPException: http_error}
    )
    return Gate(app, sim)


# --------------------------------------------------------------------------------------------
# Seed: the documented account (docs/sandbox-telnyx.md), matching examples/desired-state

SEED_CREATED = datetime(2025, 6, 2, 15, 0, tzinfo=UTC).timestamp()
"""Numbers are listed newest first; ordinal n was created ``n`` seconds before this."""

CHI_CONNECTION, DEN_CONNECTION = "1684641123236054244", "1684641123236054255"
PA_CONNECTION, CHI_LEGACY = "1684641123236054266", "1684641123236054299"
CHI_BILLING, DEN_BILLING, SALES_BILLING = BILLING_GROUPS


def number_id(ordinal: int) -> str:
    """Deterministic 19-digit numeric id."""
    return str(1_293_384_261_075_700_000 + ordinal * 7_919)


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def new_number(ordinal: int, e164: str, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(detailed, voice) of a number with Telnyx's defaults; ``fields`` as in a job body, plus
    read-only ones (``status``, ``source_type``, ``emergency_address_id``, ``messaging_*``)."""
    created = SEED_CREATED - ordinal
    status = fields.pop("status", "active")
    voice_fields = fields.pop("voice", {})
    emergency_address = fields.pop("emergency_address_id", None)
    detailed: dict[str, Any] = {
        "id": number_id(ordinal),
        "record_type": "phone_number",
        "phone_number": e164,
        "status": status,
        "tags": [],
        "external_pin": None,
        "connection_id": None,
        "connection_name": None,
        "customer_reference": None,
        "billing_group_id": None,
        "messaging_profile_id": None,
        "messaging_profile_name": None,
        "emergency_address_id": emergency_address,
        "emergency_enabled": bool(emergency_address),
        "emergency_status": "active" if emergency_address else "disabled",
        "call_forwarding_enabled": True,
        "call_recording_enabled": False,
        "cnam_listing_enabled": False,
        "caller_id_name_enabled": False,
        "t38_fax_gateway_enabled": False,
        "hd_voice_enabled": False,
        "inbound_call_screening": "disabled",
        "deletion_lock_enabled": False,
        "phone_number_type": "local",
        "source_type": fields.pop("source_type", "number_order"),
        "country_iso_alpha2": "US",
        "created_at": _stamp(created),
        "purchased_at": _stamp(created),
        "updated_at": _stamp(created + 86_400),
        "activated_at": _stamp(created + 90) if status == "active" else None,
    }
    voice: dict[str, Any] = {
        "id": detailed["id"],
        "record_type": "voice_settings",
        "phone_number": e164,
        "call_forwarding": {"call_forwarding_enabled": True, "forwards_to": ""},
        "call_recording": {
            "inbound_call_recording_enabled": False,
            "inbound_call_recording_channels": "single",
            "inbound_call_recording_format": "wav",
        },
        "cnam_listing": {"cnam_listing_enabled": False},
        "emergency": {
            "emergency_enabled": detailed["emergency_enabled"],
            "emergency_status": detailed["emergency_status"],
        },
        "inbound_call_screening": "disabled",
        "media_features": {
            "accept_any_rtp_packets_enabled": False,
            "rtp_auto_adjust_enabled": True,
            "t38_fax_gateway_enabled": False,
        },
        "tech_prefix_enabled": False,
        "translated_number": "",
        "usage_payment_method": "pay-per-minute",
    }
    if emergency_address:
        voice["emergency"]["emergency_address_id"] = emergency_address
    for name in ("messaging_profile_id", "messaging_profile_name"):
        detailed[name] = fields.pop(name, None)
    update_number(detailed, voice, {**fields, "voice": voice_fields}, detailed["updated_at"])
    return detailed, voice


CHICAGO_SUPPORT: dict[str, Any] = {
    "tags": ["support", "chicago"],
    "connection_id": CHI_CONNECTION,
    "customer_reference": "support-chi",
    "billing_group_id": CHI_BILLING,
    "hd_voice_enabled": True,
    "emergency_address_id": "1315261609962112019",
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
    # +1312736720N → how it differs from profile chicago-support (+ the 7200 override)
    0: {
        "tags": ["support", "chicago", "vip"],  # in sync: the override
        "voice": {"cnam_listing": {"cnam_listing_details": "ACME Help Line"}},
    },
    3: {"tags": ["support"]},
    6: {"tags": ["support", "chicago", "legacy"]},
    9: {"voice": {"call_forwarding": {"forwards_to": "+13125550199"}}},
    12: {"voice": {"call_recording": {"inbound_call_recording_enabled": False}}},
    15: {"voice": {"cnam_listing": {"cnam_listing_details": "ACME Sales"}}},
    18: {"hd_voice_enabled": False},
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
        "messaging_profile_id": "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b10",
        "messaging_profile_name": "sales-sms",
    },
    {
        "tags": ["sales", "west"],
        "connection_id": PA_CONNECTION,
        "customer_reference": "sales-pa",
        "billing_group_id": SALES_BILLING,
        "external_pin": "4417",
        "voice": {"call_forwarding": {"forwarding_type": "always", "forwards_to": "+16505550199"}},
    },
    {"tags": [], "voice": {"translated_number": "+16505550100"}},
    {"tags": ["sales"], "connection_id": PA_CONNECTION, "voice": {"tech_prefix_enabled": True}},
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
    rows = []
    for ordinal, (e164, fields) in enumerate(seed_numbers(), start=1):
        detailed, voice = new_number(ordinal, e164, **fields)
        rows.append(
            (ordinal, detailed["id"], e164, detailed["status"], _dumps(detailed), _dumps(voice))
        )
    with store.transaction() as conn:
        conn.executemany("INSERT INTO telnyx_numbers VALUES (?, ?, ?, ?, ?, ?)", rows)


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

        def rows() -> Iterator[tuple[Any, ...]]:
            for i in range(count):
                ordinal = first + i
                status, detailed, voice = templates[
                    1 if drift_every and i % drift_every == drift_every - 1 else 0
                ]
                created = SEED_CREATED - ordinal
                values = {
                    "id": number_id(ordinal),
                    "e164": f"+{prefix}{first_line + i:07d}",
                    "created": _stamp(created),
                    "updated": _stamp(created + 86_400),
                    "activated": _stamp(created + 90),
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
            conn.executemany("INSERT INTO telnyx_numbers VALUES (?, ?, ?, ?, ?, ?)", rows())
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
        text = _dumps(doc).replace("%", "%%")
        for name in ("id", "e164", "created", "updated", "activated"):
            text = text.replace(f"@@{name}@@", f"%({name})s")
        out.append(text)
    return detailed["status"], out[0], out[1]
