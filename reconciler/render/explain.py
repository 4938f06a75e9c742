"""``explain`` as text (compact, for a terminal) and JSON (one versioned document).

The JSON shape is documented in docs/output.md ("The explain document") and its JSON Schema is
docs/explain-output.schema.json. Values come already masked from ``reconciler.explain`` (secret
fields read ``(sensitive)``); text formats them through the carrier's description.
"""

from __future__ import annotations

import textwrap
from typing import Any

import orjson

from ..explain import FORMAT_VERSION, Explanation, FieldState, FieldView, NumberView, Origin, Via
from ..wording import plural
from .common import Paint, Values, clip

MARKS = {
    FieldState.IN_SYNC: ("=", "dim"),
    FieldState.CHANGE: ("~", "yellow"),
    FieldState.HELD: ("~", "cyan"),
    FieldState.CONFLICT: ("!", "red"),
    FieldState.NOT_PATCHABLE: ("!", "red"),
    FieldState.UNREADABLE: ("?", "yellow"),
}
WIDTH = 100
"""Where the unmanaged fields' paragraph wraps."""


def summary(x: Explanation) -> str:
    """The last line of the text form (and ``line`` in JSON); scripts may grep it."""
    if not x.managed:
        where = ", ".join(v.account for v in x.found)
        return f"{x.number} is not managed by this configuration (live in {where})."
    parts = []
    for v in x.found:
        if not v.managed:
            parts.append(f"{v.account}: not managed")
            continue
        managed = v.count(*MARKS)
        change = v.count(FieldState.CHANGE)
        head = f"{v.account}: {change} of {plural(managed, 'managed field')} "
        head += "change" if change != 1 else "changes"
        if change:
            head += f" in {plural(len(v.calls), 'call')}"
        rest = [f"{v.count(FieldState.IN_SYNC)} in sync"]
        for state, words in (
            (FieldState.HELD, "held by a live job"),
            (FieldState.CONFLICT, "in a conflicting live job"),
            (FieldState.NOT_PATCHABLE, "not patchable"),
            (FieldState.UNREADABLE, "unreadable"),
        ):
            if v.count(state):
                rest.append(f"{v.count(state)} {words}")
        rest.append(f"{v.count(FieldState.UNMANAGED)} unmanaged")
        parts.append(f"{head}; {', '.join(rest)}")
    return f"{x.number}: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# Text


def explain_text(x: Explanation, *, color: bool = False) -> str:
    paint, values = Paint(color), Values()
    lines: list[str] = []
    for view in x.found:
        _number(lines, x.number, view, paint, values)
        lines.append("")
    lines.append(paint(summary(x), "bold"))
    return "\n".join(lines) + "\n"


