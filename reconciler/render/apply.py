"""The apply report, one value for every form: what was sent and changed (grouped like a plan),
and what did not converge (grouped by cause), with counts that cannot go negative.

``outcome(report, plan)`` reduces a finished apply to an ``ApplyOutcome``; ``refused``,
``interrupted`` and ``nothing_to_do`` build the other endings. Per call an outcome (``ok``,
``partial``, ``failed``, ``pending``: a carrier job still running when the run stopped waiting,
``unknown``: no answer, ``in_flight``, ``not_sent``). The numbers that did not converge fall in
three disjoint groups: ``pending`` (held by a carrier job that may still run: the next run
follows it, never sends it twice), ``not_sent`` (the account stopped, or the run was refused or
interrupted) and ``failed`` (by (account, reason)). Counts are sizes of sets of numbers: the
numbers this run sent are the plan's less those held by earlier runs' jobs (``ApplyReport.held``).

``apply_text`` lays the outcome out for a terminal; ``markdown.apply_parts`` and
``jsonout.apply_document`` for a pull request and for scripts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..carriers import MASK
from ..plan import BulkCall, Plan
from ..seam import CallResult, CallStatus
from .common import (
    EXAMPLES,
    MAX_GROUPS,
    AccountView,
    Paint,
    Values,
    account_views,
    carrier_secrets,
    clip,
    examples,
    more,
    plural,
)

if TYPE_CHECKING:  # names only: a plan's render never loads the applier
    from ..applier import ApplyInterrupted, ApplyReport

STATUSES = ("applied", "partial", "refused", "interrupted", "nothing_to_do")
OUTCOMES = ("ok", "partial", "failed", "pending", "unknown", "in_flight", "not_sent")
STYLE = {
    "ok": "green",
    "partial": "yellow",
    "failed": "red",
    "pending": "cyan",
    "unknown": "yellow",
    "in_flight": "yellow",
    "not_sent": "red",
}
TEXT_CAUSES = 5
"""Changed-by-cause lines per account in the text report unless ``full`` (the plan was shown)."""


@dataclass(slots=True)
class CallOutcome:
    """One bulk call of the run and what became of it."""

    call: BulkCall
    outcome: str
    followed: bool = False
    """An earlier run's carrier job this run waited for (not sent by this run)."""
    job_id: str | None = None
    error: str | None = None
    failed: int = 0


@dataclass(slots=True)
class NumberGroup:
    """Numbers of one account that did not converge for one reason (``job_id``: pending)."""

    account: str
    reason: str
    e164s: list[str] = field(default_factory=list)
    job_id: str | None = None


@dataclass
class ApplyOutcome:
    status: str
    exit_code: int
    plan: Plan
    """The plan this run sent (held numbers are not in it)."""
    calls: list[CallOutcome] = field(default_factory=list)
    converged: Plan | None = None
    """``plan`` cut down to the numbers that reached their desired state (its causes)."""
    planned: int = 0
    held: int = 0
    held_settled: int = 0
    verified: int = 0
    requests: int = 0
    failed: list[NumberGroup] = field(default_factory=list)
    pending: list[NumberGroup] = field(default_factory=list)
    not_sent: list[NumberGroup] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    """Refused: why; interrupted: what was sent and what was not."""

    @property
    def changed(self) -> int:
        return self.converged.changed if self.converged is not None else 0

    @property
    def sent_calls(self) -> int:
        return sum(1 for c in self.calls if not c.followed and c.outcome != "not_sent")

    def count(self, groups: list[NumberGroup]) -> int:
        """Distinct numbers: one held by two jobs (two operations) counts once."""
        return len({(g.account, e) for g in groups for e in g.e164s})

    @property
    def line(self) -> str:
        return summary(self)


# --------------------------------------------------------------------------------------------
# Building the outcome


