"""``--format json``: one versioned document for plans and drift reports, and one for the apply
report (``apply_document``, kind ``apply``), written as a stream of chunks.

The shapes are documented in docs/output.md; their JSON Schemas are
docs/plan-output.schema.json and docs/apply-output.schema.json;
``FORMAT_VERSION`` changes when a key is removed or changes meaning (adding keys does not).
Secret fields (Telnyx ``external_pin``) are replaced by the mask everywhere.

Streaming: the document is never one string or one dict of every number. The envelope is written
by hand and the values in it by orjson, one small object at a time (an account, a call, a cause)
and long lists in slices of ``SLICE`` items; each piece is indented as orjson's ``OPT_INDENT_2``
would indent it inside the whole document (JSON text holds no raw newline outside its
indentation, so re-indenting is adding spaces after each ``\n``). The bytes are exactly those of
``orjson.dumps(document, option=OPT_INDENT_2 | OPT_APPEND_NEWLINE | OPT_NON_STR_KEYS)``
(tests/test_json_stream.py keeps that whole-document form as the reference). At a million
numbers the whole document as one string cost +300–460 MB of peak memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import orjson

from ..carriers import MASK
from ..gcpause import gc_paused
from ..plan import FieldChange, NumberChange, Plan
from .apply import ApplyOutcome, NumberGroup
from .common import (
    account_views,
    carrier_secrets,
    drift_line,
    label,
    no_drift_line,
    secret_fields,
    summary_line,
    warnings_of,
)

FORMAT_VERSION = 1
KINDS = ("plan", "drift")
SLICE = 1024
"""Items of a long list serialised by one orjson call."""
FLUSH = 1 << 22
"""Bytes gathered before one ``write`` to the output."""
_OPTS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS


class Items:
    """A list value written lazily: ``each`` (if given) turns an item into what is written, one
    slice at a time; ``nested`` writes item by item, so that long lists inside an item are
    sliced in turn (accounts, calls, causes)."""

    __slots__ = ("each", "items", "nested")

    def __init__(
        self,
        items: Sequence[Any],
        each: Callable[[Any], Any] | None = None,
        *,
        nested: bool = False,
    ) -> None:
        self.items, self.each, self.nested = items, each, nested


def plan_chunks(plan: Plan, *, kind: str = "plan") -> Iterator[bytes]:
    """The JSON document of ``plan`` (secrets masked) as consecutive byte chunks; joined, they are
    the indented document ending with a newline."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    secret = secret_fields(plan)
    views = account_views(plan)
    causes = [c for v in views for c in v.causes]
    warned = warnings_of(plan)
    if kind == "plan":
        line = summary_line(plan)
    else:
        line = drift_line(plan) if plan.has_changes else no_drift_line(plan)

    def call(b: Any) -> dict[str, Any]:
        return {
            "account": b.account,
            "carrier": b.carrier,
            "label": label(b.carrier, b.operation),
            "patch": _masked(b.patch, secret.get(b.account) or carrier_secrets(b.carrier)),
            "ids": b.ids,
            "e164s": b.e164s,
            **({"operation": b.operation} if b.operation is not None else {}),
        }

    doc = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "summary": {
            "has_changes": plan.has_changes,
            "changed": plan.changed,
            "fields": sum(len(c.changes) for c in plan.changes),
            "calls": len(plan.calls),
            "lower_bound": plan.lower_bound,
            "per_number": plan.changed,
            "in_sync": plan.in_sync,
            "unmanaged": plan.unmanaged,
            "not_patchable": sum(len(a.not_patchable) for a in plan.accounts),
            "missing": Items(plan.missing, lambda m: {"account": m[0], "e164": m[1]}),
            "accounts": len(plan.accounts),
            "warnings": len(warned),
            "line": line,
        },
        "warnings": Items(
            warned, lambda w: {"rail": str(w.rail), "account": w.account, "message": w.message}
        ),
        "accounts": Items(plan.accounts, _account, nested=True),
        "calls": Items(plan.calls, call, nested=True),
        "causes": Items(
            causes,
            lambda c: {
                "account": c.account,
                "carrier": c.carrier,
                "field": c.field,
                "old": c.old,  # grouping already masked secret fields
                "new": c.new,
                "count": len(c.e164s),
                "e164s": c.e164s,
            },
            nested=True,
        ),
        # orjson writes the frozen dataclasses natively (keys in field order: account, id,
        # e164, changes[field, old, new]); only changes touching a secret field are copied.
        "changes": Items(plan.changes, _masker(secret)),
        "meta": plan.scope.to_dict(),
    }
    with gc_paused():  # masked copies and slices: many small objects, no cycles
        yield from _value(doc, 0)
        yield b"\n"


