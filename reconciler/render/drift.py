"""The drift report for cron: findings grouped by cause, not one block per number.

A cause is (account, field, desired, actual) → count and the first numbers. Unmanaged numbers
are a count per account; ``verbose`` adds every drifted number, every cause, and the unmanaged
numbers themselves when the plan carries them (``AccountSummary.unmanaged_numbers``, optional).
"""

from __future__ import annotations

from ..plan import Plan
from .common import Paint, Values, account_views, drift_line, more, no_drift_line, plural
from .text import cause_lines, number_lines, tail_lines, warning_lines

UNMANAGED_SHOWN = 200
"""Unmanaged numbers listed with ``verbose`` before "… and N more"."""


def drift_text(plan: Plan, *, verbose: bool = False, color: bool = False) -> str:
    """The drift report as one string (ends with the drift line, or the no-drift line)."""
    paint, values = Paint(color), Values()
    lines = warning_lines(plan, paint)
    for view in account_views(plan):
        s = view.summary
        drifted = len(view.changes)
        lines.append(
            paint(s.account, "bold") + f" ({s.carrier}): {plural(drifted, 'number')} drifted"
            f" ({plural(view.fields, 'field')}),"
            f" {s.in_sync} in sync, {s.unmanaged} unmanaged"
        )
        cause_lines(lines, view.causes, paint, values, verbose, plan_words=False)
        if verbose:
            number_lines(lines, view, paint, values, True, 0)
            unmanaged = s.unmanaged_numbers  # when collected
            if unmanaged:
                lines.append(
                    f"  Unmanaged ({len(unmanaged)}): " + ", ".join(unmanaged[:UNMANAGED_SHOWN])
                )
                if len(unmanaged) > UNMANAGED_SHOWN:
                    lines.append(f"  {more(len(unmanaged) - UNMANAGED_SHOWN)}")
        tail_lines(lines, view, paint, verbose, 20)
        lines.append("")
    if plan.has_changes:
        if not verbose:
            lines.append("Every drifted number and cause: --all.")
        lines.append(paint(drift_line(plan), "bold"))
    else:
        lines.append(paint(no_drift_line(plan), "bold"))
    return "\n".join(lines) + "\n"
