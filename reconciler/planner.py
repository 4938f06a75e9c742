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
from typing import Any

from . import carriers
from .bounds import lower_bound
from .carriers import field_paths
from .desired import DesiredState
from .models import LiveNumber, Settings
from .packing import Call, Instance, freeze
from .plan import AccountSummary, BulkCall, FieldChange, NumberChange, Plan, Scope

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


def send_whole(n: Changed, whole: Mapping[str, tuple[str, ...]], cache: dict[Any, Any]) -> None:
    """Widen R(n) and D(n) for the carrier's whole objects (``Carrier.whole_objects``, prefix →
    its subfield paths): D gains the live values of the unmanaged subfields of each whole object
    it manages part of; R gains every subfield of each whole object it changes. Numbers whose
    unmanaged subfields differ then never share a call. Live nulls are not sent. Widened D
    objects are shared between numbers alike (``cache``), as the resolver shares D."""
    desired, current = n.desired, n.current or {}
    known = cache.get(id(desired))
    if known is None:  # one D per content (``reconciler.intern``); the cache holds it
        managed = tuple(p for p, paths in whole.items() if any(k in desired for k in paths))
        cache[id(desired)] = (desired, managed)
    else:
        managed = known[1]
    if not managed:
        return
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
    touched = [p for p in managed if any(k in n.required for k in whole[p])]
    n.shown = n.required
    n.required = {**n.required, **{k: wide[k] for p in touched for k in whole[p] if k in wide}}
    n.desired = wide


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
) -> tuple[AccountSummary, list[NumberChange], list[BulkCall]]:
    limit = limit or carriers.get(carrier).default_max_batch
    resolver = desired.resolver(account)
    order = {p: i for i, p in enumerate(field_paths(carrier))}
    whole = {
        prefix: tuple(p for p in field_paths(carrier) if p.startswith(prefix))
        for prefix in carriers.get(carrier).whole_objects
    }
    widened: dict[Any, Any] = {}

    total = in_sync = unmanaged = 0
    seen_e164: set[str] = set()
    not_patchable: list[tuple[str, str]] = []
    changed: list[Changed] = []
    for number in live:
        total += 1
        seen_e164.add(number.e164)
        want = resolver.desired(number.e164)
        if want is None:
            unmanaged += 1
            continue
        required = diff_number(want, number.settings)
        if required is None:
            in_sync += 1
            continue
        if not number.patchable:
            not_patchable.append((number.e164, number.status))
            continue
        n = Changed(number.id, number.e164, required, want, number.settings)
        if whole:
            send_whole(n, whole, widened)
        changed.append(n)

    missing = tuple(sorted(e for e in resolver.exact if e not in seen_e164))
    changed.sort(key=lambda n: n.e164)

    instance = Instance(changed)
    exact = instance.exact(limit)
    chosen = choose_calls(changed, limit, grouping, instance=instance, exact=exact)

    calls = [
        BulkCall(
            account=account,
            carrier=carrier,
            patch={k: patch[k] for k in sorted(patch, key=lambda k: order.get(k, 1 << 30))},
            ids=tuple(n.id for n in members),
            e164s=tuple(n.e164 for n in members),
        )
        for patch, members in (
            (patch, sorted(members, key=lambda n: n.e164)) for patch, members in chosen
        )
    ]
    calls.sort(key=lambda c: (c.e164s[0], len(c.ids)))

    changes = [
        NumberChange(
            account=account,
            id=n.id,
            e164=n.e164,
            changes=tuple(
                FieldChange(k, (n.current or {}).get(k), v)
                for k, v in sorted(
                    (n.shown if n.shown is not None else n.required).items(),
                    key=lambda kv: order.get(kv[0], 1 << 30),
                )
            ),
        )
        for n in changed
    ]
    summary = AccountSummary(
        account=account,
        carrier=carrier,
        total=total,
        in_sync=in_sync,
        changed=len(changed),
        unmanaged=unmanaged,
        calls=len(calls),
        calls_exact=len(exact),
        lower_bound=lower_bound(instance, limit),
        max_batch=limit,
        grouping=grouping,
        missing=missing,
        not_patchable=tuple(sorted(not_patchable)),
    )
    return summary, changes, calls


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
