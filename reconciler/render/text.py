"""The text plan: terraform-like and compact at any size.

Per account a figures line, the bulk calls grouped by patch, the changes grouped by cause
(field, old → new, count, first numbers, "… and N more"), then per-number detail up to
``limit`` numbers (``full``: every number, every group). Warnings come first. The whole text is
built as a list of lines and written once.
"""

from __future__ import annotations

from typing import Any

from ..plan import NumberChange, Plan
from .common import (
    MAX_GROUPS,
    AccountView,
    Cause,
    Paint,
    Values,
    account_views,
    clip,
    examples,
    label,
    more,
    patch_text,
    plural,
    summary_line,
    warning_text,
    warnings_of,
)


def plan_text(plan: Plan, *, full: bool = False, color: bool = False, limit: int = 20) -> str:
    """The text plan as one string (ends with the ``summary_line``)."""
    paint, values = Paint(color), Values()
    lines = warning_lines(plan, paint)
    for view in account_views(plan):
        account_head(lines, view, paint)
        if view.changes:
            call_lines(lines, view, paint, values, full)
            if len(view.changes) > limit:  # else every number is listed below: no summary needed
                cause_lines(lines, view.causes, paint, values, full, plan_words=True)
            number_lines(lines, view, paint, values, full, limit)
        tail_lines(lines, view, paint, full, limit)
        lines.append("")
    warned = warnings_of(plan)
    if warned:
        rails = ", ".join(sorted({str(w.rail) for w in warned}))
        lines.append(paint(f"! {plural(len(warned), 'warning')} above ({rails}).", "bold yellow"))
    lines.append(paint(summary_line(plan), "bold"))
    return "\n".join(lines) + "\n"


def warning_lines(plan: Plan, paint: Paint) -> list[str]:
    warned = warnings_of(plan)
    if not warned:
        return []
    return [paint(f"! Warning: {warning_text(w)}", "bold yellow") for w in warned] + [""]


def account_head(lines: list[str], view: AccountView, paint: Paint) -> None:
    s = view.summary
    head = (
        f" ({s.carrier}): {s.total} numbers, {s.changed} to change, {s.in_sync} in sync, "
        f"{s.unmanaged} unmanaged"
    )
    if view.changes:
        head += f"; {plural(s.calls, 'bulk call')} (lower bound {s.lower_bound})"
    lines.append(paint(s.account, "bold") + head)
    for line in operation_lines(s):
        lines.append("  " + line)


def operation_lines(s: Any) -> list[str]:
    """Per operation (carriers with several, when the plan uses more than the primary one) and
    the fields whose live value the carrier could not tell."""
    out = [
        f"{o.operation}: {plural(o.changed, 'number')}, {plural(o.calls, 'call')} "
        f"(lower bound {o.lower_bound}, at most {o.max_batch} per call)"
        for o in s.operations
        if o.changed
    ]
    out += [
        f"{field}: unknown on {plural(n, 'number')} (the carrier could not read it); not "
        "planned from"
        for field, n in s.unreadable
    ]
    return out


def call_lines(
    lines: list[str], view: AccountView, paint: Paint, values: Values, full: bool
) -> None:
    groups = view.groups
    if not groups:
        return
    lines.append(
        f"  Bulk calls, by patch ({plural(len(groups), 'distinct patch', 'distinct patches')}):"
    )
    shown = groups if full else groups[:MAX_GROUPS]
    for g in shown:
        lines.append(
            f"    {plural(g.calls, 'call'):>9}  {label(g.carrier, g.operation)}  "
            + paint(plural(g.numbers, "number"), "cyan")
            + "  "
            + paint(patch_text(values, g.carrier, g.patch), "dim")
        )
    if len(shown) < len(groups):
        rest = groups[len(shown) :]
        calls, numbers = sum(g.calls for g in rest), sum(g.numbers for g in rest)
        lines.append(
            f"    {more(len(rest), 'more patches')} ({plural(calls, 'call')}, "
            f"{plural(numbers, 'number')})"
        )


