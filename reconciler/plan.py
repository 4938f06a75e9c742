"""The Plan: a serialisable value. ``plan`` renders it, ``apply`` executes exactly it.

Plain frozen dataclasses with slots rather than pydantic models: a plan of a million numbers holds
hundreds of thousands of ``NumberChange`` objects and these cost a fraction of a validated model.
Validation happens once, at the edges (``from_dict`` for saved plans, the loader for YAML).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .warning import REFUSING as REFUSING  # re-exported: where these were always imported from
from .warning import PlanWarning as PlanWarning
from .warning import WarningKind as WarningKind


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class NumberChange:
    """One number that differs from its desired state: the changed managed fields only."""

    account: str
    id: str
    e164: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class Narrowed:
    """A number ``Plan.without`` takes out of the calls of ``operations`` only (None: the
    carrier's primary one); ``left`` is its change with the fields of the other operations."""

    operations: frozenset[str | None]
    left: NumberChange


@dataclass(frozen=True, slots=True)
class BulkCall:
    """One carrier call: the same flat ``patch`` for every id in ``ids`` (≤ the carrier's limit)."""

    account: str
    carrier: str
    patch: dict[str, Any]
    ids: tuple[str, ...]
    e164s: tuple[str, ...] = ()
    operation: str | None = None
    """The carrier operation this call is (``carriers.Operation.name``); None: the carrier's
    primary one (so plans of single-operation carriers read as before)."""


@dataclass(frozen=True, slots=True)
class OperationSummary:
    """One operation's share of an account's plan (carriers with several operations): its
    numbers, calls, the calls ``exact`` grouping would make, and no valid grouping's fewer."""

    operation: str
    label: str
    changed: int
    calls: int
    calls_exact: int
    lower_bound: int
    max_batch: int


@dataclass(frozen=True, slots=True)
class AccountSummary:
    account: str
    carrier: str
    total: int
    in_sync: int
    changed: int
    unmanaged: int
    calls: int
    calls_exact: int
    lower_bound: int
    max_batch: int
    grouping: str
    missing: tuple[str, ...] = ()
    """Exact numbers the YAML declares that the account does not have (an error)."""
    not_patchable: tuple[tuple[str, str], ...] = ()
    """(e164, status) of selected numbers the carrier will not let us patch (reported only)."""
    unmanaged_numbers: tuple[str, ...] = ()
    """The unmanaged numbers themselves, when the run asked for them (``drift -v``)."""
    operations: tuple[OperationSummary, ...] = ()
    """Per operation, when the plan uses one besides the carrier's primary one (the account's
    calls, calls_exact and lower_bound are then their sums)."""
    unreadable: tuple[tuple[str, int], ...] = ()
    """(field, numbers) whose live value the carrier could not tell: not planned from."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The accounts a run was limited to (``--account``), of those the config declares."""

    selected: tuple[str, ...]
    declared: tuple[str, ...]

    @classmethod
    def of(cls, plan: Plan) -> Selection | None:
        """The selection a plan records (None: the run covered every account)."""
        return plan.scope.accounts

    def describe(self) -> str:
        """``a, b of 4``."""
        return f"{', '.join(self.selected)} of {len(self.declared)}"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a plan covers, beyond its accounts' figures; JSON ``meta`` (keys only when set).

    ``config`` is the path the plan was made from. ``accounts`` is the ``--account`` selection.
    With ``--target`` selectors (``targets``), ``managed`` holds each account's managed numbers
    in the whole account (the rails' base, ``rails.managed_counts``) and ``read`` the numbers
    read per account, of which only those the targets select were planned.
    """

    config: str | None = None
    accounts: Selection | None = None
    targets: tuple[str, ...] = ()
    managed: Mapping[str, int] = field(default_factory=dict)
    read: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.config is not None:
            out["config"] = self.config
        if self.accounts is not None:
            out["accounts"] = {
                "selected": list(self.accounts.selected),
                "declared": list(self.accounts.declared),
            }
        if self.targets:
            out["targets"] = list(self.targets)
            out["managed"] = dict(self.managed)
            out["read"] = dict(self.read)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scope:
        accounts = data.get("accounts")
        return cls(
            config=data.get("config"),
            accounts=Selection(tuple(accounts["selected"]), tuple(accounts["declared"]))
            if accounts is not None
            else None,
            targets=tuple(data.get("targets", ())),
            managed=dict(data.get("managed", {})),
            read=dict(data.get("read", {})),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    accounts: tuple[AccountSummary, ...]
    changes: tuple[NumberChange, ...]
    calls: tuple[BulkCall, ...]
    scope: Scope = field(default_factory=Scope)
    warnings: tuple[PlanWarning, ...] = ()

    # ---- derived figures
    @property
    def changed(self) -> int:
        return len(self.changes)

    @property
    def in_sync(self) -> int:
        return sum(a.in_sync for a in self.accounts)

    @property
    def unmanaged(self) -> int:
        return sum(a.unmanaged for a in self.accounts)

    @property
    def lower_bound(self) -> int:
        return sum(a.lower_bound for a in self.accounts)

    @property
    def missing(self) -> list[tuple[str, str]]:
        return [(a.account, e) for a in self.accounts for e in a.missing]

    @property
    def has_changes(self) -> bool:
        return bool(self.calls)

    def without(
        self,
        numbers: set[tuple[str, str]],
        parts: Mapping[tuple[str, str], Narrowed] | None = None,
    ) -> Plan:
        """This plan with the (account, id) ``numbers`` taken out of its changes and calls
        (calls left empty are dropped; each account's figures follow). ``parts`` takes a number
        out of the calls of some operations only (``Narrowed``: an earlier job of that operation
        is making it): it stays in its other calls, its change narrowed to their fields.

        An account's lower bound stays the planner's less the calls that held a removed number:
        those calls, cut down to the removed numbers, are still valid, so a packing of the rest
        in fewer calls would pack the whole in fewer than the planner's bound."""
        parts = parts or {}

        def gone(b: BulkCall, id_: str) -> bool:
            key = (b.account, id_)
            return key in numbers or (key in parts and b.operation in parts[key].operations)

        changes = tuple(
            parts[(c.account, c.id)].left if (c.account, c.id) in parts else c
            for c in self.changes
            if (c.account, c.id) not in numbers
        )
        calls = []
        touched: dict[str, int] = {}
        for b in self.calls:
            keep = [i for i, id_ in enumerate(b.ids) if not gone(b, id_)]
            if len(keep) == len(b.ids):
                calls.append(b)
                continue
            touched[b.account] = touched.get(b.account, 0) + 1
            if keep:
                ids = tuple(b.ids[i] for i in keep)
                e164s = tuple(b.e164s[i] for i in keep) if b.e164s else ()
                calls.append(BulkCall(b.account, b.carrier, b.patch, ids, e164s, b.operation))
        changed: dict[str, int] = {}
        for c in changes:
            changed[c.account] = changed.get(c.account, 0) + 1
        n_calls: dict[str, int] = {}
        for b in calls:
            n_calls[b.account] = n_calls.get(b.account, 0) + 1
        touched_op: dict[tuple[str, str | None], int] = {}
        for b in self.calls:
            if any(gone(b, i) for i in b.ids):
                key = (b.account, b.operation)
                touched_op[key] = touched_op.get(key, 0) + 1
        accounts = tuple(
            replace(
                a,
                changed=changed.get(a.account, 0),
                calls=n_calls.get(a.account, 0),
                lower_bound=max(
                    -(-changed.get(a.account, 0) // a.max_batch),
                    a.lower_bound - touched.get(a.account, 0),
                ),
                operations=_ops_without(a, calls, touched_op),
            )
            for a in self.accounts
        )
        return replace(self, accounts=accounts, changes=changes, calls=tuple(calls))

    # ---- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON data (a saved plan's ``plan``; ``planfile`` adds its ``format``)."""
        return {
            "meta": self.scope.to_dict(),
            "accounts": [
                {
                    **{k: getattr(a, k) for k in _SUMMARY_SCALARS},
                    "missing": list(a.missing),
                    "not_patchable": [list(p) for p in a.not_patchable],
                    "unmanaged_numbers": list(a.unmanaged_numbers),
                    **_account_extras(a),
                }
                for a in self.accounts
            ],
            "changes": [
                {
                    "account": c.account,
                    "id": c.id,
                    "e164": c.e164,
                    "changes": [{"field": f.field, "old": f.old, "new": f.new} for f in c.changes],
                }
                for c in self.changes
            ],
            "calls": [
                {
                    "account": b.account,
                    "carrier": b.carrier,
                    "patch": b.patch,
                    "ids": list(b.ids),
                    "e164s": list(b.e164s),
                    **({"operation": b.operation} if b.operation is not None else {}),
                }
                for b in self.calls
            ],
            "warnings": [
                {"rail": w.rail.value, "account": w.account, "message": w.message}
                for w in self.warnings
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            scope=Scope.from_dict(data.get("meta", {})),
            accounts=tuple(
                AccountSummary(
                    **{k: a[k] for k in _SUMMARY_SCALARS},
                    missing=tuple(a.get("missing", ())),
                    not_patchable=tuple(tuple(p) for p in a.get("not_patchable", ())),  # type: ignore[misc]
                    unmanaged_numbers=tuple(a.get("unmanaged_numbers", ())),
                    operations=tuple(OperationSummary(**o) for o in a.get("operations", ())),
                    unreadable=tuple((u["field"], u["numbers"]) for u in a.get("unreadable", ())),
                )
                for a in data["accounts"]
            ),
            changes=tuple(
                NumberChange(
                    account=c["account"],
                    id=c["id"],
                    e164=c["e164"],
                    changes=tuple(FieldChange(**f) for f in c["changes"]),
                )
                for c in data["changes"]
            ),
            calls=tuple(
                BulkCall(
                    account=b["account"],
                    carrier=b["carrier"],
                    patch=dict(b["patch"]),
                    ids=tuple(b["ids"]),
                    e164s=tuple(b.get("e164s", ())),
                    operation=b.get("operation"),
                )
                for b in data["calls"]
            ),
            warnings=tuple(
                PlanWarning(WarningKind(w["rail"]), w["account"], w["message"])
                for w in data.get("warnings", ())
            ),
        )

    def checksum(self) -> str:
        body = json.dumps(
            {"changes": self.to_dict()["changes"], "calls": self.to_dict()["calls"]},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


_SUMMARY_SCALARS = (
    "account",
    "carrier",
    "total",
    "in_sync",
    "changed",
    "unmanaged",
    "calls",
    "calls_exact",
    "lower_bound",
    "max_batch",
    "grouping",
)


def _account_extras(a: AccountSummary) -> dict[str, Any]:
    """Keys only accounts of several operations (or unreadable values) have, so other plans
    read byte for byte as before."""
    out: dict[str, Any] = {}
    if a.operations:
        out["operations"] = [
            {k: getattr(o, k) for k in OperationSummary.__slots__} for o in a.operations
        ]
    if a.unreadable:
        out["unreadable"] = [{"field": f, "numbers": n} for f, n in a.unreadable]
    return out


def _ops_without(
    a: AccountSummary,
    calls: list[BulkCall],
    touched: Mapping[tuple[str, str | None], int],
) -> tuple[OperationSummary, ...]:
    """``a.operations`` after ``Plan.without``: the same bound argument, per operation."""
    if not a.operations:
        return ()
    out = []
    for index, o in enumerate(a.operations):
        name = None if index == 0 else o.operation
        mine = [b for b in calls if b.account == a.account and b.operation == name]
        changed = len({id_ for b in mine for id_ in b.ids})
        out.append(
            replace(
                o,
                changed=changed,
                calls=len(mine),
                lower_bound=max(
                    -(-changed // o.max_batch),
                    o.lower_bound - touched.get((a.account, name), 0),
                ),
            )
        )
    return tuple(out)
