"""What every output form shares: the figures lines, grouping by cause and by bulk call, list
deltas, value formatting through the carrier's description (secrets masked), and bounds.

Grouping is the hot path of a big plan: one dictionary pass over the field changes, keyed by
hashable stand-ins of the values (the value itself for scalars, sorted-key JSON bytes for lists
and dicts). Formatting happens once per distinct value, not once per number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any

import orjson

from .. import carriers
from ..carriers import MASK
from ..plan import (
    AccountSummary,
    BulkCall,
    FieldChange,
    NumberChange,
    Plan,
    PlanWarning,
    WarningKind,
)
from ..wording import plural

EXAMPLES = 3
"""Numbers named after a cause before "… and N more"."""
MAX_GROUPS = 30
"""Causes and bulk-call groups shown per account unless ``full``/``verbose``."""
CLIP = 160
"""Longest value shown in a cause line or table cell (per-number detail is never clipped)."""
NESTED_DIFFS = 50
"""At most this many item pairs per render get a nested diff (deepdiff costs ~0.3 ms each)."""


def more(n: int, what: str = "more") -> str:
    return f"… and {n} {what}"


def clip(text: str, width: int = CLIP) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def examples(e164s: Sequence[str], k: int = EXAMPLES) -> str:
    """The first ``k`` numbers, then "… and N more"."""
    shown = ", ".join(e164s[:k])
    return f"{shown} {more(len(e164s) - k)}" if len(e164s) > k else shown


def warnings_of(plan: Plan) -> tuple[PlanWarning, ...]:
    """The plan's rail/safety warnings."""
    return plan.warnings


def warning_text(w: PlanWarning) -> str:
    where = f" [{w.account}]" if w.account else ""
    return f"{w.rail}{where}: {w.message}"


def summary_line(plan: Plan) -> str:
    """The last line of a plan; tests, scripts and the README grep its wording."""
    held = [w for w in plan.warnings if w.rail == WarningKind.PENDING_JOB]
    if not plan.has_changes and held:
        # Nothing to send, but the accounts do not match yet: live jobs are still on their way.
        head = (
            "No changes to send: the rest is pending at the carrier "
            f"({plural(len(held), 'live job')}; apply waits and verifies)."
        )
    elif not plan.has_changes:
        head = "No changes. The carrier accounts match the configuration."
    else:
        calls = len(plan.calls)
        head = (
            f"Plan: {plan.changed} numbers to change in {plural(calls, 'bulk call')} "
            f"(lower bound {plan.lower_bound}; per-number {plan.changed})"
        )
    tail = f"{plan.in_sync} in sync, {plan.unmanaged} unmanaged"
    skipped = sum(len(a.not_patchable) for a in plan.accounts)
    if skipped:
        tail += f", {skipped} not patchable"
    if plan.missing:
        tail += f", {len(plan.missing)} missing"
    return f"{head}, {tail}." if plan.has_changes else f"{head} {tail[0].upper()}{tail[1:]}."


def drift_line(plan: Plan) -> str:
    """The last line of a drift report."""
    fields = sum(len(c.changes) for c in plan.changes)
    n = plan.changed
    return (
        f"Drift: {plural(n, 'number')} ({plural(fields, 'field')}) "
        f"{'differ' if n != 1 else 'differs'} from the configuration; {plan.in_sync} in sync, "
        f"{plan.unmanaged} unmanaged. Run apply to restore them."
    )


def no_drift_line(plan: Plan) -> str:
    return (
        f"No drift: {plan.in_sync} managed numbers match the configuration "
        f"({plan.unmanaged} unmanaged)."
    )


# --------------------------------------------------------------------------------------------
# Values


