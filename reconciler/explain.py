"""``explain``: where one number's desired settings come from, and what apply would do to them.

For a live number, every field its carrier can set: the desired value and the entry that set it
(selector, ``file:line``, inline settings or which profile), the values it overrode (less specific
layers, most specific first), the live value, and the call that would change it, or "in sync".
Fields no entry sets are listed as unmanaged with their live value. Secret fields read
``(sensitive)`` everywhere in an ``Explanation``: nothing downstream can leak them.

The desired values are the planner's, by construction: the layers are the resolver's matched
rules in its order (``matching``: shorter prefix, longer prefix, exact number; see
``reconciler.desired``), and what would change and by which call (its operation) comes from
``make_plan`` over the one number (what ``plan --target NUMBER`` does), held back by the live
carrier jobs as ``plan`` holds numbers back (``reconciler.pending``). ``tests/test_explain.py``
checks, on generated configs, that the winning layer's value is the resolver's and the plan's.

Two parts: ``explain(...)`` is pure (a desired state, the live number per account, the live jobs
→ an ``Explanation``); ``read(...)`` is the I/O around it (load, open the accounts through the
runner's wiring, read the live jobs and listings as ``plan`` does, find the number). ``Written``
re-reads the YAML of the entries that matter to say whether a value is written inline or comes
from the entry's profile, and on which line: the desired state keeps each entry's ``file:line``,
not its profile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import carriers, pending
from .carriers import MASK
from .desired import DesiredState, Rule
from .errors import PlanError
from .models import LiveNumber, flatten
from .planner import diff_number, make_plan
from .seam import PendingJob
from .source import Source
from .yamltree import LDict, LList

if TYPE_CHECKING:
    from .plan import BulkCall
    from .runner import Wiring

FORMAT_VERSION = 1
"""Of the ``explain --format json`` document (docs/explain-output.schema.json)."""

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_LOOSE = re.compile(r"[\s().\-/]")


class FieldState(StrEnum):
    """What apply would do to one field of the number."""

    IN_SYNC = "in_sync"
    CHANGE = "change"
    """A call of this plan sets it."""
    HELD = "held"
    """A live carrier job already sets it: apply waits for the job, nothing is sent again."""
    CONFLICT = "conflict"
    """A live carrier job sets another value on the number: left out of this run."""
    NOT_PATCHABLE = "not_patchable"
    """The carrier does not let the number change (its status): reported, never sent."""
    UNREADABLE = "unreadable"
    """The carrier could not tell the live value (e.g. a Telnyx messaging profile lookup that
    failed): the planner plans nothing from it, so neither is it shown as a change."""
    UNMANAGED = "unmanaged"
    """No entry sets it: apply never touches it (unless a whole object is sent: ``sent``)."""


class Via(StrEnum):
    """Where an entry's value for a field is written."""

    SETTINGS = "settings"
    """The entry's inline ``settings``."""
    PROFILE = "profile"
    """The profile the entry names."""
    ENTRY = "entry"
    """The entry (the YAML could not be read again to say which part)."""


@dataclass(frozen=True, slots=True)
class Origin:
    """One layer that gives a field a value: an entry of ``selector`` (at ``entry``), through
    its inline settings or its ``profile``; ``written`` is the line the value is written on."""

    selector: str
    exact: bool
    entry: Source
    via: Via = Via.ENTRY
    profile: str | None = None
    written: Source | None = None


@dataclass(frozen=True, slots=True)
class Setting:
    """A value a layer gives a field (canonical; ``MASK`` for a secret field)."""

    value: Any
    origin: Origin


@dataclass(frozen=True, slots=True)
class FieldView:
    """One field of the number: desired (None: unmanaged), the layers it overrode (most
    specific first), the live value, what apply would do, and which operation sets it."""

    path: str
    state: FieldState
    live: Any
    desired: Setting | None
    overridden: tuple[Setting, ...]
    operation: str
    """The call that sets this field (its label, e.g. ``PATCH /v1/numbers``)."""
    sent: bool = False
    """The number's call sends this field (a change, or an unmanaged subfield of a whole object
    sent with its live value)."""
    job: str | None = None
    """The live carrier job that holds the field (``HELD``/``CONFLICT``)."""

    @property
    def managed(self) -> bool:
        return self.desired is not None