def outcome(report: ApplyReport, plan: Plan) -> ApplyOutcome:
    """A finished apply (``report``) of ``plan`` (with or without the held numbers)."""
    scrub = _scrubber(plan)
    held, not_converged = report.held, report.failed  # both keyed (account, e164)
    pending: dict[tuple[str, str], NumberGroup] = {}
    pending_keys: set[tuple[str, str]] = set()
    bad: set[tuple[str, str]] = set()  # (account, e164) not converged
    calls = []
    for r in report.results:
        e164_of = dict(zip(r.call.ids, r.call.e164s, strict=False))
        kind = _kind(r)
        if kind == "pending" and r.job_id is not None:
            for id_, why in r.failed.items():
                key = (r.call.account, e164_of.get(id_, id_))
                # A number held by jobs of two operations is listed under each (issue 17).
                if key in not_converged:
                    group = pending.setdefault(
                        (r.call.account, r.job_id),
                        NumberGroup(r.call.account, scrub(why), job_id=r.job_id),
                    )
                    group.e164s.append(key[1])
                    pending_keys.add(key)
        bad |= {(r.call.account, e164_of.get(i, i)) for i in r.failed}
        calls.append(
            CallOutcome(
                r.call,
                kind,
                followed=bool(r.call.e164s)
                and all((r.call.account, e) in held for e in r.call.e164s),
                job_id=r.job_id,
                error=scrub(r.error) if r.error else None,
                failed=len(r.failed) if r.status is not CallStatus.FAILED else len(r.call.ids),
            )
        )
    not_sent: dict[str, NumberGroup] = {}
    for call in report.not_attempted:
        why = f"not sent: the account stopped ({scrub(report.stopped.get(call.account, ''))})"
        not_sent.setdefault(call.account, NumberGroup(call.account, why)).e164s.extend(call.e164s)
        calls.append(CallOutcome(call, "not_sent", failed=len(call.ids)))
    unsent = {(g.account, e) for g in not_sent.values() for e in g.e164s}
    failed: dict[tuple[str, str], NumberGroup] = {}
    for (account, e164), why in sorted(not_converged.items()):
        if (account, e164) in pending_keys or (account, e164) in unsent:
            continue
        reason = scrub(why)
        failed.setdefault((account, reason), NumberGroup(account, reason)).e164s.append(e164)
    out = _base(plan, report, held, bad | set(not_converged) | unsent, calls)
    out.failed, out.pending = _ordered(failed.values()), _ordered(pending.values())
    out.not_sent = _ordered(not_sent.values())
    out.stopped = {a: scrub(e) for a, e in report.stopped.items()}
    out.status = "applied" if report.exit_code == 0 else "partial"
    out.exit_code = report.exit_code
    return out


def refused(plan: Plan, reason: str, exit_code: int = 3) -> ApplyOutcome:
    """Apply refused before sending anything (a stale plan, a safety rail)."""
    out = ApplyOutcome("refused", exit_code, plan, reason=_scrubber(plan)(reason))
    out.calls = [CallOutcome(c, "not_sent", failed=len(c.ids)) for c in plan.calls]
    out.not_sent = _by_account(plan.calls, "not sent: apply refused (nothing was sent)")
    out.planned = plan.changed
    out.converged = plan.without({(c.account, c.id) for c in plan.changes})
    return out


def nothing_to_do(plan: Plan) -> ApplyOutcome:
    return ApplyOutcome("nothing_to_do", 0, plan, converged=plan.without(set()), planned=0)


def interrupted(exc: ApplyInterrupted, plan: Plan, exit_code: int = 130) -> ApplyOutcome:
    """Ctrl-C: the calls that finished, those in flight (outcome unknown) and those not sent."""
    scrub, report = _scrubber(plan), exc.report
    calls: list[CallOutcome] = []
    bad: set[tuple[str, str]] = set()
    failed: dict[tuple[str, str], NumberGroup] = {}
    for r in report.results:
        error = scrub(r.error) if r.error else None
        calls.append(CallOutcome(r.call, _kind(r), job_id=r.job_id, error=error))
        e164_of = dict(zip(r.call.ids, r.call.e164s, strict=False))
        for id_, why in r.failed.items():
            account, number, reason = r.call.account, e164_of.get(id_, id_), scrub(why)
            bad.add((account, number))
            group = failed.setdefault((account, reason), NumberGroup(account, reason))
            group.e164s.append(number)
    calls += [CallOutcome(c, "in_flight", failed=len(c.ids)) for c in exc.in_flight]
    calls += [CallOutcome(c, "not_sent", failed=len(c.ids)) for c in exc.not_sent]
    finished = {(r.call.account, e) for r in report.results for e in r.call.e164s}
    unfinished = {(c.account, c.e164) for c in plan.changes} - finished
    out = _base(plan, report, report.held, bad | unfinished, calls)
    out.status, out.exit_code, out.reason = "interrupted", exit_code, " ".join(exc.lines()[:1])
    out.failed = _ordered(failed.values())
    out.pending = [
        NumberGroup(g.account, "in flight when interrupted: the next run settles it", g.e164s)
        for g in _by_account(exc.in_flight, "")
    ]
    out.not_sent = _by_account(exc.not_sent, "not sent: interrupted")
    return out


