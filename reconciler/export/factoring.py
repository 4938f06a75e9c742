"""Factor an account's live settings into profiles and selectors that resolve back exactly.

Pure functions, no I/O: ``account`` turns live numbers into a ``Table`` and the ``Factoring`` it
gets back into YAML. The algorithm and its cost model are explained for users in docs/export.md:

* **Profiles**: ``profiles.cluster``.
* **Selectors** (``place``): a dynamic programme over the compressed trie of the account's numbers.
  ``cost(node, inherited)`` is the fewest lines for the node's subtree given the settings the
  enclosing prefix rules resolve to: either no rule here, or a prefix rule naming the subtree's
  most common profile. Leaves pay for exact entries: nothing, inline overrides, or their own
  profile plus overrides. Non-patchable numbers (and numbers whose unwritable fields a rule would
  set) cost infinity under any rule, so no selector covers them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

from .profiles import cluster
from .table import ENTRY, INF, UNSET, Table, setting_lines


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


def place(
    table: Table, centers: list[dict[int, int]], profile_of_sig: dict[tuple[int, ...], int]
) -> Factoring:
    """Choose the prefix rules and exact entries for the given profiles (``profile_of_sig``:
    each signature's profile, -1 for none; see the module docstring)."""
    if not table.numbers:
        return Factoring([], [], [])
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
        sig = sigs[node.number] if node.number >= 0 else None
        if sig is not None:
            cost, k, inline = leaf(node.number, sid)
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
