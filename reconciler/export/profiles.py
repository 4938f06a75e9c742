"""Profiles: cluster an account's numbers by their values (the first half of the factoring).

Numbers with equal values form signatures; values that occur on one number only are wildcards
(they are inline whatever the profile). Signatures are taken largest first and start a profile
when that is cheaper in lines than joining the best existing one, unless the group is too small to
be "shared by many numbers" or is near-identical to a profile and scattered (then its numbers get
overrides). Then k-modes rounds until stable: a profile's value of a field is its members' most
common one, members move to their cheapest profile, profiles that do not pay for their own lines
are dropped.
"""

from __future__ import annotations

from collections import Counter

from .table import ENTRY, INF, UNSET, Table

WILD = -1
"""Projected value id of a value only one number has (never a profile value)."""
ROUNDS = 12
NEAR_SHARE = 6
"""A group differing from a profile in at most 1/6 of the fields (at least 1) is near-identical."""
MIN_SHARED = 50
"""A new profile needs min(50, max(3, 1 %)) of the numbers (unless no profile fits them)."""


def cluster(table: Table) -> tuple[list[dict[int, int]], dict[tuple[int, ...], int]]:
    """Profiles and each signature's profile (-1: none; its entry is inline only)."""
    sigs = Counter(sig for _, sig in table.numbers if sig is not None)
    width = len(table.lines)
    seen: list[Counter[int]] = [Counter() for _ in range(width)]
    for sig, n in sigs.items():
        for f, v in enumerate(sig):
            seen[f][v] += n
    project = {
        sig: tuple(v if v == UNSET or seen[f][v] > 1 else WILD for f, v in enumerate(sig))
        for sig in sigs
    }
    c = _Clusters(table, Counter())
    for sig, n in sigs.items():
        c.weight[project[sig]] += n
    order = sorted(c.weight, key=lambda p: (-c.weight[p], p))
    # Numbers next to a number with the same projected values (in number order): a group
    # whose numbers mostly sit together can be selected by prefixes, a scattered one cannot.
    seq = [project[sig] if sig is not None else None for _, sig in table.numbers]
    together: Counter[tuple[int, ...]] = Counter()
    for i, here in enumerate(seq):
        if here is None:
            continue
        if (i and seq[i - 1] == here) or (i + 1 < len(seq) and seq[i + 1] == here):
            together[here] += 1
    near = max(1, width // NEAR_SHARE)
    shared = min(MIN_SHARED, max(3, sum(c.weight.values()) // 100))

    centers: list[dict[int, int]] = []
    for p in order:
        n = c.weight[p]
        costs = [c.member(p, center) for center in centers]
        join = min(costs, default=INF)
        own = {f: v for f, v in enumerate(p) if v > 0}
        if not own or 1 + c.lines(own) + n * c.member(p, own) >= n * join:
            continue
        if n < shared and join < INF:
            continue  # a profile is for settings many numbers share
        best = centers[costs.index(join)] if join < INF else None
        if best is not None and together[p] * 2 < n and _distance(p, best) <= near:
            continue  # near-identical and scattered: overrides on the closest profile
        centers.append(own)

    assign: dict[tuple[int, ...], int] = {}
    for _ in range(ROUNDS):
        new = {p: c.cheapest(p, centers) for p in order}
        centers, new = c.prune(c.modes(centers, new), new)
        if new == assign:
            break
        assign = new
    return centers, {sig: assign[p] for sig, p in project.items()}


def _distance(p: tuple[int, ...], center: dict[int, int]) -> int:
    return sum(1 for f, v in enumerate(p) if v != UNSET and center.get(f) != v)


class _Clusters:
    """Projected signatures (``weight``: how many numbers each) and what a member costs."""

    def __init__(self, table: Table, weight: Counter[tuple[int, ...]]) -> None:
        self.table, self.weight = table, weight

    def lines(self, values: dict[int, int]) -> int:
        # value id 0 stands for a wildcard here: an inline value of unknown size, count 1
        total, mask = 0, 0
        for f, v in values.items():
            total += self.table.lines[f][v] if v > 0 else 1
            mask |= self.table.parents[f]
        return total + mask.bit_count()

    def member(self, p: tuple[int, ...], center: dict[int, int]) -> int:
        """Lines of the exact entry a number with values ``p`` needs under ``center``."""
        diff: dict[int, int] = {}
        for f, v in enumerate(p):
            if v == UNSET:
                if f in center:
                    return INF
            elif v == WILD or center.get(f) != v:
                diff[f] = v if v != WILD else 0
        return ENTRY + 1 + self.lines(diff) if diff else 0

    def cheapest(self, p: tuple[int, ...], centers: list[dict[int, int]]) -> int:
        best, where = self.member(p, {}), -1
        for k, center in enumerate(centers):
            cost = self.member(p, center)
            if cost < best:
                best, where = cost, k
        return where

    def modes(
        self, centers: list[dict[int, int]], assign: dict[tuple[int, ...], int]
    ) -> list[dict[int, int]]:
        """Each profile's value of a field: its members' most common one (no value if a member
        cannot write the field)."""
        members: list[list[tuple[int, ...]]] = [[] for _ in centers]
        for p, k in assign.items():
            if k >= 0:
                members[k].append(p)
        out = []
        for k, group in enumerate(members):
            if not group:
                out.append(centers[k])
                continue
            center: dict[int, int] = {}
            for f in range(len(self.table.lines)):
                votes: Counter[int] = Counter()
                for p in group:
                    votes[p[f]] += self.weight[p]
                if votes[UNSET]:
                    continue
                votes.pop(WILD, None)
                if votes:
                    center[f] = min(votes, key=lambda v: (-votes[v], v))
            out.append(center)
        return out

    def prune(
        self, centers: list[dict[int, int]], assign: dict[tuple[int, ...], int]
    ) -> tuple[list[dict[int, int]], dict[tuple[int, ...], int]]:
        """Drop unused profiles and, one at a time, profiles whose lines cost more than they
        save their members."""
        while True:
            used = sorted({k for k in assign.values() if k >= 0})
            centers = [centers[k] for k in used]
            remap = {k: i for i, k in enumerate(used)}
            assign = {p: remap.get(k, -1) for p, k in assign.items()}
            worst, worst_gain = -1, 0
            for k, center in enumerate(centers):
                others = centers[:k] + centers[k + 1 :]
                saved = 0
                for p, a in assign.items():
                    if a == k:
                        alt = self.cheapest(p, others)
                        alt_cost = self.member(p, others[alt] if alt >= 0 else {})
                        saved += self.weight[p] * (alt_cost - self.member(p, center))
                gain = 1 + self.lines(center) - saved
                if gain > worst_gain:
                    worst, worst_gain = k, gain
            if worst < 0:
                return centers, assign
            centers = centers[:worst] + centers[worst + 1 :]
            assign = {p: self.cheapest(p, centers) for p in assign}
