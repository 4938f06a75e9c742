"""Desired + current → Plan. Pure functions: no I/O, no clock, deterministic output.

Per number n: D(n) = the desired managed settings (flat), C(n) = the current ones, and the required
patch R(n) = the fields of D(n) whose current value differs. Any patch P with R(n) ⊆ P ⊆ D(n)
(field by field, same values) brings n to its desired state, so numbers that drifted in different
ways can share one bulk call. Two groupings:

* ``exact``: one call per distinct R(n), chunked by the carrier's limit L. Each number's
  carrier-side audit shows only the fields that changed for it.
* ``cover`` (default): pack numbers into calls so that for every call the union U of its members'
  R(n) is consistent with the intersection I of their D(n) (U ⊆ I); the call sends P = U. See
  ``reconciler.packing`` for the algorithm. The result is never worse than ``exact``: both are
  computed and the smaller is kept.

Every account's summary states ``lower_bound``: no valid grouping needs fewer calls (the bound and
its proof are in ``reconciler.bounds``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from . import carriers
from .bounds import lower_bound
from .carriers import field_paths
from .desired import DesiredState
from .models import LiveNumber, Settings
from .packing import Call, Instance, freeze
from .plan import (
    AccountSummary,
    BulkCall,
    FieldChange,
    NumberChange,
    OperationSummary,
    Plan,
    Scope,
)

_MISSING = object()


@dataclass(slots=True)
class Changed:
    """A number that needs a patch: its id, e164, required patch R and desired settings D."""

    id: str
    e164: str
    required: dict[str, Any]
    desired: Settings
    current: Settings | None = None
    shown: dict[str, Any] | None = None
    """The fields that really change, when ``required`` also carries whole-object siblings."""
    fields: tuple[FieldChange, ...] = ()
    """What the plan shows for it (``NumberChange.changes``), shared by numbers alike."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one pair of desired and current settings comes to (``outcome``)."""

    required: dict[str, Any] | None
    """R after unreadable values are dropped, widened for whole objects; None when in sync."""
    desired: Settings
    """D, widened for whole objects."""
    shown: dict[str, Any] | None
    blind: tuple[str, ...]
    """Fields left out of R because the carrier could not tell their live value."""
    fields: tuple[FieldChange, ...]


def diff_number(desired: Settings, current: Settings) -> dict[str, Any] | None:
    """R(n): the desired fields whose current value differs, or None when in sync.

    The fast path is one comparison per managed field on plain Python values; nothing is
    allocated for an in-sync number.
    """
    get = current.get
    for key, value in desired.items():
        if get(key, _MISSING) != value:
            break
    else:
        return None
    return {k: v for k, v in desired.items() if get(k, _MISSING) != v}


def widen(
    required: dict[str, Any],
    desired: Settings,
    current: Settings,
    whole: Mapping[str, tuple[str, ...]],
    cache: dict[Any, Any],
) -> tuple[dict[str, Any], Settings, dict[str, Any] | None]:
    """R(n) and D(n) widened for the carrier's whole objects (``Carrier.whole_objects``, prefix →
    its subfield paths), and the R to show (None: R itself). D gains the live values of the
    unmanaged subfields of each whole object it manages part of; R gains every subfield of each
    whole object it changes. Numbers whose unmanaged subfields differ then never share a call.
    Live nulls are not sent. Widened D objects are shared between numbers alike (``cache``), as
    the resolver shares D."""
    known = cache.get(id(desired))
    if known is None:  # one D per content (``reconciler.intern``); the cache holds it
        managed = tuple(p for p, paths in whole.items() if any(k in desired for k in paths))
        cache[id(desired)] = (desired, managed)
    else:
        managed = known[1]
    if not managed:
        return required, desired, None
    fill = {
        k: current[k]
        for p in managed
        for k in whole[p]
        if k not in desired and current.get(k) is not None
    }
    key = (id(desired), freeze(fill))
    wide = cache.get(key)
    if wide is None:
        wide = cache[key] = {**desired, **fill}
    touched = [p for p in managed if any(k in required for k in whole[p])]
    sent = {**required, **{k: wide[k] for p in touched for k in whole[p] if k in wide}}
    return sent, wide, required


