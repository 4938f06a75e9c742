"""Factor an account's live settings into profiles and selectors that resolve back exactly.

Pure functions, no I/O: ``reconciler.export`` turns live numbers into the ``Table`` below and the
``Factoring`` it gets back into YAML. The algorithm and its cost model are explained for users in
docs/export.md; in short:

* Values are *interned* per field: value id 0 means "cannot be written in YAML" (a null, or a
  value the settings model rejects), so that number must leave the field unmanaged and no rule
  that selects it may set the field (the loader has no way to unset a field).
* **Cost** is YAML lines, counted as the exporter writes them: a profile is 1 line + its settings;
  an entry is 2 lines (provider, number) + 1 for ``profile:`` + 1 for ``settings:`` + the inline
  settings; a setting is its value's lines plus one line per nested mapping header it opens.
* **Profiles** (``cluster``): numbers with equal values form signatures; values that occur once in
  the account are wildcards (they are inline whatever the profile). Signatures are taken largest
  first and start a profile when that is cheaper than joining the best existing one; then k-modes
  rounds (profile value = the field's most common value among its members, members re-assigned to
  their cheapest profile, profiles that do not pay for their own lines dropped) until stable.
* **Selectors** (``place``): a dynamic programme over the compressed trie of the account's numbers.
  ``cost(node, inherited)`` is the cheapest YAML for the node's subtree given the settings the
  enclosing prefix rules resolve to: either no rule here, or a prefix rule naming the subtree's
  most common profile. Leaves pay for exact entries: nothing, inline overrides, or
  their own profile plus overrides. Non-patchable numbers (and numbers whose unwritable fields a
  rule would set) cost infinity under any rule, so no selector covers them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

UNSET = 0
"""Value id of a value that cannot be written in YAML (the field stays unmanaged there)."""
WILD = -1
"""Projected value id of a value only one number has (never a profile value)."""
INF = 1 << 40

ENTRY = 2  # "- provider: …" and "number: …"
ROUNDS = 12
NEAR_SHARE = 6
MIN_SHARED = 50
"""A new profile needs min(50, max(3, 1 %)) of the numbers (unless no profile fits them)."""
"""A group differing from a profile in at most 1/6 of the fields (at least 1) is near-identical."""


@dataclass
class Table:
    """The managed fields of one account as value ids.

    ``lines[f][v]``: YAML lines of value ``v`` of field ``f`` (index 0 unused); ``parents[f]``:
    bit mask of the nested mapping headers the field sits under (``voice:``, ...); ``numbers``:
    (e164, signature) sorted by e164, signature ``None`` for numbers no rule may select.
    """

    lines: list[list[int]]
    parents: list[int]
    numbers: list[tuple[str, tuple[int, ...] | None]]


@dataclass
class Rule:
    selector: str
    """``+digits*`` for a prefix, an E.164 number for an exact entry."""
    profile: int | None
    inline: dict[int, int]
    covers: int
    """Patchable numbers the rule selects."""
    sig: tuple[int, ...] = field(default=(), repr=False)
    inherited: tuple[int, ...] = field(default=(), repr=False)
    """Exact entries: the number's values and what the enclosing prefix rules resolve to (-1:
    unset), so the entry can be rewritten without its profile."""


@dataclass
class Factoring:
    profiles: list[dict[int, int]]
    """Profile index → {field: value id}; every profile is used by at least one rule."""
    rules: list[Rule]
    """In file order: trie pre-order (a prefix rule before the numbers under it)."""
    profile_numbers: list[int] = field(default_factory=list)
    """Numbers resolved through each profile (for comments and ordering)."""

    def size(self, table: Table) -> int:
        """Lines of the profiles and entries under the cost model (section headers aside)."""
        profiles = sum(1 + setting_lines(table, p) for p in self.profiles)
        return profiles + sum(_entry_lines(table, r) for r in self.rules)


def setting_lines(table: Table, values: dict[int, int]) -> int:
    """Lines of a settings block holding ``values`` (field → value id)."""
    total, mask = 0, 0
    for f, v in values.items():
        total += table.lines[f][v]
        mask |= table.parents[f]
    return total + mask.bit_count()


# --------------------------------------------------------------------------------------------
# Profiles


def cluster(table: Table) -> tuple[list[dict[int, int]], dict[tuple[int, ...], int]]:
    """Profiles and each signature's profile (-1: none; its entry is inline only)."""
    width = len(table.lines)
    sigs = Counter(sig for _, sig in table.numbers if sig is not None)
    seen: list[Counter[int]] = [Counter() for _ in range(width)]
    for sig, n in sigs.items():
        for f, v in enumerate(sig):
            seen[f][v] += n
    projected: Counter[tuple[int, ...]] = Counter()
    project: dict[tuple[int, ...], tuple[int, ...]] = {}
    for sig, n in sigs.items():
        p = tuple(v if v == UNSET or seen[f][v] > 1 else WILD for f, v in enumerate(sig))
        project[sig] = p
        projected[p] += n
    order = sorted(projected, key=lambda p: (-projected[p], p))
    # Numbers next to a number with the same projected values (in number order): a group
    # whose numbers mostly sit together can be selected by prefixes, a scattered one cannot.
    seq = [project[sig] if sig is not None else None for _, sig in table.numbers]
    together: Counter[tuple[int, ...]] = Counter()
    for i, p in enumerate(seq):
        if p is not None and ((i and seq[i - 1] == p) or (i + 1 < len(seq) and seq[i + 1] == p)):
            together[p] += 1
    near = max(1, width // NEAR_SHARE)
    shared = min(MIN_SHARED, max(3, sum(projected.values()) // 100))

    def member(p: tuple[int, ...], center: dict[int, int]) -> int:
        diff: dict[int, int] = {}
        for f, v in enumerate(p):
            if v == UNSET:
                if f in center:
                    return INF
            elif v == WILD or center.get(f) != v:
                diff[f] = v if v != WILD else 0
        return ENTRY + 1 + _lines(table, diff) if diff else 0

    def alone(p: tuple[int, ...]) -> int:
        return member(p, {})

    centers: list[dict[int, int]] = []
    for p in order:
        costs = [member(p, c) for c in centers]
        join = min(costs, default=INF)
        own = {f: v for f, v in enumerate(p) if v > 0}
        if not own or 1 + _lines(table, own) + projected[p] * member(p, own) >= projected[p] * join:
            continue
        if projected[p] < shared and join < INF:
            continue  # a profile is for settings many numbers share
        best = centers[costs.index(join)] if join < INF else None
        if best is not None and together[p] * 2 < projected[p] and _distance(p, best) <= near:
            continue  # near-identical and scattered: overrides on the closest profile
        centers.append(own)

    assign: dict[tuple[int, ...], int] = {}
    for _ in range(ROUNDS):
        new = {p: _cheapest(p, centers, member, alone) for p in order}
        centers = _modes(centers, new, projected, width)
        centers, new = _prune(table, centers, new, projected, member, alone)
        if new == assign:
            break
        assign = new
    return centers, {sig: assign[p] for sig, p in project.items()}


def _distance(p: tuple[int, ...], center: dict[int, int]) -> int:
    return sum(1 for f, v in enumerate(p) if v != UNSET and center.get(f) != v)


def _lines(table: Table, values: dict[int, int]) -> int:
    # value id 0 stands for a wildcard here: an inline value whose size is not known, count 1
    total, mask = 0, 0
    for f, v in values.items():
        total += table.lines[f][v] if v > 0 else 1
        mask |= table.parents[f]
    return total + mask.bit_count()


def _cheapest(p, centers, member, alone) -> int:  # type: ignore[no-untyped-def]
    best, where = alone(p), -1
    for k, c in enumerate(centers):
        cost = member(p, c)
        if cost < best:
            best, where = cost, k
    return where


def _modes(
    centers: list[dict[int, int]],
    assign: dict[tuple[int, ...], int],
    weight: Counter[tuple[int, ...]],
    width: int,
) -> list[dict[int, int]]:
    """Each profile's value of a field: its members' most common one (none if any member cannot
    write the field)."""
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
        for f in range(width):
            votes: Counter[int] = Counter()
            for p in group:
                votes[p[f]] += weight[p]
            if votes[UNSET]:
                continue
            votes.pop(WILD, None)
            if votes:
                center[f] = min(votes, key=lambda v: (-votes[v], v))
        out.append(center)
    return out


def _prune(table, centers, assign, weight, member, alone):  # type: ignore[no-untyped-def]
    """Drop empty profiles and, one at a time, profiles whose lines cost more than they save."""
    while True:
        used = sorted({k for k in assign.values() if k >= 0})
        centers = [centers[k] for k in used]
        remap = {k: i for i, k in enumerate(used)}
        assign = {p: remap.get(k, -1) for p, k in assign.items()}
        worst, worst_gain = None, 0
        for k, c in enumerate(centers):
            others = centers[:k] + centers[k + 1 :]
            saved = 0
            for p, a in assign.items():
                if a == k:
                    alt = _cheapest(p, others, member, alone)
                    alt_cost = alone(p) if alt < 0 else member(p, others[alt])
                    saved += weight[p] * (alt_cost - member(p, c))
            gain = 1 + _lines(table, c) - saved
            if gain > worst_gain:
                worst, worst_gain = k, gain
        if worst is None:
            return centers, assign
        centers = centers[:worst] + centers[worst + 1 :]
        assign = {p: _cheapest(p, centers, member, alone) for p in assign}


# --------------------------------------------------------------------------------------------
# Selectors


class _Node:
    __slots__ = ("index", "prefix", "children", "number", "size", "patchable", "top")

    def __init__(self, index: int, prefix: str) -> None:
        self.index = index
        self.prefix = prefix
        self.children: list[_Node] = []
        self.number = -1
        self.size = 0
        self.patchable = 0
        self.top: tuple[int, ...] = ()


def _build(keys: list[str], sigs: list[tuple[int, ...] | None], profile_of: list[int]) -> _Node:
    """Compressed trie of sorted ``keys``; ``top``: candidate profiles of each node."""
    nodes = 0

    def build(lo: int, hi: int) -> tuple[_Node, Counter[int]]:
        nonlocal nodes
        first, last = keys[lo], keys[hi - 1]
        n = 0
        while n < len(first) and n < len(last) and first[n] == last[n]:
            n += 1
        node = _Node(nodes, first[:n])
        nodes += 1
        node.size = hi - lo
        counts: Counter[int] = Counter()
        i = lo
        if len(first) == n:
            node.number = lo
            node.patchable = sigs[lo] is not None
            i += 1
            if profile_of[lo] >= 0:
                counts[profile_of[lo]] += 1
        while i < hi:
            j = bisect_left(keys, node.prefix + chr(ord(keys[i][n]) + 1), i, hi)
            child, sub = build(i, j)
            node.children.append(child)
            node.patchable += child.patchable
            counts.update(sub)
            i = j
        if node.patchable > 1 and 2 <= len(node.prefix) <= 16 and counts:
            # Only the subtree's most common profile: "+1313555*: detroit" reads as a fact
            # about the block, a minority profile as a prefix would read as an accident.
            k, c = min(counts.items(), key=lambda kc: (-kc[1], kc[0]))
            node.top = (k,) if c > 1 else ()
        return node, counts

    return build(0, len(keys))[0]


def place(table: Table, centers: list[dict[int, int]], profile_of_sig: dict) -> Factoring:  # type: ignore[type-arg]
    """Choose the prefix rules and exact entries (see the module docstring)."""
    width = len(table.lines)
    keys = [e for e, _ in table.numbers]
    sigs = [s for _, s in table.numbers]
    profile_of = [profile_of_sig[s] if s is not None else -1 for s in sigs]
    root = _build(keys, sigs, profile_of)

    states: dict[tuple[int, ...], int] = {}
    state_list: list[tuple[int, ...]] = []

    def intern(state: tuple[int, ...]) -> int:
        sid = states.get(state)
        if sid is None:
            sid = states[state] = len(state_list)
            state_list.append(state)
        return sid

    empty = intern((-1,) * width)
    merged: dict[tuple[int, int], int] = {}

    def merge(sid: int, k: int) -> int:
        key = (sid, k)
        out = merged.get(key)
        if out is None:
            state = list(state_list[sid])
            for f, v in centers[k].items():
                state[f] = v
            out = merged[key] = intern(tuple(state))
        return out

    leaf_memo: dict[tuple[tuple[int, ...] | None, int], tuple[int, int | None, dict[int, int]]] = {}

    def leaf(i: int, sid: int) -> tuple[int, int | None, dict[int, int]]:
        """(cost, profile of the exact entry, its inline settings) for number i under sid."""
        sig = sigs[i]
        key = (sig, sid)
        got = leaf_memo.get(key)
        if got is not None:
            return got
        state = state_list[sid]
        if sig is None:
            got = (0, None, {}) if sid == empty else (INF, None, {})
        elif any(v >= 0 and sig[f] == UNSET for f, v in enumerate(state)):
            got = (INF, None, {})
        else:
            inline = {f: v for f, v in enumerate(sig) if v != UNSET and state[f] != v}
            got = (ENTRY + 1 + setting_lines(table, inline) if inline else 0, None, inline)
            k = profile_of[i]
            if k >= 0 and got[0]:
                with_profile = state_list[merge(sid, k)]
                rest = {f: v for f, v in enumerate(sig) if v != UNSET and with_profile[f] != v}
                cost = ENTRY + 1 + (1 + setting_lines(table, rest) if rest else 0)
                if cost < got[0]:
                    got = (cost, k, rest)
        leaf_memo[key] = got
        return got

    memo: dict[tuple[int, int], tuple[int, int]] = {}

    def solve(node: _Node, sid: int) -> int:
        if not node.children:
            return leaf(node.number, sid)[0]
        key = (node.index, sid)
        got = memo.get(key)
        if got is not None:
            return got[0]

        def below(s: int) -> int:
            total = leaf(node.number, s)[0] if node.number >= 0 else 0
            for child in node.children:
                total += solve(child, s)
                if total >= INF:
                    return INF
            return total

        best, choice = below(sid), -1
        for k in node.top:
            s2 = merge(sid, k)
            if s2 != sid:
                cost = ENTRY + 1 + below(s2)
                if cost < best:
                    best, choice = cost, k
        memo[key] = (best, choice)
        return best

    if solve(root, empty) >= INF:  # cannot happen: inline entries alone are always feasible
        raise AssertionError("no exact factoring found")

    rules: list[Rule] = []
    used = [0] * len(centers)

    def emit(node: _Node, sid: int, owner: int) -> None:
        if node.children:
            choice = memo[(node.index, sid)][1]
            if choice >= 0:
                rules.append(Rule(node.prefix + "*", choice, {}, node.patchable))
                sid, owner = merge(sid, choice), choice
        if node.number >= 0 and sigs[node.number] is not None:
            cost, k, inline = leaf(node.number, sid)
            sig = sigs[node.number]
            if cost:
                rules.append(Rule(keys[node.number], k, inline, 1, sig, state_list[sid]))
            if k is not None or owner >= 0:
                used[k if k is not None else owner] += 1
        for child in node.children:
            emit(child, sid, owner)

    emit(root, empty, -1)
    return Factoring(centers, rules, used)


def factor(table: Table) -> Factoring:
    """Profiles, then selectors, then: a profile that no prefix rule names and whose exact
    entries would cost fewer lines with their settings inline than its own lines is written
    inline (so no profile stands for a single scattered number); unnamed profiles are dropped."""
    centers, profile_of_sig = cluster(table)
    result = place(table, centers, profile_of_sig)
    users: dict[int, list[Rule]] = {}
    for rule in result.rules:
        if rule.profile is not None:
            users.setdefault(rule.profile, []).append(rule)
    keep = []
    for k, rules in sorted(users.items()):
        if all(not r.selector.endswith("*") for r in rules):
            rewritten = [_without_profile(table, r) for r in rules]
            extra = sum(
                _entry_lines(table, new) - _entry_lines(table, r)
                for r, new in zip(rules, rewritten, strict=True)
            )
            if extra <= 1 + setting_lines(table, centers[k]):
                for r, new in zip(rules, rewritten, strict=True):
                    r.profile, r.inline = None, new
                continue
        keep.append(k)
    remap = {k: i for i, k in enumerate(keep)}
    for rule in result.rules:
        if rule.profile is not None:
            rule.profile = remap[rule.profile]
    return Factoring(
        [centers[k] for k in keep], result.rules, [result.profile_numbers[k] for k in keep]
    )


def _without_profile(table: Table, rule: Rule) -> dict[int, int]:
    return {f: v for f, v in enumerate(rule.sig) if v != UNSET and rule.inherited[f] != v}


def _entry_lines(table: Table, rule_or_inline: Rule | dict[int, int]) -> int:
    if isinstance(rule_or_inline, Rule):
        inline, profile = rule_or_inline.inline, rule_or_inline.profile is not None
    else:
        inline, profile = rule_or_inline, False
    return ENTRY + profile + (1 + setting_lines(table, inline) if inline else 0)