def _base(
    plan: Plan,
    report: ApplyReport,
    held: dict[tuple[str, str], str],
    bad: set[tuple[str, str]],
    calls: list[CallOutcome],
) -> ApplyOutcome:
    """The counts: sets of (account, e164), so no figure can be negative."""
    planned = {(c.account, c.e164) for c in plan.changes} - held.keys()
    drop = {(c.account, c.id) for c in plan.changes if (c.account, c.e164) in bad | held.keys()}
    calls.sort(key=lambda c: (c.call.account, c.followed, c.call.e164s[:1], -len(c.call.ids)))
    return ApplyOutcome(
        "applied",
        0,
        plan,
        calls=calls,
        converged=plan.without(drop),
        planned=len(planned),
        held=len(held),
        held_settled=len(held.keys() - bad),
        verified=report.verified,
        requests=report.requests,
    )


def _kind(r: CallResult) -> str:
    if r.status is CallStatus.OK:
        return "ok"
    if r.outcome_unknown and r.job_id and r.cause is None:
        return "pending"  # a job we stopped waiting for (not one we lost track of)
    if r.outcome_unknown and not r.job_id:
        return "unknown"
    return str(r.status)


def _by_account(calls: list[BulkCall] | tuple[BulkCall, ...], reason: str) -> list[NumberGroup]:
    groups: dict[str, NumberGroup] = {}
    for c in calls:
        groups.setdefault(c.account, NumberGroup(c.account, reason)).e164s.extend(c.e164s)
    return _ordered(groups.values())


def _ordered(groups: Iterable[NumberGroup]) -> list[NumberGroup]:
    out = list(groups)
    for g in out:  # a number in calls of several operations is listed once (issue 17)
        g.e164s[:] = sorted(set(g.e164s))
    return sorted(out, key=lambda g: (g.account, -len(g.e164s), g.reason))


def _scrubber(plan: Plan) -> Callable[[str], str]:
    """Replace the values of secret fields the plan sends wherever a carrier echoes them."""
    secrets = {
        str(v)
        for c in plan.calls
        for k, v in c.patch.items()
        if k in carrier_secrets(c.carrier) and v is not None and len(str(v)) >= 4
    }

    def scrub(text: str) -> str:
        for s in secrets:
            text = text.replace(s, MASK)
        return text

    return scrub


# --------------------------------------------------------------------------------------------
# The outcome line


