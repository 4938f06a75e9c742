"""The listing query language: ``filter[...]`` parameters → SQL conditions, ``sort``,
``page[number]``/``page[size]``, and the ``meta`` block of a page.

Filters and sorts scan with ``json_extract`` over the stored projections (fine for the seed, O(N)
at a million numbers); the unfiltered, unsorted listing is a rowid range (see ``api``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..http import dumps, uint
from .errors import ApiError, bad_parameter, err

PAGE_DEFAULT, PAGE_MAX = 20, 250

FILTER_KEY = re.compile(r"filter\[([^\]]+)\](?:\[([^\]]*)\])?")
"""``filter[name]`` or ``filter[name][op]``."""

Cond = tuple[str, list[Any]]
"""(SQL condition, its arguments)."""

Build = Callable[[str, str | None], Cond]
"""A filter's condition builder: (value, sub-key) → condition."""


@dataclass(frozen=True)
class Filter:
    """One documented ``filter[name]``: how it may be written and what it selects. Every filter
    is checked by the same rule (``check``) before its condition is built, so no filter takes a
    sub-key or a value the spec does not give it."""

    build: Build
    ops: tuple[str | None, ...] = (None,)
    """Allowed sub-keys: ``None`` is ``filter[name]``, ``"eq"`` is ``filter[name][eq]``."""
    values: tuple[str, ...] | None = None
    """The spec's enum, if it has one."""
    min_length: int = 0
    """For the pattern ops (``contains``, ...): "Requires at least three characters"."""
    many: bool = False
    """A list: repeated keys and a comma list both mean any of the values."""

    def check(self, key: str, value: str, sub: str | None) -> None:
        if sub not in self.ops:
            name = key[len("filter[") :].split("]")[0]
            forms = ", ".join(f"filter[{name}]" + (f"[{op}]" if op else "") for op in self.ops)
            raise bad_parameter(f"is not a supported filter; use {forms}", key)
        if self.values is not None and value not in self.values:
            raise bad_parameter("must be one of: " + ", ".join(self.values), key)
        if sub not in (None, "eq") and len(value) < self.min_length:
            raise bad_parameter(f"Requires at least {self.min_length} characters.", key)


def _phone_digits(value: str, sub: str | None) -> Cond:
    digits = value.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
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

    return Filter(build)


def _enum(sql: str, values: tuple[str, ...], ops: tuple[str | None, ...] = (None,)) -> Filter:
    return Filter(lambda value, sub: (sql, [value]), ops=ops, values=values)


def _name_match(column_expr: str, ops: tuple[str, ...]) -> Filter:
    patterns = {"eq": "{}", "contains": "%{}%", "starts_with": "{}%", "ends_with": "%{}"}

    def build(value: str, sub: str | None) -> Cond:
        assert sub is not None  # checked: ops has no None
        op = "=" if sub == "eq" else "LIKE"
        return f"{column_expr} {op} ?", [patterns[sub].format(value)]

    return Filter(build, ops=ops, min_length=3)


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
_NUMBER_TYPES = ("local", "national", "toll_free", "mobile", "shared_cost")
_BOOLEAN = ("true", "false")
_CONN_NAME = "json_extract(detailed, '$.connection_name')"
_USAGE_FILTER = _enum("json_extract(voice, '$.usage_payment_method') = ?", _USAGE)

NUMBER_FILTERS: dict[str, Filter] = {
    "tag": Filter(
        lambda v, s: ("EXISTS (SELECT 1 FROM json_each(detailed, '$.tags') WHERE value = ?)", [v])
    ),
    "phone_number": Filter(_phone_digits),
    "status": _enum("status = ?", _STATUSES),
    "country_iso_alpha2": Filter(
        lambda v, s: (
            "json_extract(detailed, '$.country_iso_alpha2') IN (SELECT value FROM json_each(?))",
            [dumps(v.split(","))],
        ),
        many=True,
    ),
    "connection_id": _field("detailed", "connection_id"),
    "customer_reference": _field("detailed", "customer_reference"),
    "billing_group_id": _field("detailed", "billing_group_id", nullable=True),
    "emergency_address_id": _field("detailed", "emergency_address_id", nullable=True),
    "voice.connection_name": _name_match(
        _CONN_NAME, ("eq", "contains", "starts_with", "ends_with")
    ),
    "voice.usage_payment_method": _USAGE_FILTER,
    "number_type": _enum(
        "json_extract(detailed, '$.phone_number_type') = ?", _NUMBER_TYPES, ("eq",)
    ),
    "source": Filter(
        lambda v, s: (
            "json_extract(detailed, '$.source_type') = ?",
            ["port_request" if v == "ported" else "number_order"],
        ),
        values=("ported", "purchased"),
    ),
    "without_tags": Filter(
        lambda v, s: (
            ("json_array_length(detailed, '$.tags') = 0", []) if v == "true" else ("1", [])
        ),
        values=_BOOLEAN,
    ),
    # The job filter's has_bundle is a free string in the spec; "true" is the only one that
    # selects (nothing: sandbox numbers have no bundles).
    "has_bundle": Filter(lambda v, s: ("0", []) if v == "true" else ("1", [])),
}
VOICE_FILTERS: dict[str, Filter] = {
    "phone_number": NUMBER_FILTERS["phone_number"],
    "connection_name": _name_match(_CONN_NAME, ("contains",)),
    "customer_reference": NUMBER_FILTERS["customer_reference"],
    "voice.usage_payment_method": _USAGE_FILTER,
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
    """``filter[...]`` query parameters → one SQL condition, every filter checked the same way
    (``Filter.check``); an unknown filter is a 422 (docs/sandbox-telnyx.md says why)."""
    given: dict[str, tuple[Filter, str | None, list[str]]] = {}
    parts: list[str] = []
    args: list[Any] = []
    for key, value in query:
        if not key.startswith("filter"):
            continue
        match = FILTER_KEY.fullmatch(key)
        flt = filters.get(match.group(1)) if match else None
        if match is None or flt is None:
            raise unsupported_filter(key)
        sub = match.group(2)
        flt.check(key, value, sub)
        if flt.many:
            given.setdefault(key, (flt, sub, []))[2].append(value)
            continue
        sql, more = flt.build(value, sub)
        parts.append(sql)
        args.extend(more)
    for flt, sub, values in given.values():
        sql, more = flt.build(",".join(values), sub)
        parts.append(sql)
        args.extend(more)
    return (" AND ".join(parts) or "1"), args


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """``page[number]``, ``page[size]`` → (number, size); 422 "Invalid pagination" otherwise.
    A number is ASCII digits only (``http.uint``); any page past the end is an empty page."""
    out = {"number": 1, "size": PAGE_DEFAULT}
    for key, value in query.items():
        if not (key == "page" or key.startswith("page[")):
            continue
        name = key[5:-1] if key.endswith("]") else ""
        low, high = (1, PAGE_MAX) if name == "size" else (1, None)
        number = uint(value)
        if (
            name not in out
            or number is None
            or number < low
            or (high is not None and number > high)
        ):
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


MAX_OFFSET = 2**62
"""Past every row the store can hold, and small enough that ``offset + size`` stays a SQLite
integer: a page number beyond it reads as this offset (an empty page), not an overflow."""


def offset(number: int, size: int) -> int:
    """Rows before page ``number``, for SQL: the one rule every listing pages by."""
    return min((number - 1) * size, MAX_OFFSET)


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