@dataclass(frozen=True, slots=True)
class Match:
    """A selector of the account that selects the number (all its entries' ``file:line``)."""

    selector: str
    exact: bool
    entries: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class CallView:
    """A call this plan would send for the number (``patch`` masked)."""

    operation: str
    patch: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NumberView:
    """The number in one account that holds it."""

    account: str
    carrier: str
    id: str
    status: str
    patchable: bool
    matches: tuple[Match, ...]
    """Least specific first (the order layers are merged in)."""
    fields: tuple[FieldView, ...]
    """Every field the carrier can set, in the carrier's order."""
    calls: tuple[CallView, ...] = ()
    job_id: str | None = None
    """The live carrier job holding the number (its planned fields are ``HELD``/``CONFLICT``)."""
    job_status: str | None = None

    @property
    def managed(self) -> bool:
        return bool(self.matches)

    def count(self, *states: FieldState) -> int:
        return sum(1 for f in self.fields if f.state in states)


@dataclass(frozen=True, slots=True)
class Explanation:
    """One number, in every account read that holds it."""

    number: str
    config: str
    read: tuple[str, ...]
    """The accounts read."""
    found: tuple[NumberView, ...]

    @property
    def managed(self) -> bool:
        return any(v.managed for v in self.found)


# --------------------------------------------------------------------------------------------
# The number argument


def check_number(text: str) -> str:
    """NUMBER as given on the command line: +E.164 only (no default region is guessed); a
    ``PlanError`` (exit 1) with an example otherwise."""
    number = text.strip()
    if _E164.fullmatch(number):
        return number
    compact = _LOOSE.sub("", number)
    if _E164.fullmatch(compact):
        hint = f": write {compact}"
    elif compact.isdigit():
        hint = ": write it with + and the country code, e.g. +13135550100" + (
            f" (+1{compact} if it is a US or Canadian number)" if len(compact) == 10 else ""
        )
    else:
        hint = ", e.g. +13135550100"
    shown = number if len(number) <= 40 else number[:39] + "…"
    raise PlanError(f"NUMBER {shown!r} is not an E.164 number (+, country code, digits){hint}")


# --------------------------------------------------------------------------------------------
# Where values are written (re-read from the YAML)


class Written:
    """Per entry and field: inline settings or the profile, and the line the value is on.

    Files are parsed when first asked (the entries of the number's rules, then the files in
    order until a profile is found). Anything not found falls back to the entry itself
    (``Via.ENTRY``): this only annotates, the values come from the desired state.
    """

    def __init__(self, files: Sequence[str]) -> None:
        self.files = tuple(files)
        self._trees: dict[str, LDict | None] = {}
        self._entries: dict[str, dict[int, LDict]] = {}
        self._profiles: dict[str, tuple[str, LDict] | None] = {}
        self._flat: dict[tuple[str, str], dict[str, Any] | None] = {}

    def tree(self, file: str) -> LDict | None:
        if file not in self._trees:
            from .loader.files import read_tree
            from .loader.issues import Env, Issues

            found = read_tree(file, Issues(Env({})), None)
            self._trees[file] = found.data if found is not None else None
        return self._trees[file]

    def entry(self, source: Source) -> LDict | None:
        """The ``numbers`` entry at ``source`` (file:line of its first key)."""
        by_line = self._entries.get(source.file)
        if by_line is None:
            by_line = self._entries[source.file] = {}
            tree = self.tree(source.file)
            numbers = tree.get("numbers") if tree is not None else None
            if isinstance(numbers, LList):
                for i, item in enumerate(numbers):
                    if isinstance(item, LDict):
                        by_line[numbers.lines[i]] = item
        return by_line.get(source.line) if source.line is not None else None

    def profile(self, name: str) -> tuple[str, LDict] | None:
        """(file, mapping) of the profile ``name`` (first declaration, as the loader keeps)."""
        if name not in self._profiles:
            self._profiles[name] = None
            for file in self.files:
                tree = self.tree(file)
                profiles = tree.get("profiles") if tree is not None else None
                if isinstance(profiles, LDict) and isinstance(profiles.get(name), LDict):
                    self._profiles[name] = (file, profiles[name])
                    break
        return self._profiles[name]

    def profile_value(self, name: str, carrier: str, path: str) -> tuple[bool, Any]:
        """(declared, canonical value) of ``path`` in profile ``name`` for ``carrier``."""
        key = (name, carrier)
        if key not in self._flat:
            found = self.profile(name)
            flat = None
            if found is not None:
                described = carriers.get(carrier)
                try:
                    flat = flatten(described.settings_model.model_validate(found[1]), described)
                except ValidationError:
                    flat = None  # the loader accepted it for this carrier; not expected
            self._flat[key] = flat
        flat = self._flat[key]
        return (flat is not None and path in flat), (flat or {}).get(path)

    def layers(self, rule: Rule, path: str, carrier: str) -> list[Setting]:
        """The values the entry of ``rule`` that set ``path`` gives it, most specific first: its
        inline value, then (when the inline one overrides it) its profile's."""
        entry_at = Source.parse(rule.source_of(path))
        value = rule.settings[path]
        plain = Origin(rule.selector, rule.exact, entry_at)
        entry = self.entry(entry_at)
        if entry is None:
            return [Setting(value, plain)]
        parts = tuple(path.split("."))
        inline_line = _line(entry.get("settings"), parts)
        name = entry.get("profile")
        profile_setting: Setting | None = None
        if isinstance(name, str):
            declared, profile_value = self.profile_value(name, carrier, path)
            found = self.profile(name)
            if declared and found is not None:
                line = _line(found[1], parts)
                origin = Origin(
                    rule.selector,
                    rule.exact,
                    entry_at,
                    Via.PROFILE,
                    name,
                    Source(found[0], line if line is not None else found[1].line),
                )
                profile_setting = Setting(profile_value, origin)
        if inline_line is not None:
            inline = Setting(
                value,
                Origin(
                    rule.selector,
                    rule.exact,
                    entry_at,
                    Via.SETTINGS,
                    None,
                    Source(entry_at.file, inline_line),
                ),
            )
            return [inline] if profile_setting is None else [inline, profile_setting]
        if profile_setting is not None:
            return [Setting(value, profile_setting.origin)]
        return [Setting(value, plain)]


