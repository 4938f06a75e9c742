"""Safety rails: limits a plan must stay within before ``apply`` sends anything.

Like octoDNS's ``raise_if_unsafe``, the rails live in the core and run after the plan is shown,
so a reviewer sees what tripped them. ``check`` is pure (a plan and the account limits in, the
rails it trips out, as ``PlanWarning`` values attached to the plan so ``plan`` shows them);
``enforce`` turns tripped rails into a ``RailError`` (exit 3) unless the run says ``--force``.

The rails, per account (options of the ``providers:`` entry, overridable per run):

* ``change_share``: at most ``max_change_share`` (default 30 %) of the account's managed numbers
  change in one run, checked when the account manages ``MIN_MANAGED`` numbers or more. A typo
  such as ``+1*`` instead of ``+1313*`` trips it.
* ``max_changes``: at most ``max_changes`` numbers change (no limit unless set).
* ``routing``: at most ``max_routing_changes`` (default 100) numbers get a routing field changed
  (``Carrier.routing_fields``: where calls go), whatever the share.

And one that only warns on ``validate``/``plan`` but refuses ``drift`` (which would otherwise
report "in sync" for a config that checks nothing): ``empty``, a config that manages no number in
an account it declares, an empty file, or a ``numbers:`` list without entries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import carriers
from .config import ProviderConfig
from .desired import DesiredState
from .errors import RailError
from .warning import PlanWarning, WarningKind
from .wording import plural

if TYPE_CHECKING:
    from .plan import Plan

MIN_MANAGED = 10
"""The share rail applies to accounts managing at least this many numbers."""

SHARE, COUNT, ROUTING = WarningKind.CHANGE_SHARE, WarningKind.MAX_CHANGES, WarningKind.ROUTING
EMPTY, TARGET = WarningKind.EMPTY, WarningKind.TARGET


@dataclass(frozen=True)
class Limits:
    """One account's limits for a run; the defaults are ``ProviderConfig``'s, declared there."""

    max_change_share: float
    max_changes: int | None
    max_routing_changes: int | None


@dataclass(frozen=True)
class Overrides:
    """Per-run limits (command-line options); None keeps the account's own."""

    max_change_share: float | None = None
    max_changes: int | None = None
    max_routing_changes: int | None = None
    force: bool = False

    def limits(self, config: ProviderConfig) -> Limits:
        def pick(mine: float | int | None, theirs: float | int | None) -> float | int | None:
            return mine if mine is not None else theirs

        return Limits(
            max_change_share=float(pick(self.max_change_share, config.max_change_share) or 0.0),
            max_changes=pick(self.max_changes, config.max_changes),  # type: ignore[arg-type]
            max_routing_changes=pick(self.max_routing_changes, config.max_routing_changes),  # type: ignore[arg-type]
        )


def managed_counts(plan: Plan) -> dict[str, int]:
    """Managed numbers per account: the plan's own figures, or the whole account's when the run
    was limited by ``--target`` (``Plan.scope.managed``). Every number a selector matches counts,
    including those taken out of the changes because a live carrier job holds them
    (``pending.hold``): ``total - unmanaged``, not the changes left."""
    counts = {a.account: a.total - a.unmanaged for a in plan.accounts}
    counts.update(plan.scope.managed)
    return counts


