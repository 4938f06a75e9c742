"""``--format markdown``: a pull-request comment, split into parts that each fit a comment.

The document is built as blocks (text chunks, tables, collapsible ``<details>`` sections) and
then laid out into parts of at most ``max_chars`` characters: a part never ends inside a table
row; a table continued on the next part repeats its title and header, and an open ``<details>``
is closed at the end of a part and reopened "(continued)" on the next. Every part carries the
marker line verbatim (so a CI step finds all of them) and a part marker ``<!-- … part i/n -->``
(so it can update each in place); split documents say "(part i/n)" visibly too.
"""

from __future__ import annotations

from ..plan import AccountSummary, Plan
from .apply import STYLE, ApplyOutcome, CallOutcome, NumberGroup, not_ok
from .common import (
    CLIP,
    MAX_GROUPS,
    AccountView,
    Values,
    account_views,
    clip,
    drift_line,
    examples,
    label,
    more,
    no_drift_line,
    plural,
    summary_line,
    warnings_of,
)
from .mdlayout import Block, Chunk, Details, Table, code, esc, head, header, row, split, whole
from .text import operation_lines

MARKER = "<!-- reconciler-plan -->"
DRIFT_MARKER = "<!-- reconciler-drift -->"
"""Drift reports carry their own marker, so a CI step never mistakes one for a plan comment."""
APPLY_MARKER = "<!-- reconciler-apply -->"
"""Apply reports too (docs/output.md: a stable shape for the PR comment and job summary)."""
GITHUB_LIMIT = 65536
"""GitHub refuses an issue or pull-request comment body longer than this."""


# --------------------------------------------------------------------------------------------
# Public


def markdown_parts(
    plan: Plan,
    *,
    drift: bool = False,
    max_chars: int = GITHUB_LIMIT,
    marker: str = MARKER,
    limit: int = 20,
    full: bool = False,
) -> list[str]:
    """The plan (or drift report) as Markdown comments of at most ``max_chars`` characters each.

    Raises ValueError when ``max_chars`` cannot hold even one table row with its header.
    """
    blocks = drift_blocks(plan, limit, full) if drift else plan_blocks(plan, limit, full)
    what = "drift" if drift else "plan"
    guess = 1
    while True:
        reserve = len(head(marker, what, guess, guess))
        bodies = split(blocks, max_chars - reserve)
        if len(str(len(bodies))) <= len(str(guess)):
            break
        guess = len(bodies)
    n = len(bodies)
    return [head(marker, what, i, n) + body for i, body in enumerate(bodies, 1)]


def markdown_text(
    plan: Plan, *, drift: bool = False, marker: str = MARKER, limit: int = 20, full: bool = False
) -> str:
    """The whole document unsplit (one part, whatever its size)."""
    blocks = drift_blocks(plan, limit, full) if drift else plan_blocks(plan, limit, full)
    return head(marker, "drift" if drift else "plan", 1, 1) + "".join(whole(b) for b in blocks)


# --------------------------------------------------------------------------------------------
# Documents


def plan_blocks(plan: Plan, limit: int, full: bool) -> list[Block]:
    blocks: list[Block] = [Chunk(f"### reconciler plan\n\n**{esc(summary_line(plan))}**\n\n")]
    blocks += _warnings(plan)
    rows = [
        row(
            f"`{esc(a.account)}`",
            esc(a.carrier),
            a.total,
            a.changed,
            a.in_sync,
            a.unmanaged,
            a.calls,
            a.lower_bound,
            len(a.not_patchable),
            len(a.missing),
        )
        for a in plan.accounts
    ]
    heads = (
        "account",
        "carrier",
        "numbers",
        "to change",
        "in sync",
        "unmanaged",
        "bulk calls",
        "lower bound",
        "not patchable",
        "missing",
    )
    blocks.append(Table("Accounts", header(*heads, right=heads[2:]), rows))
    values = Values()
    for view in account_views(plan):
        s = view.summary
        if not (view.changes or s.not_patchable or s.missing):
            continue
        d = Details(
            f"<b>{esc(s.account)}</b> ({esc(s.carrier)}): {plural(s.changed, 'number')} "
            f"to change in {plural(s.calls, 'bulk call')}"
        )
        ops = operation_lines(s)
        if ops:  # carriers with several operations: each one's calls and bound
            d.blocks.append(Chunk("".join(f"- {esc(line)}\n" for line in ops) + "\n"))
        d.blocks += _calls(view, values, full)
        d.blocks += _causes(view, values, full, drift=False)
        d.blocks += _numbers(view, values, limit, full)
        d.blocks += _tails(view, limit, full)
        blocks.append(d)
    return blocks