def _line(node: Any, parts: tuple[str, ...]) -> int | None:
    """The line of the leaf ``parts`` inside a settings mapping, or None if not declared."""
    for part in parts[:-1]:
        if not isinstance(node, LDict):
            return None
        node = node.get(part)
    if isinstance(node, LDict) and parts[-1] in node and node[parts[-1]] is not None:
        return node.lines.get(parts[-1], node.line)
    return None


class _Plain(Written):
    """No YAML to re-read: every layer is its entry (``Via.ENTRY``)."""

    def __init__(self) -> None:
        super().__init__(())

    def layers(self, rule: Rule, path: str, carrier: str) -> list[Setting]:
        return [Setting(rule.settings[path], Origin(rule.selector, rule.exact, _src(rule, path)))]


def _src(rule: Rule, path: str) -> Source:
    return Source.parse(rule.source_of(path))


# --------------------------------------------------------------------------------------------
# The pure part


def matching(state: DesiredState, account: str, e164: str) -> list[Rule]:
    """The rules of ``account`` that select ``e164``, least specific first: the resolver's own
    tables walked in its order (shorter prefix, longer prefix, exact number)."""
    return state.resolver(account).rules_of(e164)


def operation_of(carrier: str, path: str) -> str:
    """The label of the call that sets ``path`` on ``carrier`` (its operation's)."""
    return carriers.get(carrier).operation_of(path).label


def call_label(call: BulkCall) -> str:
    """The label of one planned call (its operation's; None: the carrier's primary one)."""
    return carriers.get(call.carrier).operation(call.operation).label


def explain(
    state: DesiredState,
    number: str,
    live: Mapping[str, LiveNumber],
    *,
    config: str = "",
    read: Sequence[str] = (),
    jobs: Mapping[str, Sequence[PendingJob]] | None = None,
    limits: Mapping[str, int] | None = None,
    written: Written | None = None,
) -> Explanation:
    """``number`` as it is in each account of ``live`` (account → the live number), explained
    against ``state``. ``jobs`` are the accounts' live carrier jobs (``pending.live_jobs``);
    ``written`` re-reads the YAML for inline/profile detail (default: entries only)."""
    written = written or _Plain()
    found = []
    for account in sorted(live):
        found.append(_number(state, account, live[account], jobs or {}, limits or {}, written))
    return Explanation(number, config, tuple(read or sorted(live)), tuple(found))


