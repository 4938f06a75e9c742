"""The apply report: per account the calls by status, then the calls that did not fully succeed
and the numbers not in their desired state, each list bounded with "… and N more"."""

from __future__ import annotations

from collections import Counter

from ..applier import ApplyReport
from ..plan import Plan
from .common import Paint, more, plural

STYLE = {"ok": "green", "partial": "yellow", "failed": "red"}


def apply_text(report: ApplyReport, plan: Plan, *, color: bool = False, limit: int = 20) -> str:
    """The report as one string, ending with the outcome line."""
    paint = Paint(color)
    lines: list[str] = []
    statuses: dict[str, Counter[str]] = {}
    numbers: Counter[str] = Counter()
    for r in report.results:
        statuses.setdefault(r.call.account, Counter())[str(r.status)] += 1
        numbers[r.call.account] += len(r.call.ids)
    for account in sorted(statuses):
        counts = statuses[account]
        parts = ", ".join(
            paint(f"{counts[s]} {s}", STYLE[s]) for s in ("ok", "partial", "failed") if counts[s]
        )
        total = sum(counts.values())
        lines.append(
            f"{paint(account, 'bold')}: {parts} of {plural(total, 'bulk call')} "
            f"({plural(numbers[account], 'number')})"
        )

    bad = sorted(
        (r for r in report.results if str(r.status) != "ok"),
        key=lambda r: (r.call.account, r.call.e164s[:1]),
    )
    for r in bad[:limit]:
        status = str(r.status)
        applied = len(r.call.ids) - len(r.failed) if status != "failed" else 0
        line = paint(f"  {status:<8}", STYLE.get(status, "red"))
        line += f"{r.call.account}  {len(r.call.ids)} numbers, {applied} applied"
        if r.job_id:
            line += paint(f"  job {r.job_id}", "dim")
        if r.outcome_unknown:
            line += "  (no answer: outcome unknown until verified)"
        if r.error:
            line += paint(f"  {r.error}", "red")
        lines.append(line)
    if len(bad) > limit:
        lines.append(f"  {more(len(bad) - limit, 'more calls not fully applied')}")
    if report.not_attempted:
        n = sum(len(c.ids) for c in report.not_attempted)
        lines.append(
            paint(
                f"Not sent: {plural(len(report.not_attempted), 'bulk call')} "
                f"({plural(n, 'number')}) after the account stopped.",
                "red",
            )
        )

    if report.failed:
        lines.append(
            paint(f"Numbers not in their desired state ({len(report.failed)}):", "bold red")
        )
        failed = sorted(report.failed.items())
        for (account, e164), reason in failed[:limit]:
            lines.append(paint(f"  ✗ {account} {e164}: {reason}", "red"))
        if len(failed) > limit:
            lines.append(f"  {more(len(failed) - limit)}")

    changed, nbad = plan.changed, len(report.failed)
    if report.stopped:
        msg = "Apply stopped for " + "; ".join(
            f"{a}: {e}" for a, e in sorted(report.stopped.items())
        )
    elif nbad:
        msg = (
            f"Apply partial: {changed - nbad} of {changed} numbers converged, {nbad} did not "
            f"({report.requests} requests). Run plan again to see what is still off."
        )
    else:
        msg = (
            f"Apply complete: {changed} numbers changed in {len(report.results)} bulk calls, "
            f"{report.verified} verified by re-reading the carrier."
        )
    lines.append(paint(msg, "bold red" if (nbad or report.stopped) else "bold green"))
    return "\n".join(lines) + "\n"