def write_json(chunks: Iterator[bytes], out: TextIO) -> None:
    """Write ``chunks`` to ``out`` in writes of about ``FLUSH`` bytes."""
    buf: list[bytes] = []
    size = 0
    for chunk in chunks:
        buf.append(chunk)
        size += len(chunk)
        if size >= FLUSH:
            out.write(b"".join(buf).decode())
            buf.clear()
            size = 0
    if buf:
        out.write(b"".join(buf).decode())


def plan_json(plan: Plan, *, kind: str = "plan") -> str:
    """The document as indented JSON text ending with a newline (in memory: for small plans and
    tests; the CLI streams with ``write_json(plan_chunks(...), out)``)."""
    return b"".join(plan_chunks(plan, kind=kind)).decode()


def chunks(data: Any) -> Iterator[bytes]:
    """``data`` (dicts, lists, ``Items``) as the chunks of an indented document with a newline."""
    yield from _value(data, 0)
    yield b"\n"


def _value(v: Any, depth: int) -> Iterator[bytes]:
    if isinstance(v, Items):
        yield from _items(v, depth)
    elif isinstance(v, dict) and v and _big(v):
        pad = b"\n" + b"  " * (depth + 1)
        sep = b"{"
        for k, x in v.items():
            yield sep + pad + orjson.dumps(k, option=orjson.OPT_NON_STR_KEYS) + b": "
            yield from _value(x, depth + 1)
            sep = b","
        yield b"\n" + b"  " * depth + b"}"
    elif isinstance(v, list | tuple) and (len(v) > SLICE or any(_big_item(x) for x in v)):
        yield from _items(Items(v, nested=len(v) <= SLICE), depth)
    else:
        yield _indent(orjson.dumps(v, option=_OPTS, default=str), depth)


def _items(v: Items, depth: int) -> Iterator[bytes]:
    items, each = v.items, v.each
    if not items:
        yield b"[]"
        return
    pad = b"\n" + b"  " * (depth + 1)
    sep = b"["
    if v.nested:
        for item in items:
            yield sep + pad
            yield from _value(each(item) if each else item, depth + 1)
            sep = b","
    else:
        for start in range(0, len(items), SLICE):
            part = items[start : start + SLICE]
            if each is not None:
                part = [each(x) for x in part]
            body = orjson.dumps(part, option=_OPTS, default=str)  # b"[\n  a,\n  b\n]"
            yield sep + _indent(body[1:-2], depth)  # b"\n  a,\n  b" one level deeper
            sep = b","
    yield b"\n" + b"  " * depth + b"]"


def _indent(body: bytes, depth: int) -> bytes:
    return body.replace(b"\n", b"\n" + b"  " * depth) if depth else body


def _big(d: dict[Any, Any]) -> bool:
    """Whether a dict holds a value written in pieces (so the dict is written key by key)."""
    return any(_big_item(x) for x in d.values())


def _big_item(x: Any) -> bool:
    if isinstance(x, Items):
        return True
    if isinstance(x, list | tuple):
        return len(x) > SLICE
    return isinstance(x, dict) and _big(x)