class Outcomes:
    """What each pair (D, C) of one account comes to, computed once per pair of objects.

    ``outcome`` is the rule; this is its memo. Reads keep equal live settings once
    (``LiveNumber``) and the resolver hands out one D per content (``reconciler.intern``), so
    100k numbers make a few hundred pairs, and the numbers of one pair share R, D and the field
    changes shown. An entry holds both objects, so no ``id`` in a key is reused while the entry
    exists; the memo is emptied when it reaches ``MAX_PAIRS`` entries (a read that shares
    nothing), which bounds its memory. Correctness never depends on sharing: only speed does.
    """

    MAX_PAIRS = 1 << 16

    def __init__(self, carrier: carriers.Carrier, order: Mapping[str, int]) -> None:
        self.order = order
        paths = carrier.field_paths
        self.whole = {
            prefix: tuple(p for p in paths if p.startswith(prefix))
            for prefix in carrier.whole_objects
        }
        self.unreadable = carrier.unreadable
        self.widened: dict[Any, Any] = {}
        self._pairs: dict[tuple[int, int], tuple[Settings, Settings, Outcome]] = {}

    def __call__(self, desired: Settings, current: Settings) -> Outcome:
        hit = self._pairs.get((id(desired), id(current)))
        if hit is not None:
            return hit[2]
        if len(self._pairs) >= self.MAX_PAIRS:
            self._pairs.clear()
        out = self.outcome(desired, current)
        self._pairs[id(desired), id(current)] = (desired, current, out)
        return out

    def outcome(self, desired: Settings, current: Settings) -> Outcome:
        """R, widened D and the changes shown for a number desiring ``desired`` and holding
        ``current``; ``required`` None when it is in sync."""
        required = diff_number(desired, current)
        blind: tuple[str, ...] = ()
        if required is not None and self.unreadable:
            required, blind = _readable(required, current, self.unreadable)
        if required is None:
            return Outcome(None, desired, None, blind, ())
        shown = None
        if self.whole:
            required, desired, shown = widen(required, desired, current, self.whole, self.widened)
        order = self.order
        fields = tuple(
            FieldChange(k, current.get(k), v)
            for k, v in sorted(
                (shown if shown is not None else required).items(),
                key=lambda kv: order.get(kv[0], 1 << 30),
            )
        )
        return Outcome(required, desired, shown, blind, fields)


# --------------------------------------------------------------------------------------------
# Grouping (the packing itself and the lower bound live in ``packing``)


def choose_calls(
    changed: Sequence[Changed],
    limit: int,
    grouping: str = "cover",
    *,
    instance: Instance | None = None,
    exact: list[Call] | None = None,
) -> list[Call]:
    """The calls for ``grouping``; ``cover`` never returns more calls than ``exact``."""
    instance = instance or Instance(changed)
    exact = exact if exact is not None else instance.exact(limit)
    if grouping == "exact":
        return exact
    cover = instance.cover(limit)
    return cover if len(cover) <= len(exact) else exact


# --------------------------------------------------------------------------------------------
# The plan


def plan_account(
    account: str,
    carrier: str,
    desired: DesiredState,
    live: Iterable[LiveNumber],
    *,
    limit: int | None = None,
    grouping: str = "cover",
    limits: Mapping[str, int] | None = None,
) -> tuple[AccountSummary, list[NumberChange], list[BulkCall]]:
    """One account's changes and calls. ``limit`` is the primary operation's call size limit,
    ``limits`` the others' by operation name (their defaults when absent)."""
    described = carriers.get(carrier)
    limit = limit or described.default_max_batch
    resolver = desired.resolver(account)
    order = {p: i for i, p in enumerate(field_paths(carrier))}
    outcome = Outcomes(described, order)
    blind: dict[str, int] = {}

    total = in_sync = unmanaged = 0
    exact_rules = resolver.exact
    seen_exact: set[str] = set()
    not_patchable: list[tuple[str, str]] = []
    changed: list[Changed] = []
    for number in live:
        total += 1
        e164 = number.e164
        want = resolver.desired(e164)
        if want is None:
            unmanaged += 1
            continue
        if exact_rules and e164 in exact_rules:
            seen_exact.add(e164)
        o = outcome(want, number.settings)
        for k in o.blind:
            blind[k] = blind.get(k, 0) + 1
        if o.required is None:
            in_sync += 1
            continue
        if not number.patchable:
            not_patchable.append((e164, number.status))
            continue
        changed.append(
            Changed(number.id, e164, o.required, o.desired, number.settings, o.shown, o.fields)
        )

    missing = tuple(sorted(e for e in exact_rules if e not in seen_exact))
    changed.sort(key=attrgetter("e164"))

    ops = described.ops
    parts = split_operations(changed, described) if len(ops) > 1 else [changed]
    calls: list[BulkCall] = []
    rows: list[OperationSummary] = []
    for index, (op, members_of_op) in enumerate(zip(ops, parts, strict=True)):
        op_limit = limit if index == 0 else (limits or {}).get(op.name) or op.default_max_batch
        instance = Instance(members_of_op)
        exact = instance.exact(op_limit)
        chosen = choose_calls(members_of_op, op_limit, grouping, instance=instance, exact=exact)
        op_calls = [
            BulkCall(
                account=account,
                carrier=carrier,
                patch={k: patch[k] for k in sorted(patch, key=lambda k: order.get(k, 1 << 30))},
                ids=tuple(n.id for n in members),
                e164s=tuple(n.e164 for n in members),
                operation=None if index == 0 else op.name,
            )
            for patch, members in (
                (patch, sorted(members, key=lambda n: n.e164)) for patch, members in chosen
            )
        ]
        op_calls.sort(key=lambda c: (c.e164s[0], len(c.ids)))
        calls.extend(op_calls)
        rows.append(
            OperationSummary(
                operation=op.name,
                label=op.label,
                changed=len(members_of_op),
                calls=len(op_calls),
                calls_exact=len(exact),
                lower_bound=lower_bound(instance, op_limit),
                max_batch=op_limit,
            )
        )

    changes = [NumberChange(account, n.id, n.e164, n.fields) for n in changed]
    several = any(r.changed for r in rows[1:])
    summary = AccountSummary(
        account=account,
        carrier=carrier,
        total=total,
        in_sync=in_sync,
        changed=len(changed),
        unmanaged=unmanaged,
        calls=len(calls),
        calls_exact=sum(r.calls_exact for r in rows),
        lower_bound=sum(r.lower_bound for r in rows),
        max_batch=limit,
        grouping=grouping,
        missing=missing,
        not_patchable=tuple(sorted(not_patchable)),
        operations=tuple(rows) if several else (),
        unreadable=tuple(sorted(blind.items(), key=lambda kv: order.get(kv[0], 1 << 30))),
    )
    return summary, changes, calls


