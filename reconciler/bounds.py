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

Three families of labellings satisfy (a) and (b); the bound is the largest B among them:

* by field f: a number that requires f is labelled with its value v; S_v = the numbers whose D
  has f = v. Two numbers requiring different values of f never share a call. This is exact on one
  profile with an override per number: the override field forces one call per value.
* by a pair of fields {f, g}: a number that requires both is labelled with its two values; S =
  the numbers whose D has both. Five profiles with an override per number need a call per
  (profile, value) whose numbers require a field of the profile's own and the override, which no
  single field shows. Only the fields that differ between groups are paired, and the pairs are
  skipped when counting them would take more than ``PAIR_BUDGET`` steps (the bound stays valid).
* by group g (a D's content): a number is labelled g when it requires a value that no other
  group holds; S_g = the group. It only ever shares a call with its own group, so two numbers so
  labelled of different groups never share one. This counts the many profiles whose numbers each
  drifted in a field of their own (one call per profile at least).

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


PAIR_BUDGET = 4_000_000
"""Steps the pair labellings may take (see ``pair_labellings``); beyond, the bound goes without."""


def lower_bound(instance: Instance, limit: int) -> int:
    """The largest bound of the labellings of the module docstring."""
    total = len(instance.changed)
    best = -(-total // limit)
    holders = instance.holders()
    required: list[dict[int, int]] = [{} for _ in instance.fields]
    locked: dict[int, int] = {}
    for (g, rmask), members in zip(instance.kinds, instance.members, strict=True):
        row = instance.dvals[g]
        alone = False
        for i in bits(rmask):
            required[i][row[i]] = required[i].get(row[i], 0) + len(members)
            alone = alone or holders[i][row[i]] == instance.group_size[g]
        if alone:
            locked[g] = locked.get(g, 0) + len(members)
    for i in range(len(instance.fields)):
        best = max(best, labelled(total, limit, required[i], holders[i]))
    best = max(best, labelled(total, limit, locked, dict(enumerate(instance.group_size))))
    for pair_required, pair_held in pair_labellings(instance):
        best = max(best, labelled(total, limit, pair_required, pair_held))
    return best


def pair_labellings(instance: Instance) -> list[tuple[dict[Any, int], dict[Any, int]]]:
    """(r_c, d_c) of the labelling by the values of each pair of fields on which groups differ,
    or none when that would take more than ``PAIR_BUDGET`` steps."""
    rows, n_groups = instance.dvals, len(instance.dvals)
    differ = 0  # fields that some two groups set differently (or one does not set)
    for i in range(len(instance.fields)):
        if len({row[i] for row in rows}) > 1:
            differ |= 1 << i
    steps = n_groups * differ.bit_count() ** 2 // 2
    for _, rmask in instance.kinds:
        steps += (rmask & differ).bit_count() ** 2 // 2
    if steps > PAIR_BUDGET:
        return []
    required: dict[tuple[int, int], dict[tuple[int, int], int]] = {}
    for (g, rmask), members in zip(instance.kinds, instance.members, strict=True):
        row, fields = rows[g], bits(rmask & differ)
        for a, i in enumerate(fields):
            for j in fields[a + 1 :]:
                table = required.setdefault((i, j), {})
                table[row[i], row[j]] = table.get((row[i], row[j]), 0) + len(members)
    out: list[tuple[dict[Any, int], dict[Any, int]]] = []
    for (i, j), table in required.items():
        held: dict[Any, int] = {}
        for row, size in zip(rows, instance.group_size, strict=True):
            key = (row[i], row[j])
            if key in table:
                held[key] = held.get(key, 0) + size
        out.append((dict(table), held))
    return out


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
