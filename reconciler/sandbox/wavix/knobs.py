"""The Wavix simulator's knobs (``KNOBS``, for the registry in ``sandbox/knobs.py``) and
``value``, the one way the simulator reads them.

Each knob's real-carrier assumption is written in docs/sandbox-wavix.md ("Knobs").
"""

from __future__ import annotations

from typing import Any

from .. import knobs
from ..faults import check_queue, check_write_odds
from ..knobs import Knob, boolean, integer, list_of, number, one_of, string
from ..store import SandboxStore
from .number import ASYNC_FIELDS, DESTINATION_FIELDS, NUMBER_FIELDS

DEFAULT_ASYNC_DELAY_S = 1.0

RATE_HEADERS = ("retry-after", "retry-after-date", "x-ratelimit-reset")
"""What a Wavix 429 may say about when to come back (knob ``wavix.rate_limit_headers``)."""
DEFAULT_RATE_HEADERS = ["retry-after"]
DEFAULT_RATE_WINDOW_S = 1.0
REFUSAL_STATUSES = (400, 422)


def _e164(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("+") or not value[1:].isdigit():
        raise ValueError(f"expected a +E.164 number, not {value!r}")
    return value


def _async_delay(value: Any) -> Any:
    """Seconds for both async fields, or ``{field: seconds}`` (a field left out: the default)."""
    if not isinstance(value, dict):
        return number(maximum=86_400)(value)
    unknown = set(value) - set(ASYNC_FIELDS)
    if unknown:
        raise ValueError(f"fields must be among {', '.join(ASYNC_FIELDS)}, not {sorted(unknown)}")
    return {k: number(maximum=86_400)(v) for k, v in value.items()}


def _sparse(value: Any) -> dict[str, dict[str, list[str]]]:
    """``{"+E.164" | "*": {"drop": [path, ...], "null": [path, ...]}}``; a path is a ``Number``
    field or ``destination.<item field>``."""
    if not isinstance(value, dict) or not value:
        raise ValueError('expected {"+E.164" or "*": {"drop": [fields], "null": [fields]}}')
    out = {}
    for who, spec in value.items():
        if who != "*":
            _e164(who)
        if not isinstance(spec, dict) or not spec or set(spec) - {"drop", "null"}:
            raise ValueError(f'{who}: expected {{"drop": [fields], "null": [fields]}}')
        rule = {}
        for how, paths in spec.items():
            if not isinstance(paths, list) or not paths:
                raise ValueError(f"{who}.{how}: expected a non-empty list of field names")
            for path in paths:
                head, _, sub = str(path).partition(".")
                known = (
                    head == "destination" and sub in DESTINATION_FIELDS
                    if sub
                    else head in NUMBER_FIELDS
                )
                if not isinstance(path, str) or not known or path in ("id", "number"):
                    raise ValueError(
                        f"{who}.{how}: unknown field {path!r} (a Number field other than id and "
                        "number, or destination.<destination, priority, transport, trunk_id, ...>)"
                    )
            rule[how] = list(paths)
        out[who] = rule
    return out


KNOBS: tuple[Knob, ...] = (
    Knob(
        "wavix.keys",
        "Extra API keys with full access (numbers:write), beside the documented sandbox keys.",
        list_of(string),
        [],
        secret=True,
    ),
    Knob(
        "wavix.async_delay_s",
        "Seconds before a bulk PATCH's destinations / sms_relay_url show (0: at once); a number, "
        'or per field {"destinations": s, "sms_relay_url": s}.',
        _async_delay,
        DEFAULT_ASYNC_DELAY_S,
    ),
    Knob(
        "wavix.fail_next",
        'Queue of injected failures: statuses or {"status", "retry_after"} objects, one per '
        "request.",
        check_queue,
    ),
    Knob(
        "wavix.write_faults",
        'Random faults on PATCHes only: {"p_5xx": p, "p_429": p, "p_timeout_after_commit": p, '
        '"seed": n}; a timeout after commit applies the PATCH, then answers 504.',
        check_write_odds,
    ),
    Knob("wavix.max_ids", "Maximum ids per bulk PATCH (over it: 400 ids).", integer(minimum=1)),
    Knob(
        "wavix.sparse_items",
        'Responses leave out ("drop") or null ("null") fields of some numbers: '
        '{"+E.164" or "*": {"drop": [...], "null": [...]}}, e.g. "destination.transport".',
        _sparse,
    ),
    Knob(
        "wavix.refuse_sms_outside_us_ca",
        "true: a PATCH enabling SMS on a number outside US/CA is refused as a whole.",
        boolean,
        False,
    ),
    Knob(
        "wavix.refuse_inactive",
        "true: a PATCH that includes an inactive number is refused as a whole.",
        boolean,
        False,
    ),
    Knob(
        "wavix.refuse_numbers",
        "+E.164 numbers that make any PATCH including them refused as a whole.",
        list_of(_e164, what="a list of +E.164 numbers"),
        [],
    ),
    Knob(
        "wavix.refusal_status",
        "HTTP status of those refusals (the message never names the number).",
        one_of(*REFUSAL_STATUSES),
        400,
    ),
    Knob(
        "wavix.rate_limit",
        "Requests per API key per window (0: no limit; Wavix publishes none).",
        integer(minimum=0),
        0,
    ),
    Knob(
        "wavix.rate_window_s",
        "Length of the rate-limit window, seconds.",
        number(minimum=0.001, maximum=3600),
        DEFAULT_RATE_WINDOW_S,
    ),
    Knob(
        "wavix.rate_limit_headers",
        "What a 429 carries: any of retry-after (seconds), retry-after-date (HTTP date), "
        "x-ratelimit-reset (Unix time); [] for a bare 429.",
        list_of(one_of(*RATE_HEADERS), what="a list of header kinds"),
        DEFAULT_RATE_HEADERS,
    ),
)
BY_NAME = {k.name: k for k in KNOBS}


def value(store: SandboxStore, name: str) -> Any:
    """Knob ``name``, validated (default when unset or invalid; see ``sandbox/knobs.value``)."""
    return knobs.value(store, BY_NAME[name])