def _number(
    state: DesiredState,
    account: str,
    number: LiveNumber,
    jobs: Mapping[str, Sequence[PendingJob]],
    limits: Mapping[str, int],
    written: Written,
) -> NumberView:
    carrier = state.accounts[account].config.type
    described = carriers.get(carrier)
    rules = matching(state, account, number.e164)
    plan = make_plan(
        state,
        {account: [number]},
        limits={account: limits[account]} if account in limits else None,
    )
    holds = pending.look(
        plan, {a: list(j) for a, j in jobs.items()}, {(account, number.id): number}
    )
    plan = pending.hold(plan, holds)
    changed = {f.field for c in plan.changes for f in c.changes}
    held = {f.field: h for h in holds.waits for c in h.changes for f in c.changes}
    clash = {f.field: h for h in holds.conflicts for c in h.changes for f in c.changes}
    sent = {path for call in plan.calls for path in call.patch}
    want = state.resolver(account).desired(number.e164) or {}
    differs = diff_number(want, number.settings) or {}

    fields = []
    for path in described.field_paths:
        secret = described.is_secret(path)
        shown_live = _masked(secret, number.settings.get(path))
        op = operation_of(carrier, path)
        layers = [
            s
            for rule in reversed(rules)
            if path in rule.settings
            for s in written.layers(rule, path, carrier)
        ]
        if not layers:
            fields.append(
                FieldView(path, FieldState.UNMANAGED, shown_live, None, (), op, path in sent)
            )
            continue
        job = None
        if path in changed:
            state_ = FieldState.CHANGE
        elif path in held:
            state_, job = FieldState.HELD, held[path].job.job_id
        elif path in clash:
            state_, job = FieldState.CONFLICT, clash[path].job.job_id
        elif path in differs:  # differs, yet the plan sends nothing: it says why
            patchable = number.patchable
            state_ = FieldState.UNREADABLE if patchable else FieldState.NOT_PATCHABLE
        else:
            state_ = FieldState.IN_SYNC
        if secret:
            layers = [Setting(MASK, s.origin) for s in layers]
        fields.append(
            FieldView(path, state_, shown_live, layers[0], tuple(layers[1:]), op, path in sent, job)
        )
    hold = next(iter([*holds.waits, *holds.conflicts]), None)
    return NumberView(
        account=account,
        carrier=carrier,
        id=number.id,
        status=number.status,
        patchable=number.patchable,
        matches=tuple(
            Match(r.selector, r.exact, tuple(Source.parse(s) for s in r.sources)) for r in rules
        ),
        fields=tuple(fields),
        calls=tuple(
            CallView(
                call_label(call),
                {k: _masked(described.is_secret(k), v) for k, v in call.patch.items()},
            )
            for call in plan.calls
        ),
        job_id=hold.job.job_id if hold is not None else None,
        job_status=hold.job.status if hold is not None else None,
    )


def _masked(secret: bool, value: Any) -> Any:
    return MASK if secret and value is not None else value


# --------------------------------------------------------------------------------------------
# The I/O around it


@dataclass
class _Read:
    live: dict[str, LiveNumber] = field(default_factory=dict)
    jobs: dict[str, list[PendingJob]] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    read: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)


async def read(
    path: str | Path,
    number: str,
    *,
    accounts: Sequence[str] = (),
    wiring: Wiring | None = None,
) -> Explanation:
    """Load the config, read the accounts ``plan`` reads (``--account`` narrows them), find
    ``number`` and explain it. Raises ``ConfigError`` when the number is declared exactly but
    the account does not have it (as ``plan`` does), ``PlanError`` when no account read has it.
    """
    from . import runner
    from .errors import ConfigError
    from .loader import load

    number = check_number(number)
    state = load(path)
    chosen = runner.choose_accounts(
        accounts, state.accounts, f"accounts are the names under providers: in {path}"
    )
    wiring = wiring or runner.Wiring()
    got = _Read()
    async with wiring.open(state, chosen or None) as providers:
        got.read = tuple(sorted(providers))
        got.jobs = await pending.live_jobs(providers)  # before the read, as plan asks
        with wiring.reading(providers):
            current = await runner.fetch_current(providers)
        got.limits = {name: p.max_batch for name, p in providers.items()}
    for name, numbers in current.items():
        got.counts[name] = len(numbers)
        for n in numbers:
            if n.e164 == number:
                got.live[name] = n
                break
    missing = [
        (name, number)
        for name in got.read
        if name not in got.live and number in state.resolver(name).exact
    ]
    if missing:
        raise ConfigError(runner.missing_issues(state, missing))
    if not got.live:
        total = sum(got.counts.values())
        raise PlanError(
            f"{number} is not in {_accounts(got.read)} ({total} numbers read); explain shows "
            "numbers an account has: check the number"
            + ("" if chosen else ", or name its account with --account")
        )
    return explain(
        state,
        number,
        got.live,
        config=str(path),
        read=got.read,
        jobs=got.jobs,
        limits=got.limits,
        written=Written(state.files),
    )


def _accounts(names: Sequence[str]) -> str:
    if not names:
        return "any account (the configuration reads none: no numbers entries)"
    if len(names) == 1:
        return f"account {names[0]}"
    return "any of the accounts " + ", ".join(names)


__all__ = [
    "FORMAT_VERSION",
    "CallView",
    "Explanation",
    "FieldState",
    "FieldView",
    "Match",
    "NumberView",
    "Origin",
    "Setting",
    "Via",
    "Written",
    "check_number",
    "explain",
    "matching",
    "operation_of",
    "read",
]
