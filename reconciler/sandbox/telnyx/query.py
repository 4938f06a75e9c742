"""The listing query language: ``filter[...]`` parameters → SQL conditions, ``sort``,
``page[number]``/``page[size]``, and the ``meta`` block of a page.

Filters and sorts scan with ``json_extract`` over the stored projections (fine for the seed, O(N)
at a million numbers); the unfiltered, unsorted listing is a rowid range (see ``api``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ..http import dumps
from .errors import ApiError, bad_parameter, err

PAGE_DEFAULT, PAGE_MAX = 20, 250

FILTER_KEY = re.compile(r"^filter\[([^\]]+)\](?:\[([^\]]*)\])?$")
"""``filter[name]`` or ``filter[name][op]``."""

Cond = tuple[str, list[Any]]
"""(SQL condition, its arguments)."""

Filter = Callable[[str, str | None], Cond]
"""A filter's condition builder: (value, sub-key) → condition."""


def _phone_digits(value: str, sub: str | None) -> Cond:
    digits = value.removeprefix("+")
    if not digits.isdigit():
        return "0", []  # "Non-numerical characters will result in no values being returned."
    if len(digits) < 3:
        raise bad_parameter("Requires at least three digits.", "filter[phone_number]")
    return "phone_number LIKE ?", [f"%{digits}%"]


def _field(column: str, path: str, nullable: bool = False) -> Filter:
    expr = f"json_extract({column}, '$.{path}')"

    def build(value: str, sub: str | None) -> Cond:
        if nullable and value == "null":
            return f"{expr} IS NULL", []
        return f"{expr} = ?", [value]

    return build


def _enum(sql: str, allowed: tuple[str, ...], name: str) -> Filter:
    def build(value: str, sub: str | None) -> Cond:
        if value not in allowed:
            raise bad_parameter("must be one of: " + ", ".join(allowed), f"filter[{name}]")
        return sql, [value]

    return build


def _name_match(column_expr: str, ops: tuple[str, ...]) -> Filter:
    patterns = {"eq": "{}", "contains": "%{}%", "starts_with": "{}%", "ends_with": "%{}"}

    def build(value: str, sub: str | None) -> Cond:
        if sub not in ops:
            raise bad_parameter("must be one of: " + ", ".join(ops), "filter[connection_name]")
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

NUMBER_FILTERS: dict[str, Filter] = {
    "tag": lambda v, s: (
        "EXISTS (SELECT 1 FROM json_each(detailed, '$.tags') WHERE value = ?)",
        [v],
    ),
    "phone_number": _phone_digits,
    "status": _enum("status = ?", _STATUSES, "status"),
    "country_iso_alpha2": lambda v, s: (
        "json_extract(detailed, '$.country_iso_alpha2') IN (SELECT value FROM json_each(?))",
        [dumps(v.split(","))],
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
VOICE_FILTERS: dict[str, Filter] = {
    "phone_number": _phone_digits,
    "connection_name": _name_match(_CONN_NAME, ("contains",)),
    "customer_reference": _field("detailed", "customer_reference"),
    "voice.usage_payment_method": NUMBER_FILTERS["voice.usage_payment_method"],
}
JOB_TARGET_FILTERS: dict[str, Filter] = {
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


def unsupported_filter(key: str) -> ApiError:
    return bad_parameter("is not a supported filter", key)


def where(query: Iterable[tuple[str, str]], filters: Mapping[str, Filter]) -> Cond:
    """``filter[...]`` query parameters → one SQL condition (unknown filters are a 422)."""
    parts: list[str] = []
    args: list[Any] = []
    for key, value in query:
        if not key.startswith("filter"):
            continue
        match = FILTER_KEY.match(key)
        build = filters.get(match.group(1)) if match else None
        if match is None or build is None:
            raise unsupported_filter(key)
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
                        "The provided 'page' parameter is invalid. It must be an object with "
                        "'size' and/or 'number' with numeric values.",
                        pointer=f"page/{name or 'number'}",
                    )
                ],
            )
        out[name] = number
    return out["number"], out["size"]


def page_meta(number: int, size: int, total: int, omit: Collection[str] = ()) -> str:
    """The ``meta`` object of a page, rendered, without the fields in ``omit`` (knob
    ``telnyx.omit_page_meta``: the spec marks none of them required)."""
    meta = {
        "page_number": number,
        "page_size": size,
        "total_pages": math.ceil(total / size),
        "total_results": total,
    }
    return dumps({k: v for k, v in meta.items() if k not in omit})