def cause_lines(
    lines: list[str],
    causes: list[Cause],
    paint: Paint,
    values: Values,
    full: bool,
    *,
    plan_words: bool,
) -> None:
    """One line per cause; ``plan_words``: "old → new", else "desired …, actual …" (drift)."""
    if not causes:
        return
    lines.append(
        f"  {'Changes' if plan_words else 'Drift'} by cause ({plural(len(causes), 'cause')}):"
    )
    shown = causes if full else causes[:MAX_GROUPS]
    for c in shown:
        old = clip(values.text(c.carrier, c.field, c.old))
        new = clip(values.text(c.carrier, c.field, c.new))
        delta = values.delta(c.carrier, c.field, c.old, c.new)
        what = (
            f"{paint(old, 'red')} → {paint(new, 'green')}"
            if plan_words
            else (f"desired {paint(new, 'green')}, actual {paint(old, 'red')}")
        )
        lines.append(
            f"    {paint('~', 'yellow')} {paint(c.field, 'bold')}: {what}"
            + (paint(f"  ({clip(delta)})", "dim") if delta else "")
            + f"  {paint(plural(len(c.e164s), 'number'), 'cyan')}: {examples(c.e164s)}"
        )
    if len(shown) < len(causes):
        rest = causes[len(shown) :]
        lines.append(
            f"    {more(len(rest), 'more causes')}"
            f" ({sum(len(c.e164s) for c in rest)} field changes)"
        )


def number_lines(
    lines: list[str], view: AccountView, paint: Paint, values: Values, full: bool, limit: int
) -> None:
    changes = view.changes
    shown = changes if full else changes[: max(limit, 0)]
    if not shown:
        return
    first = "" if len(shown) == len(changes) else f"first {len(shown)} of {len(changes)}"
    lines.append(f"  Numbers{f' ({first})' if first else ''}:")
    carrier = view.summary.carrier
    for change in shown:
        lines.extend(number_block(change, carrier, paint, values))
    if len(shown) < len(changes):
        lines.append(f"  {more(len(changes) - len(shown), 'more numbers')} (every number: --full)")


def number_block(change: NumberChange, carrier: str, paint: Paint, values: Values) -> list[str]:
    out = [
        f"  {paint('~', 'yellow')} {paint(change.e164, 'bold')}"
        f"  {paint(f'(id {change.id})', 'dim')}"
    ]
    for f in change.changes:
        delta = values.delta(carrier, f.field, f.old, f.new)
        out.append(
            f"      {paint(f.field, 'bold')}: {paint(values.text(carrier, f.field, f.old), 'red')}"
            f" → {paint(values.text(carrier, f.field, f.new), 'green')}"
            + (paint(f"  ({delta})", "dim") if delta else "")
        )
    return out


def tail_lines(lines: list[str], view: AccountView, paint: Paint, full: bool, limit: int) -> None:
    """Numbers that will not be patched (status) and declared numbers the account lacks."""
    s = view.summary
    bound = None if full else max(limit, 1)
    for e164, status in s.not_patchable[:bound]:
        if status.startswith("carrier data"):  # the carrier's answer could not be read
            why = f"{status}: unreadable at the carrier; not planned from a guess"
        else:
            why = f"status {status}: the carrier does not allow changes; not patched"
        lines.append(paint(f"  ! {e164}  {why}", "magenta"))
    if bound is not None and len(s.not_patchable) > bound:
        lines.append(f"  {more(len(s.not_patchable) - bound, 'more not patchable')}")
    for e164 in s.missing[:bound]:
        lines.append(
            paint(
                f"  ✗ {e164}  declared in the YAML but the account has no such number "
                "(we never buy numbers)",
                "bold red",
            )
        )
    if bound is not None and len(s.missing) > bound:
        lines.append(f"  {more(len(s.missing) - bound, 'more missing')}")
