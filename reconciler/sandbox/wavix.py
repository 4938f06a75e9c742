"""The Wavix simulator: ``/v1/numbers`` as the official OpenAPI document describes it.

Facts come from ../shared/carriers/wavix.md and ../shared/specs/wavix-numbers.openapi.json; every
response validates against that spec. Where the carrier's docs are silent the choice made here is
listed in docs/sandbox-wavix.md (max ``per_page``, duplicate ids, async delay, ...).

Routes, relative to ``MOUNT``::

    GET   /v1/numbers          page, per_page (1..100), search, label, label_present, city_id
    GET   /v1/numbers/{id}
    PATCH /v1/numbers/{id}     applied synchronously, every field
    PATCH /v1/numbers          bulk: {"ids": [...], fields...}; all ids must exist (else 404,
                               nothing applied); destinations and sms_relay_url are applied
                               ``wavix.async_delay_s`` seconds of store-clock time later

Storage: one row per number holding the whole response ``Number`` as JSON text, so a page is
served by concatenating stored strings (no per-row decoding); ids are dense integers from
``FIRST_ID``, so an unfiltered page is an id range. Pending asynchronous changes sit in
``wavix_pending`` and are applied lazily at the start of every request.

Knobs (``store.set_knob``): ``wavix.async_delay_s`` (default 1.0; 0 applies at once),
``wavix.fail_next`` (a list of HTTP statuses, or ``{"status": s, "retry_after": secs}``; each
request pops one and fails with it before anything else happens), ``wavix.max_ids`` (bulk ids
limit; unset = none, as documented).
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .store import SandboxStore

MOUNT = "/wavix"
DEFAULT_KEY = "wvx_sandbox_full_0000"
"""Full-access sandbox key (``scopes_enabled: false`` on the real platform)."""
READONLY_KEY = "wvx_sandbox_read_0000"
"""Sandbox key with ``numbers: read`` only: GETs work, PATCH gets 403."""
KEYS: dict[str, str] = {DEFAULT_KEY: "write", READONLY_KEY: "read"}

FIRST_ID = 400001
DEFAULT_PER_PAGE, MAX_PER_PAGE = 25, 100
DEFAULT_ASYNC_DELAY_S = 1.0
INT32_MAX = 2**31 - 1
FIRST_DESTINATION_ID = 7_000_001

TRUNKS: dict[int, str] = {3107: "Detroit PBX trunk", 3108: "NYC sales trunk"}
"""SIP trunks of the sandbox account: ``trunk_id`` → ``trunk_label`` (transport 5 needs one)."""

DOC_TYPES = [
    {"id": 1, "name": "id", "title": "Proof of identity"},
    {"id": 2, "name": "address", "title": "Proof of address"},
    {"id": 3, "name": "localaddress", "title": "Proof of local address"},
]
_DOC_TYPES_JSON = json.dumps(DOC_TYPES, separators=(",", ":"))

ASYNC_FIELDS = ("destinations", "sms_relay_url")
"""Request fields the bulk PATCH applies later (the docs: "applied asynchronously")."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS wavix_numbers (
    id      INTEGER PRIMARY KEY,
    number  TEXT NOT NULL UNIQUE,
    label   TEXT,
    city_id INTEGER,
    body    TEXT NOT NULL          -- the response Number object, JSON
);
CREATE INDEX IF NOT EXISTS wavix_numbers_label ON wavix_numbers (label);
CREATE TABLE IF NOT EXISTS wavix_pending (
    number_id INTEGER NOT NULL,
    field     TEXT NOT NULL,       -- request name: destinations | sms_relay_url
    value     TEXT NOT NULL,       -- request value, JSON
    due       REAL NOT NULL,       -- store.clock time at which it applies
    PRIMARY KEY (number_id, field)
);
CREATE INDEX IF NOT EXISTS wavix_pending_due ON wavix_pending (due);
CREATE TABLE IF NOT EXISTS wavix_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
TABLES = ["wavix_numbers", "wavix_pending", "wavix_counters"]

_J: dict[str, Any] = {"separators": (",", ":")}


# --------------------------------------------------------------------------------------------
# Errors in the carrier's shapes (spec components)