def _readable(
    required: dict[str, Any], current: Settings, unreadable: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """R without the fields whose live value the carrier could not tell, and those fields: an
    unknown value never differs, so nothing is planned from it."""
    drop = tuple(k for k in required if k in unreadable and current.get(k) == unreadable[k])
    if not drop:
        return required, drop
    out = {k: v for k, v in required.items() if k not in drop}
    return out or None, drop


def split_operations(changed: Sequence[Changed], carrier: carriers.Carrier) -> list[list[Changed]]:
    """Per operation of ``carrier`` (primary first), each changed number's share: R(n) and D(n)
    restricted to the operation's fields (plus its ``always_sent`` fields from D), for the
    numbers whose R touches it. Restricted D objects are shared per D (``reconciler.intern``:
    one D per content), so packing groups them as it groups D. The split is made once per pair
    of R and D objects (numbers alike share them: ``Outcomes``), bounded like ``Outcomes``."""
    ops = carrier.ops
    index = {op.name: i for i, op in enumerate(ops)}
    of = {p: index[carrier.operation_of(p).name] for p in carrier.field_paths}
    restricted: dict[int, tuple[Settings, list[Settings]]] = {}

    def shares_of(desired: Settings) -> list[Settings]:
        entry = restricted.get(id(desired))
        if entry is None:
            shares: list[Settings] = [{} for _ in ops]
            for k, v in desired.items():
                shares[of.get(k, 0)][k] = v
            entry = restricted[id(desired)] = (desired, shares)
        return entry[1]

    def split(
        required: dict[str, Any], desired: Settings
    ) -> list[tuple[int, dict[str, Any] | None, Settings]]:
        """(operation index, R's share, D's share) of every operation R touches; R's share None
        for the usual case: the primary operation's share is R itself, the number goes as is."""
        shares = shares_of(desired)
        parts: list[dict[str, Any]] = [{} for _ in ops]
        for k, v in required.items():
            parts[of.get(k, 0)][k] = v
        out: list[tuple[int, dict[str, Any] | None, Settings]] = []
        for i, r in enumerate(parts):
            if not r:
                continue
            for k in ops[i].always_sent:
                if k in shares[i] and k not in r:
                    r[k] = shares[i][k]
            out.append((i, None if i == 0 and len(r) == len(required) else r, shares[i]))
        return out

    known: dict[tuple[int, int], tuple[dict[str, Any], Settings, list[Any]]] = {}
    out: list[list[Changed]] = [[] for _ in ops]
    for n in changed:
        entry = known.get((id(n.required), id(n.desired)))
        if entry is None:
            if len(known) >= Outcomes.MAX_PAIRS:
                known.clear()
            parts = split(n.required, n.desired)
            entry = known[id(n.required), id(n.desired)] = (n.required, n.desired, parts)
        for i, r, share in entry[2]:
            out[i].append(n if r is None else Changed(n.id, n.e164, r, share, n.current))
    return out


def make_plan(
    desired: DesiredState,
    current: Mapping[str, Sequence[LiveNumber]],
    *,
    limits: Mapping[str, int] | None = None,
    scope: Scope | None = None,
) -> Plan:
    """The whole plan: every account of ``desired`` that ``current`` has live numbers for."""
    summaries, changes, calls = [], [], []
    for name in sorted(current):
        account = desired.accounts[name]
        summary, ch, ca = plan_account(
            name,
            account.config.type,
            desired,
            current[name],
            limit=(limits or {}).get(name) or account.config.max_ids_per_call,
            grouping=account.config.grouping,
            limits=operation_limits(account.config),
        )
        summaries.append(summary)
        changes.extend(ch)
        calls.extend(ca)
    return Plan(
        accounts=tuple(summaries),
        changes=tuple(changes),
        calls=tuple(calls),
        scope=scope or Scope(),
    )


def operation_limits(config: Any) -> dict[str, int]:
    """The call size limit of each non-primary operation of an account: its ``batch_option``
    when the account sets it, else the operation's default (never above its hard limit)."""
    out = {}
    for op in config.carrier.ops[1:]:
        chosen = getattr(config, op.batch_option, None) if op.batch_option else None
        out[op.name] = min(chosen or op.default_max_batch, op.hard_max_batch)
    return out