def drift_blocks(plan: Plan, limit: int, full: bool) -> list[Block]:
    line = drift_line(plan) if plan.has_changes else no_drift_line(plan)
    blocks: list[Block] = [Chunk(f"### reconciler drift\n\n**{esc(line)}**\n\n")]
    blocks += _warnings(plan)
    views = account_views(plan)
    rows = [
        row(
            f"`{esc(v.summary.account)}`",
            esc(v.summary.carrier),
            v.summary.total,
            len(v.changes),
            v.fields,
            v.summary.in_sync,
            v.summary.unmanaged,
        )
        for v in views
    ]
    heads = ("account", "carrier", "numbers", "drifted", "fields", "in sync", "unmanaged")
    blocks.append(Table("Accounts", header(*heads, right=heads[2:]), rows))
    values = Values()
    for view in views:
        s = view.summary
        if not (view.changes or s.not_patchable or s.missing or (full and unmanaged(s))):
            continue
        d = Details(
            f"<b>{esc(s.account)}</b> ({esc(s.carrier)}): "
            f"{plural(len(view.changes), 'number')} drifted"
        )
        d.blocks += _causes(view, values, full, drift=True)
        d.blocks += _numbers(view, values, limit, full)
        d.blocks += _tails(view, limit, full)
        if full and unmanaged(s):
            rows = [row(esc(e)) for e in unmanaged(s)]
            d.blocks.append(Table("Unmanaged (no selector matches)", header("number"), rows))
        blocks.append(d)
    return blocks


def unmanaged(summary: AccountSummary) -> tuple[str, ...]:
    """The unmanaged numbers when the run collected them (``drift -v``)."""
    return summary.unmanaged_numbers


def _warnings(plan: Plan) -> list[Block]:
    out: list[Block] = []
    for w in warnings_of(plan):
        where = f" (`{esc(w.account)}`)" if w.account else ""
        message = esc(w.message).replace("\n", " ")
        out.append(Chunk(f"> [!WARNING]\n> **{esc(str(w.rail))}**{where}: {message}\n\n"))
    return out


def _calls(view: AccountView, values: Values, full: bool) -> list[Table]:
    groups = view.groups if full else view.groups[:MAX_GROUPS]
    rows = [
        row(
            g.calls,
            f"`{esc(label(g.carrier, g.operation))}`",
            g.numbers,
            ", ".join(
                f"{esc(k)}={code(clip(values.text(g.carrier, k, v)))}" for k, v in g.patch.items()
            ),
        )
        for g in groups
    ]
    rest = view.groups[len(groups) :]
    if rest:
        rows.append(
            row(
                sum(g.calls for g in rest),
                "",
                sum(g.numbers for g in rest),
                more(len(rest), "more patches"),
            )
        )
    return (
        [
            Table(
                "Bulk calls, by patch",
                header("calls", "request", "numbers", "patch", right=("calls", "numbers")),
                rows,
            )
        ]
        if rows
        else []
    )


def _causes(view: AccountView, values: Values, full: bool, *, drift: bool) -> list[Table]:
    causes = view.causes if full else view.causes[:MAX_GROUPS]
    rows = []
    for c in causes:
        old = code(clip(values.text(c.carrier, c.field, c.old)))
        new = code(clip(values.text(c.carrier, c.field, c.new)))
        delta = esc(clip(values.delta(c.carrier, c.field, c.old, c.new)))
        pair = (new, old) if drift else (old, new)
        rows.append(row(f"`{esc(c.field)}`", *pair, delta, len(c.e164s), esc(examples(c.e164s))))
    rest = view.causes[len(causes) :]
    if rest:
        rows.append(
            row("", "", "", more(len(rest), "more causes"), sum(len(c.e164s) for c in rest), "")
        )
    heads = ("field", "desired", "actual") if drift else ("field", "old", "new")
    title = "Drift by cause" if drift else "Changes by cause"
    return (
        [Table(title, header(*heads, "change", "numbers", "examples", right=("numbers",)), rows)]
        if rows
        else []
    )