class WavixError(Exception):
    """Raised inside a handler; becomes the carrier's error response."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("message", ""))
        self.status, self.body, self.headers = status, body, headers or {}


def _invalid(param: str) -> WavixError:
    return WavixError(400, {"success": False, "message": f"Missing or invalid parameter {param}"})


def _unauthorized() -> WavixError:
    return WavixError(401, {"success": False, "error": True, "message": "Unauthorized"})


def _not_found() -> WavixError:
    return WavixError(404, {"success": False, "message": "Record not found"})


FAULT_MESSAGES = {
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}


# --------------------------------------------------------------------------------------------
# Request bodies (strict: the spec's additionalProperties false and types)


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValueError("not an absolute http(s) URL")
    return value


def _transport(value: int) -> int:
    if value not in (1, 4, 5):
        raise ValueError("transport must be 1, 4 or 5")
    return value


Int32 = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
Url = Annotated[StrictStr, AfterValidator(_url)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DestinationIn(_Body):
    destination: StrictStr = Field(min_length=1)
    priority: Int32
    transport: Annotated[StrictInt, AfterValidator(_transport)]
    trunk_id: Int32 | None = None


class NumberUpdate(_Body):
    """``NumberUpdateRequest``; explicit nulls are rejected before validation (see ``_parse``)."""

    sms_enabled: StrictBool | None = None
    destinations: list[DestinationIn] | None = None
    sms_relay_url: Url | None = None
    call_recording_enabled: StrictBool | None = None
    transcription_enabled: StrictBool | None = None
    transcription_threshold: Int32 | None = None
    call_status_url: Url | None = None


class NumberBulkUpdate(NumberUpdate):
    ids: list[Annotated[StrictInt, Field(ge=1, le=INT32_MAX)]]


def _parse(model: type[_Body], raw: bytes, *, optional: bool = False) -> Any:
    if not raw.strip() and optional:
        return model()
    try:
        data = json.loads(raw)
    except ValueError:
        raise _invalid("body") from None
    if not isinstance(data, dict):
        raise _invalid("body")
    for key, value in data.items():
        if value is None and key in model.model_fields:
            raise _invalid(key)  # the spec types every field non-nullable
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(".".join(str(p) for p in exc.errors()[0]["loc"])) from None


def _check_trunks(destinations: list[DestinationIn] | None) -> None:
    for i, d in enumerate(destinations or ()):
        if d.transport == 5 and d.trunk_id not in TRUNKS:
            raise _invalid(f"destinations.{i}.trunk_id")
        if d.transport != 5 and d.trunk_id is not None:
            raise _invalid(f"destinations.{i}.trunk_id")


# --------------------------------------------------------------------------------------------
# Number objects


def make_number(
    id: int,
    number: str,
    *,
    city: str = "DETROIT, MI",
    state: str | None = "MI",
    country: str = "United States",
    country_short_name: str = "US",
    destination: list[dict[str, Any]] | None = None,
    channels: int = 24,
    require_docs: list[str] | None = None,
    documents: list[dict[str, Any]] | None = None,
    label: str | None = None,
    status: str = "active",
    seconds: int = 0,
    added: str = "2024-01-15T09:30:00.000Z",
    paid_until: str = "2026-08-15",
    monthly_fee: str = "1.49",
    activation_fee: str = "0.00",
    per_min: str = "0.0060",
    sms_enabled: bool = False,
    sms_relay_url: str | None = None,
    cnam: bool | None = False,
    call_recording_enabled: bool = False,
    transcription_enabled: bool = False,
    transcription_threshold: int = 30,
    call_status_url: str | None = None,
) -> dict[str, Any]:
    """A complete response ``Number`` (spec schema). ``destination`` items need ``id``s set by
    the caller (``_response_destinations`` does it)."""
    return {
        "id": id,
        "number": number,
        "activation_fee": activation_fee,
        "monthly_fee": monthly_fee,
        "per_min": per_min,
        "city": city,
        "state": state,
        "country": country,
        "country_short_name": country_short_name,
        "destination": destination or [],
        "channels": channels,
        "require_docs": require_docs or [],
        "documents": documents or [],
        "domestic_cli": country_short_name in ("US", "CA"),
        "free_min": 0,
        "unlimited": False,
        "label": label,
        "status": status,
        "seconds": str(seconds),
        "added": added,
        "paid_until": paid_until,
        "sms_enabled": sms_enabled,
        "sms_relay_url": sms_relay_url,
        "cnam": cnam,
        "call_recording_enabled": call_recording_enabled,
        "transcription_enabled": transcription_enabled,
        "transcription_threshold": transcription_threshold,
        "call_status_url": call_status_url,
    }


def _response_destinations(
    new: Iterable[Mapping[str, Any]], old: list[dict[str, Any]], next_id: Callable[[], int]
) -> list[dict[str, Any]]:
    """Request destinations → response items; a destination that already existed keeps its id."""
    known = {(d["destination"], d["transport"], d.get("trunk_id")): d["id"] for d in old}
    out = []
    for d in new:
        trunk_id = d.get("trunk_id") if d["transport"] == 5 else None
        key = (d["destination"], d["transport"], trunk_id)
        out.append(
            {
                "id": known.pop(key) if key in known else next_id(),
                "destination": d["destination"],
                "priority": d["priority"],
                "transport": d["transport"],
                "trunk_id": trunk_id,
                "trunk_label": TRUNKS.get(trunk_id) if trunk_id is not None else None,
                "srtp": False,
            }
        )
    return out


class _Ids:
    """Allocates destination ids from ``wavix_counters`` (call inside a transaction)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        row = conn.execute(
            "SELECT value FROM wavix_counters WHERE name = 'destination_id'"
        ).fetchone()
        self.next = row[0] if row else FIRST_DESTINATION_ID
        self.start = self.next

    def __call__(self) -> int:
        self.next += 1
        return self.next - 1

    def take(self, n: int) -> int:
        first, self.next = self.next, self.next + n
        return first

    def save(self) -> None:
        if self.next != self.start:
            self.conn.execute(
                "INSERT OR REPLACE INTO wavix_counters (name, value) VALUES ('destination_id', ?)",
                (self.next,),
            )