def _masker(secret: dict[str, frozenset[str]]) -> Callable[[NumberChange], NumberChange] | None:
    """Per change: a copy with secret fields masked, or the change itself."""
    if not any(secret.values()):
        return None

    def mask(c: NumberChange) -> NumberChange:
        hidden = secret.get(c.account)
        if hidden and any(f.field in hidden for f in c.changes):
            fields = tuple(
                FieldChange(f.field, MASK, MASK) if f.field in hidden else f for f in c.changes
            )
            return NumberChange(c.account, c.id, c.e164, fields)
        return c

    return mask


def _account(a: Any) -> dict[str, Any]:
    return {
        "account": a.account,
        "carrier": a.carrier,
        "total": a.total,
        "in_sync": a.in_sync,
        "changed": a.changed,
        "unmanaged": a.unmanaged,
        "calls": a.calls,
        "calls_exact": a.calls_exact,
        "lower_bound": a.lower_bound,
        "max_batch": a.max_batch,
        "grouping": a.grouping,
        "missing": a.missing,
        "not_patchable": Items(a.not_patchable, lambda p: {"e164": p[0], "status": p[1]}),
        "unmanaged_numbers": a.unmanaged_numbers,
        **_operations(a),
    }


def _masked(patch: dict[str, Any], secret: frozenset[str]) -> dict[str, Any]:
    return {k: MASK if k in secret else v for k, v in patch.items()} if secret else patch


# --------------------------------------------------------------------------------------------
# The apply report (docs/apply-output.schema.json)


def apply_document(o: ApplyOutcome) -> dict[str, Any]:
    """The ``apply --format json`` document (kind ``apply``) as Python data, secrets masked."""
    converged = o.converged
    causes = [c for v in account_views(converged) for c in v.causes] if converged else []
    return {
        "format_version": FORMAT_VERSION,
        "kind": "apply",
        "status": o.status,
        "exit_code": o.exit_code,
        "line": o.line,
        "reason": o.reason or None,
        "planned": o.planned,
        "changed": o.changed,
        "verified": o.verified,
        "held": o.held,
        "requests": o.requests,
        "stopped": [{"account": a, "error": e} for a, e in sorted(o.stopped.items())],
        "calls": [
            {
                "account": c.call.account,
                "carrier": c.call.carrier,
                "label": label(c.call.carrier, c.call.operation),
                "patch": _masked(c.call.patch, carrier_secrets(c.call.carrier)),
                "numbers": len(c.call.ids),
                "e164s": list(c.call.e164s),
                "outcome": c.outcome,
                "failed": c.failed,
                "job_id": c.job_id,
                "followed": c.followed,
                "error": c.error,
            }
            for c in o.calls
        ],
        "causes": [
            {
                "account": c.account,
                "carrier": c.carrier,
                "field": c.field,
                "old": c.old,
                "new": c.new,
                "count": len(c.e164s),
                "e164s": c.e164s,
            }
            for c in causes
        ],
        "failed": _groups(o.failed),
        "pending": _groups(o.pending),
        "not_sent": _groups(o.not_sent),
        "meta": o.plan.scope.to_dict(),
    }


def _groups(groups: Sequence[NumberGroup]) -> list[dict[str, Any]]:
    out = []
    for g in groups:
        item: dict[str, Any] = {"account": g.account, "cause": g.reason, "count": len(g.e164s)}
        if g.job_id is not None:
            item["job_id"] = g.job_id
        item["e164s"] = g.e164s
        out.append(item)
    return out


def _operations(a: Any) -> dict[str, Any]:
    """Per-operation figures and unreadable values, only for accounts that have them (plans of
    one operation read as before)."""
    out: dict[str, Any] = {}
    if a.operations:
        out["operations"] = [
            {
                "operation": o.operation,
                "label": o.label,
                "changed": o.changed,
                "calls": o.calls,
                "calls_exact": o.calls_exact,
                "lower_bound": o.lower_bound,
                "max_batch": o.max_batch,
            }
            for o in a.operations
        ]
    if a.unreadable:
        out["unreadable"] = [{"field": f, "numbers": n} for f, n in a.unreadable]
    return out
