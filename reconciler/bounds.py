"""How few calls there can be: the lower bound every plan states, and the exhaustive optimum.

The terms are those of ``reconciler.packing``: N changed numbers, each with D(n) and R(n) ⊆ D(n);
a call of at most L numbers is valid iff its members' D agree on every field any of them requires.

Lower bound (``lower_bound``). Take a *labelling*: some numbers get a label c, such that (a) a
call holding a number labelled c holds only numbers of a set S_c, and (b) no call holds two
numbers with different labels. Let r_c be the numbers labelled c and d_c = |S_c|. In any valid
packing the calls holding a number labelled c are at least ⌈r_c/L⌉, disjoint from those of other
labels by (b), and hold at most min(L·c_c, d_c) numbers together, c_c being their count. The other
numbers need calls of their own, L per call. Raising a c_c above ⌈r_c/L⌉ adds at most L room per
call, no more than an unlabelled call does, so no packing has fewer calls than

    B = Σ_c ⌈r_c/L⌉ + ⌈max(0, N − Σ_c min(L·⌈r_c/L⌉, d_c)) / L⌉      (≥ ⌈N/L⌉).

Two families of labellings satisfy (a) and (b), and the bound is the largest B among them:

* one per field f: label a number that requires f with its value v; S_v = the numbers whose D has
  f = v. Two numbers requiring different values of f can never share a call. This is exact on one
  profile with an override per number: the override field forces one call per value.
* by group: label a number with its group g (its D's content) when it requires a value of some
  field that no other group holds; S_g = the group. Such a number only ever shares a call with its
  own group, and two such numbers of different groups never share one. This counts the many
  profiles whose numbers each drifted in a field of their own (one call per profile at least).

``optimum`` is the fewest valid calls found exhaustively (a DP over subsets, ≤ ~12 numbers): the
reference the tests and benchmarks/grouping.py compare the packing against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .packing import Instance, Member, bits


def labelled(total: int, limit: int, required: dict[Any, int], held: dict[Any, int]) -> int:
    """B of the module docstring for one labelling: label → r_c and label → d_c."""
    calls = room = 0
    for label, r in required.items():
        c = -(-r // limit)
        calls += c
        room += min(limit * c, held[label])
    return calls + -(-max(0, total - room) // limit)


def lower_bound(instance: Instance, limit: int) -> int:
    """The largest bound of the two families of labellings (module docstring)."""
    total = len(instance.changed)
    best = -(-total // limit)
    holders = instance.holders()
    required: list[dict[int, int]] = [{} for _ in instance.fields]
    locked: dict[int, int] = {}
    owners: list[dict[int, int]] = [{} for _ in instance.fields]  # value → groups holding it
    for row in instance.dvals:
        for table, v in zip(owners, row, strict=True):
            if v >= 0:
                table[v] = table.get(v, 0) + 1
    for (g, rmask), members in zip(instance.kinds, instance.members, strict=True):
        row = instance.dvals[g]
        alone = False
        for i in bits(rmask):
            required[i][row[i]] = required[i].get(row[i], 0) + len(members)
            alone = alone or owners[i][row[i]] == 1
        if alone:
            locked[g] = locked.get(g, 0) + len(members)
    for i in range(len(instance.fields)):
        best = max(best, labelled(total, limit, required[i], holders[i]))
    sizes = dict(enumerate(instance.group_size))
    return max(best, labelled(total, limit, locked, sizes))


def optimum(changed: Sequence[Member], limit: int) -> int:
    """The fewest valid calls, by a DP over subsets of ``changed`` (≤ ~12 numbers)."""
    n = len(changed)
    full = (1 << n) - 1
    valid = [False] * (full + 1)
    for mask in range(1, full + 1):
        members = [changed[i] for i in range(n) if mask >> i & 1]
        union: dict[str, Any] = {}
        for m in members:
            union.update(m.required)
        valid[mask] = len(members) <= limit and all(
            k in m.desired and m.desired[k] == v for m in members for k, v in union.items()
        )
    best = [0] + [n + 1] * full
    for mask in range(1, full + 1):
        low = mask & -mask  # the lowest member is in some call: try each call that holds it
        rest = mask ^ low
        sub = rest
        while True:
            call = sub | low
            if valid[call] and best[mask ^ call] + 1 < best[mask]:
                best[mask] = best[mask ^ call] + 1
            if not sub:
                break
            sub = (sub - 1) & rest
    return best[full]