# --------------------------------------------------------------------------------------------
# Loading numbers (seed, benchmarks)

Row = tuple[int, str, str | None, int | None, str]
"""(id, number, label, city_id, body JSON) of ``wavix_numbers``."""


def _row(number: Mapping[str, Any], city_id: int | None) -> Row:
    return (number["id"], number["number"], number.get("label"), city_id, json.dumps(number, **_J))


def _insert_rows(store: SandboxStore, rows: Iterable[Row]) -> int:
    with store.transaction() as conn:
        cur = conn.executemany(
            "INSERT INTO wavix_numbers (id, number, label, city_id, body) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        count = cur.rowcount
        conn.execute("DELETE FROM wavix_counters WHERE name IN ('count', 'min_id', 'max_id')")
    return count


def bulk_insert(
    store: SandboxStore, numbers: Iterable[Mapping[str, Any]], *, city_id: int | None = None
) -> int:
    """Insert complete response ``Number`` dicts (see ``make_number``) as they are; returns how
    many. Destination items must carry ids (not checked); ``id``s must be unique. One
    transaction, so a few hundred thousand dicts load in seconds. For millions, prefer
    ``seed_synthetic`` (string templating, no per-number ``json.dumps`` of a dict)."""
    return _insert_rows(store, (_row(n, city_id) for n in numbers))


def seed_synthetic(
    store: SandboxStore,
    count: int,
    *,
    prefix: str = "1248",
    first_line: int = 2_000_000,
    first_id: int | None = None,
    settings: Mapping[str, Any] | None = None,
    drift: Mapping[str, Any] | None = None,
    drift_every: int = 0,
) -> range:
    """Add ``count`` synthetic numbers fast (about a million in well under a minute).

    Numbers are ``prefix`` + 7-digit line ``first_line + i`` (default +1 248 200 0000 onward,
    Michigan; at most 8M per prefix). Ids continue densely after the current maximum unless
    ``first_id`` is given. Every number gets ``make_number`` defaults updated with ``settings``
    (response field names, e.g. ``{"sms_enabled": True, "destination": [{"destination":
    "sip:a@b.example", "priority": 1, "transport": 1}]}``, ids of destinations are assigned);
    every ``drift_every``-th number (i % drift_every == drift_every - 1) additionally gets
    ``drift``. Returns the range of ids inserted.
    """
    if first_id is None:
        row = store.conn.execute("SELECT MAX(id) FROM wavix_numbers").fetchone()
        first_id = (row[0] or FIRST_ID - 1) + 1
    templates = [_template(settings or {})]
    if drift and drift_every:
        templates.append(_template({**(settings or {}), **drift}))
    n_dest = [len(t[1]) for t in templates]
    with store.transaction() as conn:
        ids = _Ids(conn)
        base = ids.take(count * max(n_dest))
        ids.save()

    def rows() -> Iterator[Row]:
        for i in range(count):
            drifted = drift_every and i % drift_every == drift_every - 1
            text, dests = templates[1 if drifted else 0]
            id_ = first_id + i
            number = f"{prefix}{first_line + i:07d}"
            values: dict[str, Any] = {"id": id_, "number": number}
            for k in range(len(dests)):
                values[f"d{k}"] = base + i * max(n_dest) + k
            yield (id_, number, None, None, text % values)

    _insert_rows(store, rows())
    return range(first_id, first_id + count)


def _template(fields: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """A %-template of a Number's JSON with %(id)d, %(number)s, %(d<k>)d holes."""
    number = make_number(-1, "@NUMBER@", added="2025-01-01T00:00:00.000Z")
    number.update(fields)
    dests = [dict(d) for d in number["destination"]]
    number["destination"] = _response_destinations(dests, [], iter(range(-1000, 0)).__next__)
    text = json.dumps(number, **_J).replace("%", "%%")
    text = text.replace('"id":-1,', '"id":%(id)d,', 1).replace("@NUMBER@", "%(number)s")
    for k, d in enumerate(number["destination"]):
        text = text.replace(f'"id":{d["id"]},', f'"id":%(d{k})d,', 1)
    return text, dests


# ---- the documented seed (docs/sandbox-wavix.md)

DETROIT_SIP = {"destination": "sip:inbound@pbx-detroit.example.com", "priority": 1, "transport": 1}
DETROIT_PSTN = {"destination": "+13135550199", "priority": 2, "transport": 4}
DETROIT = {
    "sms_enabled": True,
    "destination": [DETROIT_SIP, DETROIT_PSTN],
    "sms_relay_url": "https://hooks.example.com/wavix/sms",
    "call_recording_enabled": True,
    "call_status_url": "https://hooks.example.com/wavix/calls",
}
"""Profile ``detroit-sip`` of examples/desired-state, in response field names."""
NYC_PSTN = {"destination": "+12125550000", "priority": 1, "transport": 4}
NYC = {
    "sms_enabled": False,
    "destination": [NYC_PSTN],
    "call_recording_enabled": True,
    "transcription_enabled": True,
    "transcription_threshold": 30,
}
"""Profile ``nyc-sales``."""

DRIFT: dict[str, dict[str, Any]] = {
    "13135550104": {"sms_relay_url": "https://hooks.example.com/wavix/sms-old"},
    "13135550107": {"destination": [DETROIT_SIP]},
    "13135550111": {"call_recording_enabled": False},
    "13135550115": {"call_status_url": "https://old-hooks.example.com/wavix/calls"},
    "13135550118": {
        "destination": [
            {"destination": "32882", "priority": 1, "transport": 5, "trunk_id": 3107},
            DETROIT_PSTN,
        ]
    },
    "13135550122": {"sms_enabled": False, "sms_relay_url": None},
    "13135550126": {
        "destination": [{**DETROIT_SIP, "priority": 2}, {**DETROIT_PSTN, "priority": 1}]
    },
    "13135550130": {"status": "inactive", "destination": [], "seconds": 0},
    "12125550102": {"transcription_threshold": 20},
    "12125550105": {"sms_enabled": True, "sms_relay_url": "https://hooks.example.com/wavix/nyc"},
    "12125550108": {
        "destination": [
            NYC_PSTN,
            {"destination": "sip:sales@pbx-nyc.example.com", "priority": 2, "transport": 1},
        ]
    },
    "12125550110": {"call_recording_enabled": False, "transcription_enabled": False},
}
"""Numbers that differ from their profile (what a first ``plan`` shows)."""

UNMANAGED: dict[str, dict[str, Any]] = {
    "13135550100": {
        "label": "Detroit main line",
        "transcription_enabled": True,
        "transcription_threshold": 45,
    },  # its exact override in the YAML: in sync
    "13135550135": {"transcription_enabled": True, "transcription_threshold": 60},
    "12125550100": {"label": "NYC sales", "call_status_url": "https://hooks.example.com/nyc"},
    "442079460100": {"label": "UK support"},
    "442079460101": {"label": "UK support"},
}
"""Values of fields the YAML does not manage for that number: variety, not drift."""

_US = {"country": "United States", "country_short_name": "US"}
_LONDON = {
    "city": "LONDON",
    "state": None,
    "country": "United Kingdom",
    "country_short_name": "GB",
    "monthly_fee": "2.50",
    "activation_fee": "2.50",
    "per_min": "0.0100",
    "channels": 10,
    "require_docs": ["2"],
    "cnam": None,
}
_SF_ROUTE = {"destination": "sip:frontdesk@sf.example.com", "priority": 1, "transport": 1}
SEED_BLOCKS: list[tuple[str, int, int, dict[str, Any]]] = [
    ("131355501", 40, 3131, {**_US, "city": "DETROIT, MI", "state": "MI", **DETROIT}),
    (
        "121255501",
        12,
        2121,
        {
            **_US,
            "city": "NEW YORK, NY",
            "state": "NY",
            "monthly_fee": "1.99",
            "channels": 48,
            **NYC,
        },
    ),
    ("4420794601", 4, 4420, _LONDON),
    (
        "141555501",
        4,
        4151,
        {
            **_US,
            "city": "SAN FRANCISCO, CA",
            "state": "CA",
            "monthly_fee": "1.99",
            "destination": [_SF_ROUTE],
        },
    ),
]
"""(number prefix, how many from ..00, city_id, fields): the seed's four rate centres."""


def _seed_plan() -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (n, city_id, {**fields, **DRIFT.get(n, {}), **UNMANAGED.get(n, {})})
        for prefix, count, city_id, fields in SEED_BLOCKS
        for n in (f"{prefix}{i:02d}" for i in range(count))
    ]


def seed_numbers() -> list[dict[str, Any]]:
    """The documented seed as complete ``Number`` dicts (ids 400001..400060, in ``SEED_BLOCKS``
    order; destination ids from ``FIRST_DESTINATION_ID``)."""
    dest_id = iter(range(FIRST_DESTINATION_ID, FIRST_DESTINATION_ID + 1000)).__next__
    out = []
    for k, (number, _, fields) in enumerate(_seed_plan()):
        id_ = FIRST_ID + k
        fields["destination"] = _response_destinations(fields.get("destination") or [], [], dest_id)
        if fields.get("require_docs"):
            fields["documents"] = [
                {
                    "id": 90001 + k,
                    "allow_replace": False,
                    "did_number": number,
                    "doc_content_type": "application/pdf",
                    "doc_file_name": "proof-of-address.pdf",
                    "doc_type_id": 2,
                    "status": "approved",
                    "url": f"https://api.wavix.com/v1/numbers/{id_}/papers/1",
                }
            ]
        fields.setdefault("seconds", (k * 977) % 5400)
        month, day = 1 + k % 12, 1 + (k * 7) % 28
        added = f"2024-{month:02d}-{day:02d}T{8 + k % 10:02d}:{(k * 13) % 60:02d}:00.000Z"
        paid_until = f"2026-{month:02d}-{day:02d}"
        out.append(make_number(id_, number, added=added, paid_until=paid_until, **fields))
    return out


def seed(store: SandboxStore) -> None:
    """Load the documented deterministic seed (60 numbers; docs/sandbox-wavix.md)."""
    numbers = seed_numbers()
    city_ids = [city_id for _, city_id, _ in _seed_plan()]
    _insert_rows(store, map(_row, numbers, city_ids))
    used = sum(len(n["destination"]) for n in numbers)
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO wavix_counters (name, value) VALUES ('destination_id', ?)",
            (FIRST_DESTINATION_ID + used,),
        )