def summary(o: ApplyOutcome) -> str:
    """The last line of the report (scripts may grep ``Apply complete``/``Apply partial``)."""
    if o.status == "nothing_to_do":
        return "Nothing to apply: the accounts match the configuration."
    if o.status == "refused":
        first = o.reason.strip().splitlines()[0] if o.reason.strip() else "refused"
        return f"Apply refused, nothing was sent: {first}"
    if o.status == "interrupted":
        return o.reason or "Apply interrupted."
    pending = o.count(o.pending)
    jobs = sorted({g.job_id for g in o.pending if g.job_id})
    held_by = f"held by live carrier {'job' if len(jobs) == 1 else 'jobs'} ({examples(jobs)})"
    bad = o.planned - o.changed
    held_bad = o.held - o.held_settled
    if o.stopped:
        line = "Apply stopped for " + "; ".join(f"{a}: {e}" for a, e in sorted(o.stopped.items()))
        return f"{line}. {o.changed} of {o.planned} numbers converged."
    if o.planned == 0 and o.held:
        if not held_bad:
            return (
                f"Nothing sent: the {plural(o.held, 'number')} held by earlier carrier jobs "
                f"landed; {o.verified} verified by re-reading the carrier."
            )
        line = "Nothing sent: "
        if pending:
            line += (
                f"{plural(pending, 'number is', 'numbers are')} {held_by}; run again after "
                f"{'it finishes' if len(jobs) == 1 else 'they finish'}."
            )
        other = held_bad - pending
        if other > 0:
            line += f" {plural(other, 'number')} held by earlier jobs did not converge."
        if o.held_settled:
            line += f" {o.held_settled} of the {o.held} held numbers landed and were verified."
        return line
    if not bad and not held_bad and o.exit_code == 0:
        line = (
            f"Apply complete: {o.planned} numbers changed in {plural(o.sent_calls, 'bulk call')}, "
            f"{o.verified} verified by re-reading the carrier."
        )
        if o.held:
            line += f" ({plural(o.held, 'number')} of earlier carrier jobs among them.)"
        return line
    line = (
        f"Apply partial: {o.changed} of {o.planned} numbers converged, {bad} did not "
        f"({plural(o.requests, 'request')})."
    )
    if pending:
        line += (
            f" {plural(pending, 'number is', 'numbers are')} {held_by}; run again after "
            f"{'it finishes' if len(jobs) == 1 else 'they finish'}."
        )
    if held_bad - pending > 0 and o.held:
        line += f" {held_bad} of {o.held} numbers held by earlier jobs did not converge."
    if o.count(o.failed) or o.count(o.not_sent):
        line += " Run plan again to see what is still off."
    return line


# --------------------------------------------------------------------------------------------
# Text


def apply_text(
    report: ApplyReport | ApplyOutcome,
    plan: Plan | None = None,
    *,
    color: bool = False,
    limit: int = 20,
    full: bool = False,
) -> str:
    """The report as one string: per account its calls by outcome, the calls not fully applied
    (up to ``limit``), what changed by cause, what did not converge by cause, pending and unsent
    numbers (a few numbers each; ``full``: every one); the outcome line last."""
    o = report if isinstance(report, ApplyOutcome) else outcome(report, _need(plan))
    paint, values = Paint(color), Values()
    lines: list[str] = []
    if o.status == "refused":
        lines.append(paint(o.reason.rstrip(), "red"))
    views = {v.summary.account: v for v in account_views(o.converged)} if o.converged else {}
    accounts = sorted({c.call.account for c in o.calls} | {g.account for g in _groups(o)})
    for account in accounts:
        calls = [c for c in o.calls if c.call.account == account]
        counts = Counter(c.outcome for c in calls)
        parts = ", ".join(
            paint(f"{counts[s]} {s.replace('_', ' ')}", STYLE[s]) for s in OUTCOMES if counts[s]
        )
        numbers = sum(len(c.call.ids) for c in calls)
        head = f"{paint(account, 'bold')}: {parts or 'no'} of {plural(len(calls), 'bulk call')}"
        lines.append(f"{head} ({plural(numbers, 'number')})")
        bad = not_ok(calls)
        for group in bad if full else bad[:limit]:
            lines.append(_call_line(group, paint))
        if not full and len(bad) > limit:
            rest = sum(len(g) for g in bad[limit:])
            lines.append(f"  {more(rest, 'more calls not fully applied')}")
        view = views.get(account)
        if view is not None and view.causes and o.status != "refused":
            _changed_lines(lines, view, paint, values, full)
        _group_lines(lines, "Did not converge, by cause", "✗", o.failed, account, paint, full)
        _group_lines(lines, "Held by live carrier jobs", "○", o.pending, account, paint, full)
        _group_lines(lines, "Not sent", "-", o.not_sent, account, paint, full)
    if not full and any(len(g.e164s) > EXAMPLES for g in _groups(o)):
        lines.append("Every number: --full.")
    bad_end = o.status in ("partial", "refused", "interrupted")
    lines.append(paint(summary(o), "bold red" if bad_end else "bold green"))
    return "\n".join(lines) + "\n"