def _numbers(view: AccountView, values: Values, limit: int, full: bool) -> list[Chunk | Table]:
    changes = view.changes if full else view.changes[: max(limit, 0)]
    carrier = view.summary.carrier
    rows = [
        row(
            esc(c.e164),
            f"`{esc(c.id)}`",
            f"`{esc(f.field)}`",
            code(clip(values.text(carrier, f.field, f.old), CLIP * 2)),
            code(clip(values.text(carrier, f.field, f.new), CLIP * 2)),
        )
        for c in changes
        for f in c.changes
    ]
    if not rows:
        return []
    first = (
        ""
        if len(changes) == len(view.changes)
        else f" (first {len(changes)} of {len(view.changes)})"
    )
    out: list[Chunk | Table] = [
        Table(f"Numbers{first}", header("number", "id", "field", "old", "new"), rows)
    ]
    if len(changes) < len(view.changes):
        out.append(Chunk(f"{more(len(view.changes) - len(changes), 'more numbers')}.\n\n"))
    return out


def _tails(view: AccountView, limit: int, full: bool) -> list[Chunk | Table]:
    s = view.summary
    bound = None if full else max(limit, 1)
    out: list[Chunk | Table] = []
    rows = [row(esc(e), esc(st)) for e, st in s.not_patchable[:bound]]
    if bound is not None and len(s.not_patchable) > bound:
        rows.append(row(more(len(s.not_patchable) - bound), ""))
    if rows:
        out.append(
            Table(
                "Not patchable (the carrier does not allow changes, or its answer was unreadable)",
                header("number", "status"),
                rows,
            )
        )
    rows = [row(esc(e)) for e in s.missing[:bound]]
    if bound is not None and len(s.missing) > bound:
        rows.append(row(more(len(s.missing) - bound)))
    if rows:
        out.append(
            Table(
                "Missing: declared in the YAML, not in the account (never bought)",
                header("number"),
                rows,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# The apply report


def apply_parts(
    o: ApplyOutcome,
    *,
    max_chars: int = GITHUB_LIMIT,
    marker: str = APPLY_MARKER,
    limit: int = 20,
    full: bool = False,
) -> list[str]:
    """The apply report as Markdown comments of at most ``max_chars`` characters each (split
    like ``markdown_parts``)."""
    blocks = apply_blocks(o, limit, full)
    guess = 1
    while True:
        reserve = len(head(marker, "apply", guess, guess))
        bodies = split(blocks, max_chars - reserve)
        if len(str(len(bodies))) <= len(str(guess)):
            break
        guess = len(bodies)
    return [head(marker, "apply", i, len(bodies)) + b for i, b in enumerate(bodies, 1)]


def apply_markdown(
    o: ApplyOutcome, *, marker: str = APPLY_MARKER, limit: int = 20, full: bool = False
) -> str:
    """The whole apply report unsplit (one part, whatever its size)."""
    blocks = apply_blocks(o, limit, full)
    return head(marker, "apply", 1, 1) + "".join(whole(b) for b in blocks)


APPLY_ICON = {"applied": "✅", "nothing_to_do": "✅", "partial": "⚠️", "refused": "⛔"}


def apply_blocks(o: ApplyOutcome, limit: int, full: bool) -> list[Block]:
    """Heading and outcome line; the refusal as an alert; a table of accounts by call outcome;
    per account a collapsible section: calls not fully applied, bulk calls and changes by cause
    (of the numbers that converged), then what did not converge, pending and unsent numbers."""
    icon = APPLY_ICON.get(o.status, "⏹️")
    blocks: list[Block] = [
        Chunk(f"### reconciler apply: {o.status.replace('_', ' ')} {icon}\n\n**{esc(o.line)}**\n\n")
    ]
    if o.status == "refused" and o.reason.strip():
        quoted = "\n".join(f"> {esc(x)}" for x in o.reason.strip().splitlines())
        blocks.append(Chunk(f"> [!CAUTION]\n{quoted}\n\n"))
    for a, e in sorted(o.stopped.items()):
        blocks.append(Chunk(f"> [!CAUTION]\n> `{esc(a)}` stopped: {esc(e)}\n\n"))
    views = {v.summary.account: v for v in account_views(o.converged)} if o.converged else {}
    accounts = sorted({c.call.account for c in o.calls} | {g.account for g in _all(o)})
    outcomes = [k for k in STYLE if any(c.outcome == k for c in o.calls)]
    rows = []
    for account in accounts:
        calls = [c for c in o.calls if c.call.account == account]
        view = views.get(account)
        rows.append(
            row(
                f"`{esc(account)}`",
                *(sum(1 for c in calls if c.outcome == k) for k in outcomes),
                len(view.changes) if view is not None and o.status != "refused" else 0,
                sum(len(g.e164s) for g in _all(o) if g.account == account),
            )
        )
    if rows:
        heads = ("account", *(k.replace("_", " ") for k in outcomes), "changed", "not converged")
        blocks.append(Table("Bulk calls by outcome", header(*heads, right=heads[1:]), rows))
    values = Values()
    for account in accounts:
        calls = [c for c in o.calls if c.call.account == account]
        view = views.get(account)
        changed = len(view.changes) if view is not None and o.status != "refused" else 0
        missed = sum(len(g.e164s) for g in _all(o) if g.account == account)
        d = Details(
            f"<b>{esc(account)}</b>: {plural(changed, 'number')} changed, "
            f"{missed} not converged, {plural(len(calls), 'bulk call')}"
        )
        d.blocks += _bad_calls(calls, limit, full)
        if view is not None and changed:
            d.blocks += _calls(view, values, full)
            d.blocks += _causes(view, values, full, drift=False)
        d.blocks += _number_groups("Did not converge, by cause", o.failed, account, full)
        d.blocks += _number_groups("Held by live carrier jobs", o.pending, account, full)
        d.blocks += _number_groups("Not sent", o.not_sent, account, full)
        if d.blocks:
            blocks.append(d)
    return blocks


def _all(o: ApplyOutcome) -> list[NumberGroup]:
    return [*o.failed, *o.pending, *o.not_sent]


def _bad_calls(calls: list[CallOutcome], limit: int, full: bool) -> list[Chunk | Table]:
    bad = not_ok(calls)
    shown = bad if full else bad[: max(limit, 0)]
    rows = []
    for group in shown:
        first, n = group[0], sum(len(c.call.ids) for c in group)
        jobs = [c.job_id for c in group if c.job_id]
        applied = 0 if first.outcome == "not_sent" else max(0, n - sum(c.failed for c in group))
        error = "" if first.outcome == "pending" else first.error or ""
        rows.append(
            row(
                esc(first.outcome.replace("_", " ")),
                len(group),
                f"`{esc(label(first.call.carrier, first.call.operation))}`",
                n,
                applied,
                esc(", ".join(jobs) if full else examples(jobs)),
                esc(clip(error)),
            )
        )
    if len(shown) < len(bad):
        rest = bad[len(shown) :]
        rows.append(
            row(more(sum(len(g) for g in rest), "more calls"), "", "", "", "", "", ""),
        )
    if not rows:
        return []
    heads = ("outcome", "calls", "request", "numbers", "applied", "jobs", "error")
    right = ("calls", "numbers", "applied")
    return [Table("Calls not fully applied", header(*heads, right=right), rows)]


def _number_groups(
    title: str, groups: list[NumberGroup], account: str, full: bool
) -> list[Chunk | Table]:
    mine = [g for g in groups if g.account == account]
    shown = mine if full else mine[:MAX_GROUPS]
    rows = [
        row(
            esc(clip(g.reason, CLIP * 2)),
            len(g.e164s),
            esc(", ".join(g.e164s) if full else examples(g.e164s)),
        )
        for g in shown
    ]
    rest = mine[len(shown) :]
    if rest:
        rows.append(row(more(len(rest), "more causes"), sum(len(g.e164s) for g in rest), ""))
    if not rows:
        return []
    return [Table(title, header("cause", "numbers", "examples", right=("numbers",)), rows)]