def _number(lines: list[str], number: str, v: NumberView, paint: Paint, values: Values) -> None:
    state = v.status if v.patchable else f"{v.status}, not patchable"
    lines.append(
        paint(f"{number}  {v.account} ({v.carrier})", "bold") + f"  id {v.id}, status {state}"
    )
    if not v.managed:
        lines.append(f"  not managed by this configuration: no entry of {v.account} selects it")
    else:
        chain = " < ".join(
            f"{m.selector} ({', '.join(str(s) for s in m.entries)})" for m in v.matches
        )
        lines.append(f"  selected by {chain}")
    if v.job_id is not None:
        lines.append(
            paint(f"  live carrier job {v.job_id} ({v.job_status}) holds this number", "cyan")
        )
    for f in v.fields:
        if f.managed:
            _field(lines, v, f, paint, values)
    for call in v.calls:
        sent = list(call.patch)
        lines.append(
            f"  call: {call.operation}  sends {plural(len(sent), 'field')}: "
            + clip(", ".join(sent), WIDTH)
        )
    unmanaged = [f for f in v.fields if not f.managed]
    if unmanaged:
        text = ", ".join(
            f"{f.path}={clip(values.text(v.carrier, f.path, f.live), 60)}"
            + (" (sent as is)" if f.sent else "")
            for f in unmanaged
        )
        lines.extend(
            textwrap.wrap(
                f"unmanaged ({len(unmanaged)}): {text}",
                WIDTH,
                initial_indent="  ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
        )


def _field(lines: list[str], v: NumberView, f: FieldView, paint: Paint, values: Values) -> None:
    """``= path: value  ← origin`` (``~ path: live → desired``), then what it overrides and,
    unless in sync, what apply does about it."""
    if f.desired is None:
        return
    mark, style = MARKS[f.state]
    want = values.text(v.carrier, f.path, f.desired.value)
    if f.state is FieldState.IN_SYNC:
        head = f"{f.path}: {want}"
    else:
        head = f"{f.path}: {values.text(v.carrier, f.path, f.live)} → {want}"
        delta = values.delta(v.carrier, f.path, f.live, f.desired.value)
        head += f"  ({delta})" if delta else ""
    same = sum(1 for s in f.overridden if s.value == f.desired.value)
    also = f" (+{plural(same, 'layer')} the same)" if same else ""
    lines.append(paint(f"  {mark} {head}", style) + f"  ← {_origin(f.desired.origin)}" + also)
    for s in f.overridden:
        if s.value != f.desired.value:
            shown = values.text(v.carrier, f.path, s.value)
            lines.append(f"      overrides {shown} ← {_origin(s.origin)}")
    what = {
        FieldState.IN_SYNC: "",
        FieldState.CHANGE: f"changed by {f.operation}",
        FieldState.HELD: f"held by live job {f.job}: apply waits for it, nothing sent again",
        FieldState.CONFLICT: f"live job {f.job} sets another value: left out of this run",
        FieldState.NOT_PATCHABLE: f"not sent: the carrier does not let a {v.status} number change",
        FieldState.UNREADABLE: "not sent: the carrier could not tell the live value",
    }[f.state]
    if what:
        lines.append(paint(f"      {what}", style))


def _origin(o: Origin) -> str:
    """``+1312736* profile chicago-support, profiles.yaml:28``; the entry's own file:line is in
    the "selected by" line above."""
    if o.via is Via.SETTINGS and o.written is not None:
        return f"{o.selector} settings, {o.written}"
    if o.via is Via.PROFILE:
        return f"{o.selector} profile {o.profile}" + (f", {o.written}" if o.written else "")
    return f"{o.selector}, {o.entry}"


# --------------------------------------------------------------------------------------------
# JSON


def explain_document(x: Explanation) -> dict[str, Any]:
    """The ``explain --format json`` document as Python data (secrets already masked)."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": "explain",
        "number": x.number,
        "config": x.config,
        "read": list(x.read),
        "managed": x.managed,
        "line": summary(x),
        "found": [_view(v) for v in x.found],
    }


def explain_json(x: Explanation) -> str:
    return orjson.dumps(explain_document(x), option=orjson.OPT_INDENT_2).decode() + "\n"


def _view(v: NumberView) -> dict[str, Any]:
    return {
        "account": v.account,
        "carrier": v.carrier,
        "id": v.id,
        "status": v.status,
        "patchable": v.patchable,
        "managed": v.managed,
        "matches": [
            {"selector": m.selector, "exact": m.exact, "entries": [str(s) for s in m.entries]}
            for m in v.matches
        ],
        "fields": [_field_doc(f) for f in v.fields],
        "calls": [{"operation": c.operation, "patch": c.patch} for c in v.calls],
        "job": {"id": v.job_id, "status": v.job_status} if v.job_id is not None else None,
    }


def _field_doc(f: FieldView) -> dict[str, Any]:
    return {
        "field": f.path,
        "managed": f.managed,
        "state": str(f.state),
        "live": f.live,
        "desired": f.desired.value if f.desired is not None else None,
        "set_by": _origin_doc(f.desired.origin) if f.desired is not None else None,
        "overridden": [{"value": s.value, **_origin_doc(s.origin)} for s in f.overridden],
        "operation": f.operation,
        "call": f.operation if f.state is FieldState.CHANGE else None,
        "sent": f.sent,
        "job_id": f.job,
    }


def _origin_doc(o: Origin) -> dict[str, Any]:
    return {
        "selector": o.selector,
        "exact": o.exact,
        "entry": str(o.entry),
        "via": str(o.via),
        "profile": o.profile,
        "written": str(o.written) if o.written is not None else None,
    }


__all__ = ["explain_document", "explain_json", "explain_text", "summary"]