def check(
    plan: Plan, configs: Mapping[str, ProviderConfig], overrides: Overrides | None = None
) -> list[PlanWarning]:
    """The refusing rails ``plan`` trips, one warning per (rail, account), accounts in order."""
    overrides = overrides or Overrides()
    changed: dict[str, int] = {}
    routing: dict[str, int] = {}
    carrier_of = {a.account: carriers.get(a.carrier) for a in plan.accounts}
    routes: dict[tuple[str, str], bool] = {}  # (account, field) → a routing field there
    for change in plan.changes:
        account = change.account
        changed[account] = changed.get(account, 0) + 1
        for f in change.changes:
            route = routes.get((account, f.field))
            if route is None:
                route = routes[account, f.field] = carrier_of[account].is_routing(f.field)
            if route:
                routing[account] = routing.get(account, 0) + 1
                break
    managed = managed_counts(plan)
    out: list[PlanWarning] = []
    for summary in plan.accounts:
        name = summary.account
        if name not in configs:
            continue
        limits = overrides.limits(configs[name])
        n, total, r = changed.get(name, 0), managed.get(name, 0), routing.get(name, 0)
        allowed = math.floor(limits.max_change_share * total + 1e-9)
        if total >= MIN_MANAGED and n > allowed:
            out.append(
                PlanWarning(
                    SHARE,
                    name,
                    f"{name}: {n} of {total} managed numbers would change ({_pct(n / total)}), "
                    f"above max_change_share {_pct(limits.max_change_share)} ({allowed} numbers)",
                )
            )
        if limits.max_changes is not None and n > limits.max_changes:
            out.append(
                PlanWarning(
                    COUNT,
                    name,
                    f"{name}: {n} numbers would change, above max_changes {limits.max_changes}",
                )
            )
        if limits.max_routing_changes is not None and r > limits.max_routing_changes:
            fields = ", ".join(carrier_of[name].routing_fields)
            out.append(
                PlanWarning(
                    ROUTING,
                    name,
                    f"{name}: {r} numbers would get a routing field changed ({fields}), above "
                    f"max_routing_changes {limits.max_routing_changes}",
                )
            )
    return out


def enforce(plan: Plan, *, force: bool = False) -> None:
    """Raise ``RailError`` naming every refusing rail the plan's warnings record, unless forced."""
    tripped = [w for w in plan.warnings if w.rail.refusing]
    if not tripped or force:
        return
    lines = "\n".join(f"  - [{w.rail}] {w.message}" for w in tripped)
    raise RailError(
        f"apply refused by {plural(len(tripped), 'safety rail')}; "
        f"nothing was sent:\n{lines}\n"
        "If these changes are intended: re-run with --force, or raise the limit for this run "
        "(--max-change-share, --max-changes, --max-routing-changes) or in the account's entry "
        "under providers: (max_change_share, max_changes, max_routing_changes).",
        rail=tripped[0].rail,
        account=tripped[0].account,
    )


# --------------------------------------------------------------------------------------------
# Empty or truncated configs


def config_warnings(state: DesiredState) -> list[PlanWarning]:
    """Offline: declared accounts without selectors, empty files, empty ``numbers:`` lists."""
    out: list[PlanWarning] = []
    with_entries = any(r.sources for rules in state.rules.values() for r in rules)
    # -- D (loader split): the loader records empty files and empty numbers: lists
    empty, no_entries = set(state.empty_files), set(state.empty_numbers)
    for file in state.files:
        if file in empty:
            out.append(PlanWarning(EMPTY, "", f"{file}: the file is empty (truncated?)"))
        elif file in no_entries:
            out.append(PlanWarning(EMPTY, "", f"{file}: numbers: has no entries (truncated?)"))
    # -- end D
    if not with_entries:
        out.append(PlanWarning(EMPTY, "", "the configuration has no numbers entries at all"))
    for name in sorted(state.accounts):
        if not state.rules.get(name):
            out.append(
                PlanWarning(
                    EMPTY,
                    name,
                    f"{name}: the account is declared under providers but no numbers entry "
                    "selects any of its numbers",
                )
            )
    return out


def plan_empty_warnings(plan: Plan) -> list[PlanWarning]:
    """Accounts whose selectors matched no live number (the plan manages none of them)."""
    counts = managed_counts(plan)
    return [
        PlanWarning(
            EMPTY,
            a.account,
            f"{a.account}: the configuration's selectors match none of the account's "
            f"{a.total} numbers",
        )
        for a in plan.accounts
        if counts.get(a.account, 0) == 0
    ]


def refuse_empty(warnings: Iterable[PlanWarning]) -> None:
    """For ``drift``: an empty config is an error (exit 3) naming what is empty."""
    empty = [w for w in warnings if w.rail == EMPTY]
    if empty:
        lines = "\n".join(f"  - {w.message}" for w in empty)
        raise RailError(
            f"the configuration checks nothing in part of what it declares, so 'no drift' would "
            f"mean nothing:\n{lines}\nFix the config, or pass --allow-empty if this is intended.",
            rail=EMPTY,
            account=empty[0].account,
        )


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %".replace(".0 %", " %")
