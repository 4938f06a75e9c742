"""Packing changed numbers into few valid bulk calls (the ``cover`` grouping).

Terms. A changed number n has its desired settings D(n) and its required patch R(n) ⊆ D(n) (the
fields whose live value differs, with D's values). A call of members S sends P = ∪ R(S); it is
valid iff P ⊆ D(m) for every member m, that is iff all members' D agree (present, equal value)
on every field of ∪ R(S). Validity is pairwise, so which numbers share a call matters, never the
order they joined in. L is the carrier's call size limit. How few calls there can be is
``reconciler.bounds``.

Encoding (``Instance``). Every field value is interned per field as a small int, so D becomes a
tuple of ints (a *group*: numbers whose desired settings have equal content share one, whatever
YAML entries produced them: an exact entry per number no longer makes a group per number) and R a
bitmask over the fields. A *kind* is (group, R mask); numbers of one kind are interchangeable, so
the packing works on kinds with counts and touches each number once, to slice them into calls.
Ints are assigned in input order (the planner sorts by E.164) and every choice is ordered by
them, so the plan depends on the input only, never on hash seeds or dict order.

Packing (``Instance.cover``), most constrained first:

1. A kind's *reach* is the fewest numbers that hold (in D) one of its required values: every
   number it can ever share a call with is among them. Kinds are placed by increasing reach, then
   more required fields first, then content. So the rigid numbers (an override value that a few
   hundred numbers share) open calls, and the flexible ones (a field every profile sets alike)
   fill the room those leave before opening calls of their own.
2. An open call is (ref, U, I): ``ref`` the group of its first member, U the fields it sends, I
   the fields on which every member agrees with ref (U ⊆ I). A kind (g, R) fits when g agrees
   with ref on U ∪ R and R ⊆ I; joining sets U ← U ∪ R and I ← I ∩ agree(ref, g).
3. Open calls with room are indexed by (U, ref's values on U) (``_Index``). A kind finds its
   candidates by looking up, for every U mask in use that its D covers, the key (U, D's values on
   U), then checks R ⊆ I: O(distinct U masks in use × fields) per look-up, however many calls are
   open (the packing before this one scanned the last 64 open calls only, and missed fits further
   back). The oldest fitting call is taken (first fit); a kind that fits nowhere opens a call. A
   kind goes in as whole slices, so there are O(kinds + calls) look-ups.
4. A clean-up pass tries to empty the least filled calls into the room left in the others (every
   slice must fit some call, by the same look-up; otherwise nothing moves) and drops those it
   empties.

The greedy is not optimal in general (clique partition reduces to this problem), but a call is
only opened for a kind that fits no open call. ``choose_calls`` (planner) keeps the exact grouping
when that is smaller, so ``cover`` is never worse than ``exact``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from operator import itemgetter
from typing import Any, Protocol

Call = tuple[dict[str, Any], list[Any]]
"""One bulk call: the patch it sends and its members (the planner's ``Changed``)."""

_SCALARS = (str, int, float, bool, type(None))


class Member(Protocol):
    """What packing reads of a changed number: R's values are D's (R ⊆ D)."""

    @property
    def required(self) -> dict[str, Any]: ...
    @property
    def desired(self) -> dict[str, Any]: ...


def freeze(value: Any) -> Any:
    """A hashable stand-in for a canonical JSON-compatible value."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def _canon(value: Any) -> Hashable:
    """Like ``freeze``, but a list and a dict never give the same key (``==`` tells them apart)."""
    if isinstance(value, list):
        return ("[", tuple(_canon(v) for v in value))
    if isinstance(value, dict):
        return ("{", tuple(sorted((k, _canon(v)) for k, v in value.items())))
    return value  # type: ignore[no-any-return]


def bits(mask: int) -> list[int]:
    """The indexes of the set bits of ``mask``, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class _Open:
    """A call being filled (see the module docstring, step 2)."""

    __slots__ = ("index", "ref", "umask", "imask", "size", "parts")

    def __init__(self, index: int, ref: int, umask: int, imask: int) -> None:
        self.index, self.ref, self.umask, self.imask = index, ref, umask, imask
        self.size = 0
        self.parts: list[tuple[int, int]] = []
        """(kind, how many of its numbers)."""


class _Index:
    """Open calls with room by (U mask, ref's values on U): step 3 of the module docstring."""

    def __init__(self, inst: Instance, limit: int) -> None:
        self.inst, self.limit = inst, limit
        self.calls: dict[tuple[int, Hashable], dict[int, _Open]] = {}
        self.masks: dict[int, int] = {}  # U mask → how many indexed calls send it

    def open(self) -> list[_Open]:
        return [c for bucket in self.calls.values() for c in bucket.values()]

    def add(self, c: _Open) -> None:
        if c.size < self.limit:
            key = (c.umask, self.inst.proj(c.ref, c.umask))
            self.calls.setdefault(key, {})[c.index] = c
            self.masks[c.umask] = self.masks.get(c.umask, 0) + 1

    def remove(self, c: _Open) -> None:
        key = (c.umask, self.inst.proj(c.ref, c.umask))
        bucket = self.calls.get(key)
        if bucket is None or bucket.pop(c.index, None) is None:
            return
        if not bucket:
            del self.calls[key]
        self.masks[c.umask] -= 1
        if not self.masks[c.umask]:
            del self.masks[c.umask]

    def find(self, g: int, rmask: int) -> _Open | None:
        """The oldest indexed call that kind (g, rmask) fits, or None."""
        inst = self.inst
        dmask = inst.dmask[g]
        best: _Open | None = None
        for umask in self.masks:
            if umask & ~dmask:
                continue
            for c in self.calls.get((umask, inst.proj(g, umask)), {}).values():
                if best is not None and c.index >= best.index:
                    continue
                if rmask & ~c.imask or rmask & ~inst.agree(c.ref, g):
                    continue
                best = c
        return best

    def put(self, c: _Open, kind: int, count: int) -> int:
        """Add up to ``count`` numbers of ``kind`` to ``c`` (which it fits); how many went."""
        self.remove(c)
        g, rmask = self.inst.kinds[kind]
        take = min(self.limit - c.size, count)
        c.umask |= rmask
        c.imask &= self.inst.agree(c.ref, g)
        c.size += take
        c.parts.append((kind, take))
        self.add(c)
        return take


class Instance:
    """Changed numbers encoded for packing (module docstring): groups, kinds and their counts."""

    def __init__(self, changed: Sequence[Member]) -> None:
        self.changed = changed
        desired_ids: dict[int, int] = {}  # id(D) → group: one D per content (reconciler.intern)
        objects: list[dict[str, Any]] = []
        for n in changed:
            if id(n.desired) not in desired_ids:
                desired_ids[id(n.desired)] = len(objects)
                objects.append(n.desired)
        self.fields: list[str] = sorted({k for d in objects for k in d})
        bit = {f: 1 << i for i, f in enumerate(self.fields)}

        # Intern values per field; list and dict values are frozen once per object.
        values: list[dict[Hashable, int]] = [{} for _ in self.fields]
        frozen: dict[int, Hashable] = {}
        groups: dict[tuple[int, ...], int] = {}
        self.dvals: list[tuple[int, ...]] = []  # group → value ids, -1 where D lacks the field
        self.dmask: list[int] = []
        self.dobj: list[dict[str, Any]] = []  # group → one D object of that content
        object_group: list[int] = []
        for d in objects:
            row = []
            for i, f in enumerate(self.fields):
                if f not in d:
                    row.append(-1)
                    continue
                v = d[f]
                if type(v) not in _SCALARS:
                    key = frozen.get(id(v))
                    if key is None:
                        key = frozen[id(v)] = _canon(v)
                    v = key
                table = values[i]
                vid = table.get(v)
                if vid is None:
                    vid = table[v] = len(table)
                row.append(vid)
            content = tuple(row)
            g = groups.get(content)
            if g is None:
                g = groups[content] = len(self.dvals)
                self.dvals.append(content)
                self.dmask.append(sum(1 << i for i, x in enumerate(row) if x >= 0))
                self.dobj.append(d)
            object_group.append(g)

        # Kinds: (group, R mask) → its numbers, in input order.
        kinds: dict[tuple[int, int], int] = {}
        self.members: list[list[Member]] = []
        self.kind_of: list[int] = []  # per changed number
        for n in changed:
            g = object_group[desired_ids[id(n.desired)]]
            rmask = 0
            for k in n.required:
                rmask |= bit[k]
            kind = kinds.get((g, rmask))
            if kind is None:
                kind = kinds[g, rmask] = len(self.members)
                self.members.append([])
            self.members[kind].append(n)
            self.kind_of.append(kind)
        self.kinds: list[tuple[int, int]] = list(kinds)
        self.group_size = [0] * len(self.dvals)
        for (g, _), ms in zip(self.kinds, self.members, strict=True):
            self.group_size[g] += len(ms)
        self._agree: dict[tuple[int, int], int] = {}
        self._getters: dict[int, Callable[[tuple[int, ...]], Hashable]] = {}

    # ---- small cached relations
    def agree(self, g: int, h: int) -> int:
        """Mask of the fields both groups set to the same value."""
        key = (g, h) if g <= h else (h, g)
        m = self._agree.get(key)
        if m is None:
            a, b = self.dvals[g], self.dvals[h]
            m = sum(1 << i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x == y >= 0)
            self._agree[key] = m
        return m

    def proj(self, g: int, mask: int) -> Hashable:
        """Group ``g``'s values on the fields of ``mask`` (a key); None when it lacks one."""
        if mask & ~self.dmask[g]:
            return None
        getter = self._getters.get(mask)
        if getter is None:
            getter = self._getters[mask] = itemgetter(*bits(mask)) if mask else lambda _: ()
        return getter(self.dvals[g])

    def patch(self, ref: int, umask: int) -> dict[str, Any]:
        d = self.dobj[ref]
        return {self.fields[i]: d[self.fields[i]] for i in bits(umask)}

    # ---- packing
    def exact(self, limit: int) -> list[Call]:
        """One call per distinct R, chunked by ``limit`` (numbers in input order)."""
        by_patch: dict[tuple[int, Hashable], tuple[int, list[Member]]] = {}
        for n, k in zip(self.changed, self.kind_of, strict=True):
            g, rmask = self.kinds[k]
            key = (rmask, self.proj(g, rmask))
            entry = by_patch.get(key)
            if entry is None:
                entry = by_patch[key] = (g, [])
            entry[1].append(n)
        out: list[Call] = []
        for (rmask, _), (g, ms) in by_patch.items():
            patch = self.patch(g, rmask)
            out.extend((patch, ms[i : i + limit]) for i in range(0, len(ms), limit))
        return out

    def holders(self) -> list[dict[int, int]]:
        """Per field: value id → how many changed numbers have that value in their D."""
        out: list[dict[int, int]] = [{} for _ in self.fields]
        for row, size in zip(self.dvals, self.group_size, strict=True):
            for table, v in zip(out, row, strict=True):
                if v >= 0:
                    table[v] = table.get(v, 0) + size
        return out

    def reach(self) -> list[int]:
        """Per kind: the fewest numbers holding one of its required values (step 1)."""
        holders = self.holders()
        out = []
        for g, rmask in self.kinds:
            row = self.dvals[g]
            out.append(min(holders[i][row[i]] for i in bits(rmask)) if rmask else 0)
        return out

    def cover(self, limit: int) -> list[Call]:
        """The greedy packing of the module docstring."""
        reach = self.reach()
        order = sorted(
            range(len(self.kinds)),
            key=lambda k: (reach[k], -self.kinds[k][1].bit_count(), self.kinds[k]),
        )
        calls: list[_Open] = []
        index = _Index(self, limit)
        for k in order:
            g, rmask = self.kinds[k]
            left = len(self.members[k])
            while left:
                call = index.find(g, rmask)
                if call is None:
                    call = _Open(len(calls), g, rmask, self.dmask[g])
                    calls.append(call)
                left -= index.put(call, k, left)
        return self._emit(self._empty_least_filled(calls, index))

    def _empty_least_filled(self, calls: list[_Open], index: _Index) -> list[_Open]:
        """Step 4: move every part of a little-filled call into room elsewhere, when all fit."""
        dropped: set[int] = set()
        for victim in sorted(index.open(), key=lambda c: (c.size, c.index)):
            index.remove(victim)
            journal: list[tuple[_Open, tuple[int, int, int, int]]] = []
            ok = True
            for k, count in victim.parts:
                g, rmask = self.kinds[k]
                while count:
                    call = index.find(g, rmask)
                    if call is None:
                        ok = False
                        break
                    journal.append((call, (call.umask, call.imask, call.size, len(call.parts))))
                    count -= index.put(call, k, count)
                if not ok:
                    break
            if ok:
                dropped.add(victim.index)
                continue
            for call, (umask, imask, size, parts) in reversed(journal):  # undo
                index.remove(call)
                call.umask, call.imask, call.size = umask, imask, size
                del call.parts[parts:]
                index.add(call)
            index.add(victim)
        return [c for c in calls if c.index not in dropped]

    def _emit(self, calls: list[_Open]) -> list[Call]:
        taken = [0] * len(self.kinds)
        out: list[Call] = []
        for c in calls:
            members: list[Any] = []
            for k, count in c.parts:
                start = taken[k]
                members.extend(self.members[k][start : start + count])
                taken[k] = start + count
            out.append((self.patch(c.ref, c.umask), members))
        return out
