"""Wiring shared by the commands: open the accounts' providers, read live state, plan, apply.

The CLI calls these; tests and the benchmark call them too, so every entry point runs the same
path a user runs. ``planned(path)`` is the one way a config becomes a plan (load → open the
accounts → read → plan → missing numbers → rails), for ``plan``, ``apply`` and ``drift``;
``saved_plan(file)`` is the way a plan file becomes an applicable plan (check the file and the
config → open → re-read the planned numbers → what moved).

Fleets (``--account NAME``, repeatable) work like terraform's ``-target``: a run is limited to the
named accounts before anything is opened, so the others are neither read nor written, and the plan
says so (a ``target`` warning, and ``Plan.scope.accounts``: the selected and the declared names). A
saved plan applies only the accounts it holds; ``--account`` at apply time narrows it further to a
subset of those (the rest of the file is left untouched and named), and a name the plan does not
hold is refused before anything is opened.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import journal as journal_
from . import pending, rails
from .carriers import open_account
from .clock import Clock
from .desired import DesiredState
from .errors import ConfigError, ConfigIssue, PlanError
from .gcpause import gc_paused
from .loader import load
from .models import LiveNumber
from .plan import AccountSummary, Plan, PlanWarning, Scope, Selection
from .planner import make_plan
from .seam import PendingJob, Provider
from .source import Source
from .wording import unknown

if TYPE_CHECKING:  # the CLI↔runner seam is typed; these are only names for it
    from . import planfile
    from .applier import ApplyReport, CallJournal, CallResult

Progress = Callable[[Mapping[str, Provider]], AbstractContextManager[object]]
"""Wraps the reads with a display (the CLI's ``render.progress``)."""

_SELECTOR = re.compile(r"\+[0-9]{1,15}\*?")


@asynccontextmanager
async def open_accounts(
    state: DesiredState,
    *,
    accounts: Iterable[str] | None = None,
    clock: Clock | None = None,
    sandbox: Any = None,
    sandbox_path: str | Path | None = None,
    transports: Mapping[str, Any] | None = None,
) -> AsyncIterator[dict[str, Provider]]:
    """Providers for the named accounts (default: every account with numbers entries).

    The embedded sandbox is opened only if an account uses it; pass ``sandbox`` to share one.
    ``transports`` (account → ``httpx`` transport) replaces the network for those accounts.
    Accounts sharing an API key and base URL share one request budget.
    """
    names = sorted(accounts if accounts is not None else state.rules)
    issues = []
    for name in names:
        account = state.accounts[name]
        for var in account.missing_env:
            issues.append(
                Source.parse(account.source).issue(
                    f"providers.{name}: environment variable {var} is not set or empty; export "
                    "it (the key never goes in the YAML)"
                )
            )
    issues.extend(state.unset_secrets)
    if issues:
        raise ConfigError(issues)
    own_sandbox = None
    if sandbox is None and any(
        state.accounts[n].config.sandbox and not state.accounts[n].config.base_url for n in names
    ):
        from .sandbox import Sandbox

        sandbox = own_sandbox = Sandbox.open(sandbox_path)
    budgets: dict[Any, Any] = {}
    providers: dict[str, Provider] = {}
    try:
        for n in names:
            account = state.accounts[n]
            providers[n] = open_account(
                n,
                account.config,
                account.source,
                sandbox=sandbox,
                transport=(transports or {}).get(n),
                clock=clock,
                budgets=budgets,
            )
    except BaseException:
        for p in providers.values():
            await p.aclose()
        if own_sandbox is not None:
            own_sandbox.close()
        raise
    try:
        yield providers
    finally:
        for p in providers.values():
            await p.aclose()
        if own_sandbox is not None:
            own_sandbox.close()


async def fetch_current(providers: Mapping[str, Provider]) -> dict[str, list[LiveNumber]]:
    """Every account's live numbers, accounts read concurrently."""
    names = list(providers)
    lists = await asyncio.gather(*(providers[n].fetch_all() for n in names))
    return dict(zip(names, lists, strict=True))


async def plan_accounts(
    state: DesiredState, providers: Mapping[str, Provider], scope: Scope | None = None
) -> Plan:
    with gc_paused():
        current = await fetch_current(providers)
        limits = {name: p.max_batch for name, p in providers.items()}
        return make_plan(state, current, limits=limits, scope=scope)


async def apply(
    plan: Plan,
    providers: Mapping[str, Provider],
    *,
    clock: Clock | None = None,
    record: CallJournal | None = None,
    on_call_done: Callable[[CallResult], None] | None = None,
    held: pending.Holds | None = None,
) -> ApplyReport:
    """Apply ``plan``; ``held`` jobs (pending at the carrier) are waited for and verified too."""
    from .applier import apply_plan  # apply only: plan, drift and export never load it

    held = held or pending.Holds()
    return await apply_plan(
        replace(plan, changes=pending.to_verify(plan, held)),
        providers,
        clock=clock,
        record=record,
        on_call_done=on_call_done,
        follow=held.follow(),
    )


# --------------------------------------------------------------------------------------------
# Fleets: --account


def choose_accounts(names: Iterable[str], known: Iterable[str], where: str) -> tuple[str, ...]:
    """``--account`` names, checked against the ``known`` accounts (those the config declares,
    or those a saved plan holds; ``where`` is the sentence that says which); () means every
    account. An unknown name is a ``PlanError`` with "did you mean" or the known names."""
    chosen = tuple(dict.fromkeys(n.strip() for n in names))
    known = sorted(known)
    for name in chosen:
        if name not in known:
            raise PlanError(f"--account {name}: {unknown('account', name, known)} — {where}")
    return chosen


def only_accounts(plan: Plan, names: Iterable[str]) -> Plan:
    """``plan`` reduced to the accounts ``names``: their figures, changes, calls and warnings
    (warnings about no account in particular are kept)."""
    keep = set(names)
    return replace(
        plan,
        accounts=tuple(a for a in plan.accounts if a.account in keep),
        changes=tuple(c for c in plan.changes if c.account in keep),
        calls=tuple(b for b in plan.calls if b.account in keep),
        warnings=tuple(w for w in plan.warnings if not w.account or w.account in keep),
    )


def fleet_warning(fleet: Selection) -> PlanWarning:
    """The ``target`` warning of a run limited by ``--account``: the accounts not read."""
    others = [n for n in fleet.declared if n not in fleet.selected]
    listed = ", ".join(others[:10]) + (f" … and {len(others) - 10} more" if others[10:] else "")
    return PlanWarning(
        rails.TARGET,
        "",
        f"limited to --account {' '.join(fleet.selected)}: {len(fleet.selected)} of the "
        f"{len(fleet.declared)} declared accounts; not read: {listed or 'none'}",
    )


# --------------------------------------------------------------------------------------------
# The one path from a config to a plan


class Targets:
    """``--target`` selectors: exact E.164 numbers or prefixes ending in ``*``."""

    def __init__(self, selectors: Iterable[str]) -> None:
        self.selectors = tuple(dict.fromkeys(s.strip() for s in selectors))
        bad = [s for s in self.selectors if not _SELECTOR.fullmatch(s)]
        if bad:
            raise PlanError(
                f"--target {bad[0]!r}: give an E.164 number (+13135550100) or a prefix ending "
                "in * (+1313555*)"
            )
        self.exact = {s for s in self.selectors if not s.endswith("*")}
        self.prefixes = tuple(s[:-1] for s in self.selectors if s.endswith("*"))

    def __bool__(self) -> bool:
        return bool(self.selectors)

    def __call__(self, e164: str) -> bool:
        return e164 in self.exact or e164.startswith(self.prefixes)


@dataclass(frozen=True)
class Wiring:
    """How a run reaches the carriers: a shared sandbox or its file, test transports per
    account, the clock, and a display wrapped around the reads."""

    sandbox: Any = None
    sandbox_path: str | Path | None = None
    transports: Mapping[str, Any] | None = None
    clock: Clock | None = None
    progress: Progress | None = None

    @asynccontextmanager
    async def open(
        self, state: DesiredState, accounts: Iterable[str] | None = None
    ) -> AsyncIterator[dict[str, Provider]]:
        async with open_accounts(
            state,
            accounts=accounts,
            sandbox=self.sandbox,
            sandbox_path=self.sandbox_path,
            transports=self.transports,
            clock=self.clock,
        ) as providers:
            yield providers

    def reading(self, providers: Mapping[str, Provider]) -> AbstractContextManager[object]:
        return self.progress(providers) if self.progress else nullcontext()


@dataclass
class Run:
    """A plan made from a config, with the open providers it was read through."""

    state: DesiredState
    providers: dict[str, Provider]
    plan: Plan
    observed: dict[tuple[str, str], LiveNumber]
    """The live numbers the plan changes, as read (for a saved plan's fingerprints)."""
    path: Path
    held: pending.Holds = field(default_factory=pending.Holds)
    """Planned numbers an unfinished carrier job covers (taken out of ``plan``)."""
    settled: list[journal_.Settled] = field(default_factory=list)
    """Calls earlier runs left open, settled before this run read the accounts."""


@asynccontextmanager
async def planned(
    path: str | Path,
    *,
    targets: Sequence[str] = (),
    accounts: Sequence[str] = (),
    overrides: rails.Overrides | None = None,
    wiring: Wiring | None = None,
    list_unmanaged: bool = False,
    journal: journal_.Journal | None = None,
) -> AsyncIterator[Run]:
    """Load the config at ``path``, read its accounts and plan, all through one path.

    Raises ``ConfigError`` (file:line of each entry) when the config declares exact numbers an
    account does not have. The plan carries warnings: the rails it trips (``rails.check``;
    ``rails.enforce`` refuses them), an empty config, a run limited by ``targets`` or
    ``accounts``. ``accounts`` (``--account``) limits the run to those accounts: the others are
    not opened. ``list_unmanaged`` adds the unmanaged numbers to the account summaries. The
    providers stay open while the caller is in the block, so it can apply the plan. With a
    ``journal``, the calls earlier runs left open are settled first (``journal.settle``).
    """
    selected = Targets(targets)
    state = load(path)
    chosen = choose_accounts(
        accounts, state.accounts, f"accounts are the names under providers: in {path}"
    )
    fleet = Selection(chosen, tuple(sorted(state.accounts))) if chosen else None
    scope = Scope(config=str(path), accounts=fleet)
    wiring = wiring or Wiring()
    async with wiring.open(state, chosen or None) as providers:
        settled = await journal_.settle(journal, providers) if journal is not None else []
        with wiring.reading(providers):
            plan, observed, jobs = await _read_and_plan(
                state, providers, selected, scope, list_unmanaged
            )
        if plan.missing:
            raise ConfigError(missing_issues(state, plan.missing))
        held = pending.look(plan, jobs, observed)
        plan = pending.hold(plan, held)
        configs = {name: state.accounts[name].config for name in providers}
        warnings = [
            *rails.check(plan, configs, overrides),
            *(w for w in rails.config_warnings(state) if not w.account or w.account in providers),
            *rails.plan_empty_warnings(plan),
        ]
        if fleet is not None:
            warnings.append(fleet_warning(fleet))
        if selected:
            warnings.append(_target_warning(plan, selected))
        warnings += [w for w in plan.warnings if w.rail in (pending.PENDING, pending.CONFLICT)]
        yield Run(
            state,
            providers,
            replace(plan, warnings=tuple(warnings)),
            observed,
            Path(path),
            held,
            settled,
        )


async def _read_and_plan(
    state: DesiredState,
    providers: Mapping[str, Provider],
    selected: Targets,
    scope: Scope,
    list_unmanaged: bool = False,
) -> tuple[Plan, dict[tuple[str, str], LiveNumber], dict[str, list[PendingJob]]]:
    """Read the accounts, the jobs list beside them (``pending.beside``), and plan."""
    with gc_paused():
        current, jobs = await pending.beside(providers, lambda: fetch_current(providers))
        current = await pending.fresh_listing(providers, current, jobs.stale)
        if selected:
            managed = {}
            read = {name: len(live) for name, live in current.items()}
            for name, live in current.items():
                resolver = state.resolver(name)
                managed[name] = sum(1 for n in live if resolver.desired(n.e164) is not None)
                current[name] = [n for n in live if selected(n.e164)]
            scope = replace(scope, targets=selected.selectors, managed=managed, read=read)
        limits = {name: p.max_batch for name, p in providers.items()}
        plan = make_plan(state, current, limits=limits, scope=scope)
        if selected:  # exact numbers outside the targets were not looked for
            plan = replace(
                plan,
                accounts=tuple(
                    replace(a, missing=tuple(e for e in a.missing if selected(e)))
                    for a in plan.accounts
                ),
            )
        if list_unmanaged:
            plan = replace(
                plan, accounts=tuple(_with_unmanaged(a, state, current) for a in plan.accounts)
            )
        wanted = {(c.account, c.id) for c in plan.changes}
        observed = {
            (name, n.id): n
            for name, live in current.items()
            for n in live
            if (name, n.id) in wanted
        }
    return plan, observed, jobs.live


def missing_issues(state: DesiredState, missing: Iterable[tuple[str, str]]) -> list[ConfigIssue]:
    """Declared exact numbers an account does not have, each at the file:line of its entry."""
    missing = list(missing)
    exact = {account: state.resolver(account).exact for account in {a for a, _ in missing}}
    issues = []
    for account, e164 in missing:
        rule = exact[account].get(e164)
        where = Source.parse(rule.sources[0]) if rule is not None else Source("<config>")
        issues.append(
            where.issue(
                f"declared number not in the account: {e164} ({account}); the tool never buys "
                "numbers: remove the entry or order the number first"
            )
        )
    return issues


def _with_unmanaged(
    summary: AccountSummary, state: DesiredState, current: Mapping[str, list[LiveNumber]]
) -> AccountSummary:
    resolver = state.resolver(summary.account)
    live = current.get(summary.account, [])
    found = tuple(n.e164 for n in live if resolver.desired(n.e164) is None)
    return replace(summary, unmanaged_numbers=found)


def _target_warning(plan: Plan, selected: Targets) -> PlanWarning:
    read = sum(plan.scope.read.values())
    scope = sum(a.total for a in plan.accounts)
    return PlanWarning(
        rails.TARGET,
        "",
        f"limited to --target {' '.join(selected.selectors)}: {scope} of the {read} numbers read "
        "are in scope; the others were not checked",
    )


# --------------------------------------------------------------------------------------------
# The one path from a plan file to an applicable plan


@dataclass
class SavedRun:
    """A saved plan checked against its config and re-read live state, ready to apply."""

    saved: planfile.SavedPlan
    state: DesiredState
    providers: dict[str, Provider]
    plan: Plan
    """The saved plan with real secret values and the rails recomputed."""
    moved: list[planfile.Moved]
    """Planned numbers whose live state moved since the plan was made."""
    overrides: rails.Overrides | None = None
    held: pending.Holds = field(default_factory=pending.Holds)
    settled: list[journal_.Settled] = field(default_factory=list)
    left_out: tuple[AccountSummary, ...] = ()
    """Accounts of the plan file that ``--account`` left out (untouched by this apply)."""

    def without_moved(self) -> Plan:
        """The plan with the moved numbers taken out (``--skip-stale``), rails recomputed."""
        plan = self.plan.without({(m.account, m.id) for m in self.moved})
        return _rails_again(plan, self.state, self.providers, self.overrides)


def _rails_again(
    plan: Plan, state: DesiredState, names: Iterable[str], overrides: rails.Overrides | None
) -> Plan:
    """``plan`` with the rails of accounts ``names`` checked again; other warnings kept."""
    configs = {name: state.accounts[name].config for name in names}
    kept = [w for w in plan.warnings if not w.rail.refusing]
    return replace(plan, warnings=(*rails.check(plan, configs, overrides), *kept))


def narrowed(
    saved: planfile.SavedPlan, accounts: Sequence[str]
) -> tuple[planfile.SavedPlan, tuple[AccountSummary, ...]]:
    """The saved plan reduced to ``accounts`` (``--account`` at apply time; () keeps all), and
    the summaries of the accounts left out. A name the plan does not hold is a ``PlanError``."""
    held = [a.account for a in saved.plan.accounts]
    chosen = choose_accounts(
        accounts, held, "the plan file holds only these: make a plan for the others with --account"
    )
    if not chosen:
        return saved, ()
    plan = only_accounts(saved.plan, chosen)
    narrow = replace(
        saved,
        plan=plan,
        accounts={n: a for n, a in saved.accounts.items() if n in chosen},
        fingerprints={n: f for n, f in saved.fingerprints.items() if n in chosen},
    )
    return narrow, tuple(a for a in saved.plan.accounts if a.account not in chosen)


@asynccontextmanager
async def saved_plan(
    saved: planfile.SavedPlan,
    *,
    config: str | Path | None = None,
    accounts: Sequence[str] = (),
    overrides: rails.Overrides | None = None,
    wiring: Wiring | None = None,
    journal: journal_.Journal | None = None,
) -> AsyncIterator[SavedRun]:
    """Re-load the config the plan was made from (``config`` overrides the recorded path),
    check it is unchanged, open the plan's accounts, re-read only the planned numbers and
    compare them with the plan's fingerprints. Nothing is sent. ``accounts`` (``--account``)
    keeps only those accounts of the plan: the others are not opened (``SavedRun.left_out``)."""
    saved, left_out = narrowed(saved, accounts)
    state = load(config if config is not None else saved.config_path)
    from . import planfile  # a saved plan only

    planfile.check_config(saved, state)
    plan = planfile.restore_secrets(saved, state)
    names = sorted({c.account for c in plan.changes})
    wiring = wiring or Wiring()
    async with wiring.open(state, names) as providers:
        settled = await journal_.settle(journal, providers) if journal is not None else []
        with wiring.reading(providers):
            live, jobs = await pending.beside(providers, lambda: reread(plan, providers))
            live = await pending.fresh_numbers(providers, live, _planned_ids(plan), jobs.stale)
        moved = planfile.compare(saved, state, live)
        held = pending.look(plan, jobs.live, live)
        plan = _rails_again(pending.hold(plan, held), state, providers, overrides)
        yield SavedRun(saved, state, providers, plan, moved, overrides, held, settled, left_out)


async def reread(
    plan: Plan, providers: Mapping[str, Provider]
) -> dict[tuple[str, str], LiveNumber]:
    """The plan's numbers, re-read per account (providers choose per-id reads or listings)."""
    ids = _planned_ids(plan)
    names = sorted(ids)
    lists = await asyncio.gather(*(providers[n].fetch(ids[n]) for n in names))
    return {(name, n.id): n for name, live in zip(names, lists, strict=True) for n in live}


def _planned_ids(plan: Plan) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for change in plan.changes:
        ids.setdefault(change.account, []).append(change.id)
    return ids
