"""Numbers in the Wavix sandbox: the documented deterministic seed (docs/sandbox-wavix.md), and
the fast loaders benchmarks use (``seed_synthetic``, ``bulk_insert``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..http import dumps
from ..store import SandboxStore
from .number import make_number, response_destinations
from .tables import FIRST_DESTINATION_ID, DestinationIds, Row, insert_rows, row

FIRST_ID = 47_832_123_001
"""Ids are dense integers from here, so an unfiltered page is an id range. 11 digits, like the
official examples (``47832123321``): past int32 and uint32, as real Wavix ids are."""

# --------------------------------------------------------------------------------------------
# Loading numbers (benchmarks)


def bulk_insert(
    store: SandboxStore, numbers: Iterable[Mapping[str, Any]], *, city_id: int | None = None
) -> int:
    """Insert complete response ``Number`` dicts (see ``make_number``) as they are; returns how
    many. Destination items must carry ids (not checked); ``id``s must be unique. One
    transaction, so a few hundred thousand dicts load in seconds. For millions, prefer
    ``seed_synthetic`` (string templating, no per-number ``json.dumps`` of a dict)."""
    return insert_rows(store, (row(n, city_id) for n in numbers))


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
        top = store.conn.execute("SELECT MAX(id) FROM wavix_numbers").fetchone()[0]
        first_id = (top or FIRST_ID - 1) + 1
    templates = [_template(settings or {})]
    if drift and drift_every:
        templates.append(_template({**(settings or {}), **drift}))
    n_dest = [len(t[1]) for t in templates]
    with store.transaction() as conn:
        ids = DestinationIds(conn)
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

    insert_rows(store, rows())
    return range(first_id, first_id + count)


def _template(fields: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """A %-template of a Number's JSON with %(id)d, %(number)s, %(d<k>)d holes."""
    number = make_number(-1, "@NUMBER@", added="2025-01-01T00:00:00.000Z")
    number.update(fields)
    dests = [dict(d) for d in number["destination"]]
    number["destination"] = response_destinations(dests, [], iter(range(-1000, 0)).__next__)
    text = dumps(number).replace("%", "%%")
    text = text.replace('"id":-1,', '"id":%(id)d,', 1).replace("@NUMBER@", "%(number)s")
    for k, d in enumerate(number["destination"]):
        text = text.replace(f'"id":{d["id"]},', f'"id":%(d{k})d,', 1)
    return text, dests


# --------------------------------------------------------------------------------------------
# The documented seed (docs/sandbox-wavix.md)

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
    """The documented seed as complete ``Number`` dicts (ids 47832123001..47832123060, in
    ``SEED_BLOCKS`` order; destination ids from ``FIRST_DESTINATION_ID``)."""
    dest_id = iter(range(FIRST_DESTINATION_ID, FIRST_DESTINATION_ID + 1000)).__next__
    out = []
    for k, (number, _, fields) in enumerate(_seed_plan()):
        id_ = FIRST_ID + k
        fields["destination"] = response_destinations(fields.get("destination") or [], [], dest_id)
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
    insert_rows(store, map(row, numbers, city_ids))
    used = sum(len(n["destination"]) for n in numbers)
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO wavix_counters (name, value) VALUES ('destination_id', ?)",
            (FIRST_DESTINATION_ID + used,),
        )
