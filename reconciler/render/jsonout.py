"""``--format json``: one versioned document for plans and drift reports, built once (orjson),
and one for the apply report (``apply_document``, kind ``apply``).

The shapes are documented in docs/output.md; their JSON Schemas are
docs/plan-output.schema.json and docs/apply-output.schema.json;
``FORMAT_VERSION`` changes when a key is removed or changes meaning (adding keys does not).
Secret fields (Telnyx ``external_pin``) are replaced by the mask everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def document(plan: Plan, *, kind: str = "plan") -> dict[str, Any]:
    """The JSON document of ``plan`` as Python data (secrets already masked)."""
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
    return {
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
            "missing": [{"account": a, "e164": e} for a, e in plan.missing],
            "accounts": len(plan.accounts),
            "warnings": len(warned),
            "line": line,
        },
        "warnings": [
            {
                "rail": str(w.rail),
                "account": w.account,
                "message": w.message,
            }
            for w in warned
        ],
        "accounts": [
            {
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
                "missing": list(a.missing),
                "not_patchable": [{"e164": e, "status": s} for e, s in a.not_patchable],
                "unmanaged_numbers": list(a.unmanaged_numbers),
                **_operations(a),
            }
            for a in plan.accounts
        ],
        "calls": [
            {
                "account": b.account,
                "carrier": b.carrier,
                "label": label(b.carrier, b.operation),
                "patch": _masked(b.patch, secret.get(b.account) or carrier_secrets(b.carrier)),
                "ids": list(b.ids),
                "e164s": list(b.e164s),
                **({"operation": b.operation} if b.operation is not None else {}),
            }
            for b in plan.calls
        ],
        "causes": [
            {
                "account": c.account,
                "carrier": c.carrier,
                "field": c.field,
                "old": c.old,  # grouping already masked secret fields
                "new": c.new,
                "count": len(c.e164s),
                "e164s": c.e164s,
            }
            for c in causes
        ],
        # orjson writes the frozen dataclasses natively (keys in field order: account, id,
        # e164, changes[field, old, new]); only changes touching a secret field are copied.
        "changes": _masked_changes(plan.changes, secret),
        "meta": plan.scope.to_dict(),
    }


def plan_json(plan: Plan, *, kind: str = "plan") -> str:
    """The document as indented JSON text ending with a newline."""
    with gc_paused():  # copies of masked changes: many small objects, no cycles
        return dumps(document(plan, kind=kind))


def dumps(data: Any) -> str:
    opts = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(data, option=opts, default=str).decode()


def _masked_changes(
    changes: tuple[NumberChange, ...], secret: dict[str, frozenset[str]]
) -> Sequence[NumberChange]:
    if not any(secret.values()):
        return changes
    out = list(changes)
    for i, c in enumerate(out):
        hidden = secret.get(c.account)
        if hidden and any(f.field in hidden for f in c.changes):
            fields = tuple(
                FieldChange(f.field, MASK, MASK) if f.field in hidden else f for f in c.changes
            )
            out[i] = NumberChange(c.account, c.id, c.e164, fields)
    return out


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


def apply_json(o: ApplyOutcome) -> str:
    return dumps(apply_document(o))


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