def _need(plan: Plan | None) -> Plan:
    if plan is None:
        raise TypeError("an ApplyReport renders with the plan it applied")
    return plan


def _groups(o: ApplyOutcome) -> list[NumberGroup]:
    return [*o.failed, *o.pending, *o.not_sent]


def not_ok(calls: list[CallOutcome]) -> list[list[CallOutcome]]:
    """The calls not fully applied, those with the same outcome and error as one group (12
    calls refused for one reason are one line); biggest groups first."""
    groups: dict[tuple[str, str, bool], list[CallOutcome]] = {}
    for c in calls:
        if c.outcome != "ok":
            key = (c.outcome, "" if c.outcome == "pending" else c.error or "", c.followed)
            groups.setdefault(key, []).append(c)
    return sorted(groups.values(), key=lambda g: -sum(len(c.call.ids) for c in g))


def _call_line(group: list[CallOutcome], paint: Paint) -> str:
    first = group[0]
    n = sum(len(c.call.ids) for c in group)
    calls = f"{plural(len(group), 'call')}, " if len(group) > 1 else ""
    line = paint(f"  {first.outcome.replace('_', ' '):<9}", STYLE.get(first.outcome, "red"))
    line += calls + plural(n, "number")
    if first.outcome in ("partial", "failed", "pending"):
        line += f", {max(0, n - sum(c.failed for c in group))} applied"
    if first.followed:
        line += ", earlier runs' jobs" if len(group) > 1 else ", an earlier run's job"
    detail = "" if first.outcome == "pending" else first.error or ""  # pending: with its numbers
    jobs = [c.job_id for c in group if c.job_id and c.job_id not in detail]  # each id once
    if jobs:
        line += paint(f"  {'job' if len(jobs) == 1 else 'jobs'} {examples(jobs)}", "dim")
    if first.outcome == "unknown":
        line += "  (no answer: the outcome is known after verify)"
    if detail:
        line += paint(f"  {detail}", "red")
    return line


def _changed_lines(
    lines: list[str], view: AccountView, paint: Paint, values: Values, full: bool
) -> None:
    causes = view.causes if full else view.causes[:TEXT_CAUSES]
    lines.append(
        f"  Changed, by cause ({plural(len(view.changes), 'number')}, "
        f"{plural(len(view.causes), 'cause')}):"
    )
    for c in causes:
        old = values.text(c.carrier, c.field, c.old)
        new = values.text(c.carrier, c.field, c.new)
        lines.append(
            f"    {paint('~', 'green')} {paint(c.field, 'bold')}: {clip(old)} → {clip(new)}  "
            f"{paint(plural(len(c.e164s), 'number'), 'cyan')}: {_some(c.e164s, full)}"
        )
    if len(causes) < len(view.causes):
        lines.append(f"    {more(len(view.causes) - len(causes), 'more causes')} (--full)")


def _group_lines(
    lines: list[str],
    title: str,
    mark: str,
    groups: list[NumberGroup],
    account: str,
    paint: Paint,
    full: bool,
) -> None:
    mine = [g for g in groups if g.account == account]
    if not mine:
        return
    n = len({e for g in mine for e in g.e164s})  # a number under two jobs counts once
    lines.append(paint(f"  {title} ({plural(n, 'number')}):", "bold"))
    shown = mine if full else mine[:MAX_GROUPS]
    for g in shown:
        lines.append(
            paint(f"    {mark} {g.reason}", STYLE["failed" if mark == "✗" else "pending"])
            + f"  {paint(plural(len(g.e164s), 'number'), 'cyan')}: {_some(g.e164s, full)}"
        )
    if len(shown) < len(mine):
        rest = mine[len(shown) :]
        lines.append(
            f"    {more(len(rest), 'more causes')} "
            f"({plural(sum(len(g.e164s) for g in rest), 'number')}; --full)"
        )


def _some(e164s: list[str], full: bool) -> str:
    return ", ".join(e164s) if full else examples(e164s)