def value_key(value: Any) -> Any:
    """A hashable stand-in for a canonical value (scalars stand for themselves)."""
    if isinstance(value, list | dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return (type(value), value)  # True and 1 are equal as keys; as values they are not


class Values:
    """Formats values through the carrier descriptions, once per distinct (field, value).

    One instance per render: the caches hold what this plan shows and die with it.
    """

    def __init__(self) -> None:
        self._text: dict[tuple[str, str, Any], str] = {}
        self._delta: dict[tuple[str, str, Any, Any], str] = {}
        self._nested = NESTED_DIFFS

    def text(self, carrier: str, path: str, value: Any) -> str:
        """The carrier's rendering of ``value`` (the mask for a secret field)."""
        k = (carrier, path, value_key(value))
        out = self._text.get(k)
        if out is None:
            out = self._text[k] = carriers.get(carrier).format_value(path, value)
        return out

    def delta(self, carrier: str, path: str, old: Any, new: Any) -> str:
        """For list fields: "added …; removed …" (or "changed … → …", "reordered"); else ""."""
        if not isinstance(new, list) or not isinstance(old, list | None):
            return ""
        desc = carriers.get(carrier)
        if desc.is_secret(path):
            return ""
        k = (carrier, path, value_key(old), value_key(new))
        out = self._delta.get(k)
        if out is None:
            out = self._delta[k] = self._list_delta(desc, path, old or [], new)
        return out

    def _list_delta(self, desc: carriers.Carrier, path: str, old: list[Any], new: list[Any]) -> str:
        # Multiset difference on canonical items: the same item twice counts twice.
        okeys, nkeys = [value_key(i) for i in old], [value_key(i) for i in new]
        gone, came = Counter(okeys) - Counter(nkeys), Counter(nkeys) - Counter(okeys)
        removed, added = _take(old, okeys, gone), _take(new, nkeys, came)

        def show(items: list[Any]) -> str:
            return desc.format_value(path, items)[1:-1]

        if len(removed) == len(added) == 1 and isinstance(removed[0], dict) and self._nested > 0:
            self._nested -= 1
            keys = changed_keys(removed[0], added[0])
            if keys:
                return f"changed {show(removed)} → {show(added)} ({', '.join(keys)})"
        parts = []
        if added:
            parts.append("added " + show(added))
        if removed:
            parts.append("removed " + show(removed))
        if not parts and old != new:
            parts.append("reordered")
        return "; ".join(parts)


def _take(items: list[Any], keys: list[Any], wanted: Counter[Any]) -> list[Any]:
    """The items whose key is in ``wanted``, as many times as it counts, in list order."""
    left = Counter(wanted)
    out = []
    for item, key in zip(items, keys, strict=True):
        if left[key] > 0:
            left[key] -= 1
            out.append(item)
    return out


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The nested paths that differ between two items of a list (one item pair, so small)."""
    from deepdiff import DeepDiff  # imported when a plan shows a list diff, not at startup

    diff = DeepDiff(old, new, view="tree")
    paths = []
    for levels in diff.values():
        for level in levels:
            parts = level.path(output_format="list")
            paths.append(".".join(str(p) for p in parts))
    return sorted(set(paths))


# --------------------------------------------------------------------------------------------
# Grouping


@dataclass(slots=True)
class Cause:
    """One way numbers differ: ``field`` is ``old`` (live) and should be ``new`` (desired)."""

    account: str
    carrier: str
    field: str
    old: Any
    new: Any
    e164s: list[str] = _field(default_factory=list)


@dataclass(slots=True)
class CallGroup:
    """Bulk calls of one account that send the same patch (chunks of one group of numbers)."""

    account: str
    carrier: str
    patch: dict[str, Any]
    calls: int = 0
    numbers: int = 0
    operation: str | None = None
    """The calls' carrier operation (None: the primary one)."""


@dataclass(slots=True)
class AccountView:
    """What the renderers need of one account, grouped once."""

    summary: AccountSummary
    changes: list[NumberChange] = _field(default_factory=list)
    causes: list[Cause] = _field(default_factory=list)
    groups: list[CallGroup] = _field(default_factory=list)
    index: dict[tuple[Any, ...], Cause] = _field(default_factory=dict)

    @property
    def fields(self) -> int:
        return sum(len(c.e164s) for c in self.causes)


def account_views(plan: Plan) -> list[AccountView]:
    """Per account, in plan order: its changes, causes (most numbers first) and call groups.

    Numbers alike share one tuple of field changes (``planner.Outcomes``), so the causes of a
    tuple are looked up once (``CausesOf``) and each number is appended to them.
    """
    views = {a.account: AccountView(a) for a in plan.accounts}
    secret = secret_fields(plan)
    account: str | None = None
    view: AccountView | None = None
    causes_of: CausesOf | None = None
    for change in plan.changes:
        if change.account != account:  # changes come in runs per account
            account = change.account
            view = views.get(account)
            if view is None:  # a change of an account without a summary: still shown
                bare = AccountSummary(account, "", 0, 0, 0, 0, 0, 0, 0, 0, "")
                view = views[account] = AccountView(bare)
            causes_of = CausesOf(view, secret.get(account, frozenset()))
        assert view is not None and causes_of is not None
        view.changes.append(change)
        e164 = change.e164
        for cause in causes_of(change.changes):
            cause.e164s.append(e164)
    for view in views.values():
        view.causes.sort(key=lambda c: -len(c.e164s))  # stable: ties keep plan order
        view.index = {}
    for group in call_groups(plan.calls):
        view = views.get(group.account)
        if view is not None:
            view.groups.append(group)
    return list(views.values())


class CausesOf:
    """The causes of one account's field changes, found once per tuple of them.

    A memo by object: an entry holds its tuple, so no ``id`` is reused while it is there. It
    pays only when tuples are shared: when the first ``TRIAL`` tuples are met fewer than
    ``TRIAL`` more times (a number per tuple: thousands of profiles, or a saved plan read back),
    it stops; it is emptied at ``MAX_TUPLES`` entries (bounded memory)."""

    TRIAL = 1 << 10
    MAX_TUPLES = 1 << 16

    def __init__(self, view: AccountView, hidden: frozenset[str]) -> None:
        self.view, self.hidden = view, hidden
        self._known: dict[int, list[Cause]] = {}
        self._held: list[tuple[FieldChange, ...]] = []  # the tuples whose id is a key
        self._hits = 0
        self._memo = True

    def __call__(self, changes: tuple[FieldChange, ...]) -> list[Cause]:
        known = self._known.get(id(changes))
        if known is not None:
            self._hits += 1
            return known
        causes = [self.cause(f) for f in changes]
        if not self._memo:
            return causes
        held = self._held
        if len(held) == self.TRIAL and self._hits < self.TRIAL:
            self._memo = False  # tuples are not shared: memoising costs more than it saves
            self._known.clear()
            held.clear()
            return causes
        if len(held) >= self.MAX_TUPLES:
            self._known.clear()
            held.clear()
        self._known[id(changes)] = causes
        held.append(changes)
        return causes

    def cause(self, f: FieldChange) -> Cause:
        """The cause ``f`` belongs to, opened in the view when it is the first of its kind."""
        # Scalars key themselves (a field holds one type, so True and 1 never meet); lists and
        # dicts key as sorted JSON bytes; secrets key as the mask.
        view = self.view
        old, new = f.old, f.new
        if f.field in self.hidden:
            old = new = MASK
            key = (f.field, old, new)
        elif old.__class__ in _NESTED or new.__class__ in _NESTED:
            key = (f.field, value_key(old), value_key(new))
        else:
            key = (f.field, old, new)
        cause = view.index.get(key)
        if cause is None:
            cause = view.index[key] = Cause(
                view.summary.account, view.summary.carrier, f.field, old, new
            )
            view.causes.append(cause)
        return cause


_NESTED = frozenset({list, dict})


def secret_fields(plan: Plan) -> dict[str, frozenset[str]]:
    """account → its carrier's secret field paths (grouped as one cause, values never keyed)."""
    return {a.account: carrier_secrets(a.carrier) for a in plan.accounts}


def carrier_secrets(carrier: str) -> frozenset[str]:
    """``carrier``'s secret field paths (none for a carrier not registered)."""
    try:
        return carriers.get(carrier).secret_fields
    except KeyError:
        return frozenset()


def call_groups(calls: Iterable[BulkCall]) -> list[CallGroup]:
    """Calls with the same account and patch as one group; most numbers first."""
    groups: dict[tuple[str, bytes, str | None], CallGroup] = {}
    for call in calls:
        key = (call.account, value_key(call.patch), call.operation)
        group = groups.get(key)
        if group is None:
            group = groups[key] = CallGroup(
                call.account, call.carrier, call.patch, operation=call.operation
            )
        group.calls += 1
        group.numbers += len(call.ids)
    return sorted(groups.values(), key=lambda g: -g.numbers)


def patch_text(values: Values, carrier: str, patch: dict[str, Any]) -> str:
    return ", ".join(f"{k}={values.text(carrier, k, v)}" for k, v in patch.items())


def label(carrier: str, operation: str | None = None) -> str:
    """How one bulk call of ``carrier`` (of ``operation``; None: its primary one) is named
    (from its description)."""
    try:
        return carriers.get(carrier).operation(operation).label
    except KeyError:
        return f"{carrier} {operation or 'bulk'} call"


class Paint:
    """ANSI styling built by hand (one string for the whole output); plain when ``color`` is off."""

    CODES = {
        "bold": "1",
        "dim": "2",
        "red": "31",
        "green": "32",
        "yellow": "33",
        "magenta": "35",
        "cyan": "36",
        "bold red": "1;31",
        "bold green": "1;32",
        "bold yellow": "1;33",
    }

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{self.CODES[style]}m{text}\x1b[0m"