# --------------------------------------------------------------------------------------------
# The app

Handler = Callable[[Request], Awaitable[Response]]


class WavixSimulator:
    """Request handling over the store. One instance per app; all state lives in SQLite."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    # ---- plumbing shared by every route
    def route(self, scope: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                self._fault()
                self._apply_due()
                self._authorize(request, scope)
                return await handler(request)
            except WavixError as err:
                return _json(err.body, err.status, err.headers)

        return endpoint

    def _fault(self) -> None:
        queue = self.store.knob("wavix.fail_next")
        if not queue:
            return
        with self.store.lock:
            queue = self.store.knob("wavix.fail_next") or []
            if not queue:
                return
            head, rest = queue[0], queue[1:]
            self.store.set_knob("wavix.fail_next", rest or None)
        status = head["status"] if isinstance(head, dict) else int(head)
        retry_after = head.get("retry_after") if isinstance(head, dict) else None
        headers = {}
        if retry_after is not None or status in (429, 503):
            headers["Retry-After"] = f"{retry_after if retry_after is not None else 1:g}"
        message = FAULT_MESSAGES.get(status, "Injected failure")
        raise WavixError(status, {"success": False, "message": message}, headers)

    def _authorize(self, request: Request, scope: str) -> None:
        header = request.headers.get("authorization", "")
        kind, _, key = header.partition(" ")
        level = KEYS.get(key.strip()) if kind.lower() == "bearer" else None
        if level is None:
            raise _unauthorized()
        if scope == "write" and level != "write":
            raise WavixError(
                403,
                {
                    "success": False,
                    "message": "Forbidden: this API key lacks the numbers:write scope",
                },
            )

    def _apply_due(self) -> None:
        """Apply every pending asynchronous change whose time has come."""
        now = self.store.clock.now()
        with self.store.lock:
            query = "SELECT 1 FROM wavix_pending WHERE due <= ? LIMIT 1"
            if self.store.conn.execute(query, (now,)).fetchone() is None:
                return
        with self.store.transaction() as conn:
            due = conn.execute(
                "SELECT number_id, field, value FROM wavix_pending WHERE due <= ? "
                "ORDER BY number_id",
                (now,),
            ).fetchall()
            changes: dict[int, dict[str, Any]] = {}
            for number_id, field, value in due:
                changes.setdefault(number_id, {})[field] = json.loads(value)
            ids = _Ids(conn)
            self._write(conn, changes, ids)
            ids.save()
            conn.execute("DELETE FROM wavix_pending WHERE due <= ?", (now,))

    @staticmethod
    def _write(conn: Any, changes: Mapping[int, Mapping[str, Any]], ids: _Ids) -> dict[int, str]:
        """Apply request-named field changes per number id; returns the new bodies."""
        out: dict[int, str] = {}
        rows = _bodies(conn, list(changes))
        for number_id, body in rows.items():
            number = json.loads(body)
            for field, value in changes[number_id].items():
                if field == "destinations":
                    number["destination"] = _response_destinations(
                        value, number["destination"], ids
                    )
                else:
                    number[field] = value
            out[number_id] = json.dumps(number, **_J)
        conn.executemany(
            "UPDATE wavix_numbers SET body = ? WHERE id = ?", [(b, i) for i, b in out.items()]
        )
        return out

    # ---- GET /v1/numbers
    async def list_numbers(self, request: Request) -> Response:
        q = request.query_params
        page = _int_param(q, "page", 1)
        per_page = _int_param(q, "per_page", DEFAULT_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            raise _invalid("per_page")  # documented max 100; real behaviour unknown (doc)
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
                raise _invalid("label_present")
            where.append(
                "(label IS NOT NULL AND label != '')"
                if flag == "true"
                else "(label IS NULL OR label = '')"
            )
        if "city_id" in q:
            where.append("city_id = ?")
            args.append(_int_param(q, "city_id", 0, minimum=0))
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
                total, lo, hi = _stats(conn)
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
            + ",".join(r[0] for r in rows)
            + '],"doc_types":'
            + _DOC_TYPES_JSON
            + ',"pagination":'
            + json.dumps(pagination, **_J)
            + "}"
        )
        return Response(text, media_type="application/json")

    # ---- GET /v1/numbers/{id}
    async def get_number(self, request: Request) -> Response:
        number_id = _path_id(request)
        with self.store.lock:
            row = self.store.conn.execute(
                "SELECT body FROM wavix_numbers WHERE id = ?", (number_id,)
            ).fetchone()
        if row is None:
            raise _not_found()
        return Response(row[0], media_type="application/json")

    # ---- PATCH /v1/numbers/{id}
    async def update_number(self, request: Request) -> Response:
        number_id = _path_id(request)
        update = _parse(NumberUpdate, await request.body(), optional=True)
        _check_trunks(update.destinations)
        fields = _fields(update)
        with self.store.transaction() as conn:
            if not _bodies(conn, [number_id]):
                raise _not_found()
            ids = _Ids(conn)
            body = self._write(conn, {number_id: fields}, ids)[number_id]
            ids.save()
            # A synchronous write supersedes an older pending one for the same field.
            conn.executemany(
                "DELETE FROM wavix_pending WHERE number_id = ? AND field = ?",
                [(number_id, f) for f in fields if f in ASYNC_FIELDS],
            )
        return Response(body, media_type="application/json")

    # ---- PATCH /v1/numbers (bulk)
    async def bulk_update(self, request: Request) -> Response:
        update = _parse(NumberBulkUpdate, await request.body())
        _check_trunks(update.destinations)
        ids_in = list(dict.fromkeys(update.ids))  # duplicates accepted, applied once
        if not ids_in:
            raise _invalid("ids")
        limit = self.store.knob("wavix.max_ids")
        if limit is not None and len(ids_in) > limit:
            raise _invalid("ids")
        fields = _fields(update)
        sync = {k: v for k, v in fields.items() if k not in ASYNC_FIELDS}
        later = {k: v for k, v in fields.items() if k in ASYNC_FIELDS}
        delay = float(self.store.knob("wavix.async_delay_s", DEFAULT_ASYNC_DELAY_S))
        if delay <= 0:
            sync, later = fields, {}
        with self.store.transaction() as conn:
            bodies = _bodies(conn, ids_in)
            if len(bodies) != len(ids_in):
                raise _not_found()  # whole request refused, nothing applied
            if sync:
                ids = _Ids(conn)
                bodies.update(self._write(conn, dict.fromkeys(ids_in, sync), ids))
                ids.save()
            if later:
                due = self.store.clock.now() + delay
                conn.executemany(
                    "INSERT OR REPLACE INTO wavix_pending (number_id, field, value, due) "
                    "VALUES (?, ?, ?, ?)",
                    [(i, f, json.dumps(v, **_J), due) for i in ids_in for f, v in later.items()],
                )
        text = '{"items":[' + ",".join(bodies[i] for i in ids_in) + "]}"
        return Response(text, media_type="application/json")


def make_app(store: SandboxStore) -> Starlette:
    sim = WavixSimulator(store)
    return Starlette(
        routes=[
            Route("/v1/numbers", sim.route("read", sim.list_numbers), methods=["GET"]),
            Route("/v1/numbers", sim.route("write", sim.bulk_update), methods=["PATCH"]),
            Route("/v1/numbers/{id}", sim.route("read", sim.get_number), methods=["GET"]),
            Route("/v1/numbers/{id}", sim.route("write", sim.update_number), methods=["PATCH"]),
        ]
    )


# --------------------------------------------------------------------------------------------
# Helpers


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, **_J),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def _int_param(q: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = q.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name) from None
    if not minimum <= value <= INT32_MAX:
        raise _invalid(name)
    return value


def _path_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit() or int(raw) > INT32_MAX:
        raise _invalid("id")
    return int(raw)


def _fields(update: NumberUpdate) -> dict[str, Any]:
    """The request fields actually sent, JSON-ready (destinations as plain dicts)."""
    out = update.model_dump(include=set(update.model_fields_set) - {"ids"})
    return out


def _bodies(conn: Any, ids: list[int]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT id, body FROM wavix_numbers WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    ).fetchall()
    return dict(rows)


def _stats(conn: Any) -> tuple[int, int, int]:
    """(count, min id, max id), cached in ``wavix_counters`` (loaders drop the cache)."""
    rows = dict(
        conn.execute(
            "SELECT name, value FROM wavix_counters WHERE name IN ('count', 'min_id', 'max_id')"
        )
    )
    if len(rows) == 3:
        return rows["count"], rows["min_id"], rows["max_id"]
    count, lo, hi = conn.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM wavix_numbers").fetchone()
    conn.executemany(
        "INSERT OR REPLACE INTO wavix_counters (name, value) VALUES (?, ?)",
        [("count", count), ("min_id", lo or 0), ("max_id", hi or 0)],
    )
    return count, lo or 0, hi or 0
