"""Plans and apply reports as text (terraform-style) and JSON. Only this module and the CLI print.

Text goes through rich: colour only on a TTY, ``NO_COLOR`` respected (rich does both). Secret
fields (Telnyx ``external_pin``) are masked in every form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from deepdiff import DeepDiff
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from . import carriers
from .applier import ApplyReport
from .carriers import format_plain
from .models import mask
from .plan import BulkCall, FieldChange, Plan


def fmt(value: Any) -> str:
    """A canonical value, short and unambiguous (no carrier-specific item formatting)."""
    return format_plain(value)


def list_delta(old: Any, new: Any, desc: carriers.Carrier | None = None, path: str = "") -> str:
    """For list fields: which items were added and removed (deepdiff, order ignored)."""
    if not isinstance(new, list) or not isinstance(old, list | None):
        return ""
    diff = DeepDiff(old or [], new, ignore_order=True, view="tree")
    added = [i.t2 for i in diff.get("iterable_item_added", [])]
    removed = [i.t1 for i in diff.get("iterable_item_removed", [])]
    for change in diff.get("values_changed", []):
        level = change
        for _ in range(len(change.path(output_format="list")) - 1):
            level = level.up  # from root[i]['field'] up to the whole item root[i]
        if level.t1 not in removed:
            removed.append(level.t1)
        if level.t2 not in added:
            added.append(level.t2)
    show = (lambda v: desc.format_value(path, v)) if desc else fmt
    parts = []
    if added:
        parts.append("added " + show(added)[1:-1])
    if removed:
        parts.append("removed " + show(removed)[1:-1])
    if not parts and old != new:
        parts.append("reordered")
    return "  (" + "; ".join(parts) + ")" if parts else ""


def field_line(carrier: str, change: FieldChange) -> Text:
    desc = carriers.get(carrier)
    line = Text("      ")
    line.append(change.field, style="bold")
    line.append(": ")
    line.append(desc.format_value(change.field, change.old), style="red")
    line.append(" → ")
    line.append(desc.format_value(change.field, change.new), style="green")
    if not desc.is_secret(change.field):
        line.append(list_delta(change.old, change.new, desc, change.field), style="dim")
    return line


def patch_text(carrier: str, patch: dict[str, Any]) -> str:
    desc = carriers.get(carrier)
    return ", ".join(f"{k}={desc.format_value(k, v)}" for k, v in patch.items())


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        head = "No changes. The carrier accounts match the configuration."
    else:
        calls = len(plan.calls)
        head = (
            f"Plan: {plan.changed} numbers to change in {calls} bulk call{'s' if calls != 1 else ''} "
            f"(lower bound {plan.lower_bound}; per-number {plan.changed})"
        )
    tail = f"{plan.in_sync} in sync, {plan.unmanaged} unmanaged"
    skipped = sum(len(a.not_patchable) for a in plan.accounts)
    if skipped:
        tail += f", {skipped} not patchable"
    if plan.missing:
        tail += f", {len(plan.missing)} missing"
    return f"{head}, {tail}." if plan.has_changes else f"{head} {tail[0].upper()}{tail[1:]}."


def render_plan(plan: Plan, console: Console, *, drift: bool = False) -> None:
    by_account: dict[str, list[Any]] = {}
    for change in plan.changes:
        by_account.setdefault(change.account, []).append(change)
    for summary in plan.accounts:
        head = Text()
        head.append(f"{summary.account}", style="bold")
        head.append(
            f" ({summary.carrier}): {summary.total} numbers, {summary.changed} to change, "
            f"{summary.in_sync} in sync, {summary.unmanaged} unmanaged"
        )
        console.print(head)
        for change in by_account.get(summary.account, []):
            line = Text("  ~ ", style="yellow")
            line.append(change.e164, style="bold")
            line.append(f"  (id {change.id})", style="dim")
            console.print(line)
            for f in change.changes:
                console.print(field_line(summary.carrier, f))
        for e164, status in summary.not_patchable:
            console.print(
                Text(f"  ! {e164}  status {status}: the carrier does not allow changes; not patched", style="magenta")
            )
        for e164 in summary.missing:
            console.print(
                Text(f"  ✗ {e164}  declared in the YAML but the account has no such number (we never buy numbers)", style="red bold")
            )
        console.print()
    if plan.calls and not drift:
        console.print(Text("Bulk calls:", style="bold"))
        for i, call in enumerate(plan.calls, 1):
            console.print(call_line(i, call))
        console.print()
    console.print(Text(drift_line(plan) if drift else summary_line(plan), style="bold"))


def drift_line(plan: Plan) -> str:
    fields = sum(len(c.changes) for c in plan.changes)
    n = plan.changed
    return (
        f"Drift: {n} number{'s' if n != 1 else ''} ({fields} field{'s' if fields != 1 else ''}) "
        f"{'differ' if n != 1 else 'differs'} from the configuration; {plan.in_sync} in sync, {plan.unmanaged} unmanaged. "
        "Run apply to restore them."
    )


def call_line(index: int, call: BulkCall) -> Text:
    line = Text(f"  {index}. ")
    line.append(call.account, style="bold")
    line.append(f"  {carriers.get(call.carrier).call_label}  ")
    line.append(f"{len(call.ids)} number{'s' if len(call.ids) != 1 else ''}", style="cyan")
    line.append("  " + patch_text(call.carrier, call.patch), style="dim")
    return line


def plan_json(plan: Plan) -> str:
    data = plan.to_dict()
    carrier_of = {a.account: a.carrier for a in plan.accounts}
    for change in data["changes"]:
        carrier = carrier_of[change["account"]]
        for f in change["changes"]:
            f["old"], f["new"] = mask(carrier, f["field"], f["old"]), mask(carrier, f["field"], f["new"])
    for call in data["calls"]:
        call["patch"] = {k: mask(call["carrier"], k, v) for k, v in call["patch"].items()}
    data["summary"] = {
        "changed": plan.changed,
        "calls": len(plan.calls),
        "lower_bound": plan.lower_bound,
        "per_number": plan.changed,
        "in_sync": plan.in_sync,
        "unmanaged": plan.unmanaged,
        "missing": [f"{a}:{e}" for a, e in plan.missing],
    }
    return json.dumps(data, indent=2, sort_keys=False)


def render_apply(report: ApplyReport, plan: Plan, console: Console) -> None:
    for result in sorted(report.results, key=lambda r: (r.call.account, r.call.e164s[:1])):
        ok = len(result.call.ids) - len(result.failed) if result.status != "failed" else 0
        style = {"ok": "green", "partial": "yellow", "failed": "red"}[str(result.status)]
        line = Text(f"  {str(result.status):<8}", style=style)
        line.append(f"{result.call.account}  {len(result.call.ids)} numbers, {ok} applied")
        if result.job_id:
            line.append(f"  job {result.job_id}", style="dim")
        if result.error:
            line.append(f"  {result.error}", style="red")
        console.print(line)
    if report.failed:
        console.print(Text("Numbers not in their desired state:", style="bold red"))
        for (account, e164), reason in sorted(report.failed.items()):
            console.print(Text(f"  ✗ {account} {e164}: {reason}", style="red"))
    changed = plan.changed
    bad = len(report.failed)
    if report.stopped:
        msg = "Apply stopped for " + "; ".join(f"{a}: {e}" for a, e in sorted(report.stopped.items()))
    elif bad:
        msg = (
            f"Apply partial: {changed - bad} of {changed} numbers converged, {bad} did not "
            f"({report.requests} requests). Run plan again to see what is still off."
        )
    else:
        msg = (
            f"Apply complete: {changed} numbers changed in {len(report.results)} bulk calls, "
            f"{report.verified} verified by re-reading the carrier."
        )
    console.print(Text(msg, style="bold red" if (bad or report.stopped) else "bold green"))


@contextmanager
def progress(console: Console, providers: Mapping[str, Any], calls: int = 0) -> Iterator[Any]:
    """A transient progress display on a terminal (nothing otherwise): listing pages read per
    account, and with ``calls`` the bulk calls done. Yields the callback for finished calls."""
    if not console.is_terminal:
        yield lambda result: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def pages(account: str, done: int, total: int) -> None:
            if account not in tasks:
                tasks[account] = bar.add_task(f"reading {account} (pages)", total=total)
            bar.update(tasks[account], completed=done, total=total)

        for provider in providers.values():
            provider.on_progress = pages
        call_task = bar.add_task("bulk calls", total=calls) if calls else None

        def call_done(result: Any) -> None:
            if call_task is not None:
                bar.advance(call_task)

        try:
            yield call_done
        finally:
            for provider in providers.values():
                provider.on_progress = None
