"""The cover grouping and the lower bound: properties on random configs (hypothesis), the
exhaustive optimum on small ones, and the shapes the previous packing handled badly."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.bounds import lower_bound, optimum
from reconciler.packing import Instance
from reconciler.planner import Changed, choose_calls

FIELDS = ["a", "b", "c", "d", "e"]
Calls = list[tuple[dict[str, Any], list[Changed]]]


@st.composite
def instances(draw: Any, max_numbers: int = 60) -> tuple[list[Changed], int]:
    """Numbers over a few profiles; each number's D is the profile or a copy of it with one field
    overridden (an exact entry: a distinct object, often of equal content); R a non-empty subset
    of D; the current state differs from D exactly on R."""
    profiles = draw(
        st.lists(
            st.dictionaries(st.sampled_from(FIELDS), st.integers(0, 2), min_size=1),
            min_size=1,
            max_size=4,
        )
    )
    changed = []
    for i in range(draw(st.integers(1, max_numbers))):
        desired = profiles[draw(st.integers(0, len(profiles) - 1))]
        if draw(st.booleans()):  # an exact entry overriding one field
            desired = {**desired, draw(st.sampled_from(sorted(desired))): draw(st.integers(0, 2))}
        keys = draw(st.lists(st.sampled_from(sorted(desired)), min_size=1, unique=True))
        current = {k: ("old" if k in keys else v) for k, v in desired.items()}
        changed.append(
            Changed(str(i), f"+1555{i:07d}", {k: desired[k] for k in keys}, desired, current)
        )
    return changed, draw(st.integers(1, 25))


def check_valid(calls: Calls, changed: list[Changed], limit: int) -> None:
    """Each changed number in exactly one call; every call within the limit, R ⊆ P ⊆ D for each
    member, and its patch applied to each member's current state gives the desired state."""
    covered = Counter(n.id for _, members in calls for n in members)
    assert covered == Counter(n.id for n in changed), "every changed number covered exactly once"
    for patch, members in calls:
        assert 1 <= len(members) <= limit
        for n in members:
            assert all(k in patch and patch[k] == v for k, v in n.required.items())  # R ⊆ P
            assert all(k in n.desired and n.desired[k] == v for k, v in patch.items())  # P ⊆ D
            if n.current is not None:
                assert {**n.current, **patch} == n.desired


@settings(max_examples=300, deadline=None)
@given(instances())
def test_cover_is_valid_never_worse_than_exact_and_above_the_bound(
    inst: tuple[list[Changed], int],
) -> None:
    changed, limit = inst
    instance = Instance(changed)
    calls = choose_calls(changed, limit, "cover", instance=instance)
    check_valid(calls, changed, limit)
    assert len(calls) <= len(instance.exact(limit))
    check_valid(instance.cover(limit), changed, limit)  # the greedy alone is valid too
    assert math.ceil(len(changed) / limit) <= lower_bound(instance, limit) <= len(calls)


@settings(max_examples=100, deadline=None)
@given(instances())
def test_exact_grouping_is_valid_and_sends_only_required(inst: tuple[list[Changed], int]) -> None:
    changed, limit = inst
    calls = choose_calls(changed, limit, "exact")
    check_valid(calls, changed, limit)
    for patch, members in calls:
        assert all(n.required == patch for n in members)


@settings(max_examples=300, deadline=None)
@given(instances(max_numbers=8))
def test_bound_optimum_cover_exact_in_order_on_small_instances(
    inst: tuple[list[Changed], int],
) -> None:
    """bound ≤ optimum ≤ cover ≤ exact, the optimum found exhaustively. How often cover equals
    the optimum is a figure, not an assertion: benchmarks/grouping.py prints it."""
    changed, limit = inst
    instance = Instance(changed)
    best = optimum(changed, limit)
    cover = choose_calls(changed, limit, instance=instance)
    assert lower_bound(instance, limit) <= best <= len(cover) <= len(instance.exact(limit))


def test_the_optimum_is_exhaustive() -> None:
    """Three numbers that pairwise fit but not all together: 2 calls, not 1 nor 3."""
    d1, d2 = {"a": 1, "b": 1}, {"a": 1, "b": 2}
    changed = [
        Changed("0", "+10", {"a": 1}, d1),
        Changed("1", "+11", {"a": 1}, d2),
        Changed("2", "+12", {"b": 1}, d1),
    ]
    assert (optimum(changed, 3), optimum(changed, 1)) == (2, 3)


def five_number_pattern(copy: int, shared: bool) -> list[Changed]:
    """A profile A with four numbers and a profile B with one. With L = 3 the old packing put
    A's most required numbers in a full call and left {b} over, which B's number cannot join
    (B lacks b): 3 calls where {abc, cd, b} + {a, a} are 2."""
    v = 0 if shared else 10 * copy  # per-copy values: copies never share a call
    a = {"a": 1 + v, "b": 0 + v, "c": 0 + v, "d": 1 + v}
    b = {"a": 1 + v, "c": 0 + v, "e": 1 + v}
    rows = [(a, "abc"), (a, "cd"), (a, "a"), (b, "a"), (a, "b")]
    return [
        Changed(f"{copy}-{i}", f"+1{copy:04d}{i}", {k: d[k] for k in keys}, d)
        for i, (d, keys) in enumerate(rows)
    ]


def test_k_copies_of_the_five_number_pattern_take_2k_calls() -> None:
    assert optimum(five_number_pattern(0, False), 3) == 2
    for k in (1, 7, 50):
        changed = [n for c in range(k) for n in five_number_pattern(c, shared=False)]
        calls = choose_calls(changed, 3)
        check_valid(calls, changed, 3)
        assert len(calls) == 2 * k  # copies never share a call, so 2k is the optimum
    shared = [n for c in range(50) for n in five_number_pattern(c, shared=True)]
    assert len(choose_calls(shared, 3)) == lower_bound(Instance(shared), 3) == 84  # ⌈250/3⌉


def override_workload(numbers: int, values: int) -> list[Changed]:
    """One profile, an exact entry per number overriding ``t`` (values dealt round-robin, so
    neighbours differ), and a drifted subset of fields per number."""
    profile = {"a": True, "b": "x", "c": 7, "t": 0}
    changed = []
    for i in range(numbers):
        desired = {**profile, "t": 100 + i % values}
        drifted = (i * 7) % 15 + 1  # a non-empty subset of the four fields
        keys = [k for j, k in enumerate(sorted(desired)) if drifted >> j & 1]
        changed.append(Changed(str(i), f"+1{i:07d}", {k: desired[k] for k in keys}, desired))
    return changed


def test_per_number_overrides_reach_the_bound() -> None:
    """The shape of issue 9: more distinct values than the old 64-call window; the bound is one
    call per value, and the packing meets it."""
    changed = override_workload(3000, 100)
    instance = Instance(changed)
    calls = choose_calls(changed, 50, instance=instance)
    check_valid(calls, changed, 50)
    assert len(calls) == lower_bound(instance, 50) == 100
    assert len(instance.exact(50)) > 150  # 188: one call per (value, drifted fields)


def test_groups_are_keyed_by_content_not_identity() -> None:
    changed = override_workload(400, 10)
    copies = [Changed(n.id, n.e164, dict(n.required), dict(n.desired), n.current) for n in changed]
    first, second = choose_calls(changed, 50), choose_calls(copies, 50)
    assert [(p, [n.id for n in ms]) for p, ms in first] == [
        (p, [n.id for n in ms]) for p, ms in second
    ]


def test_bound_by_group_counts_profiles_with_a_field_of_their_own() -> None:
    """Ten profiles, each number requiring its profile's own value of one field or another:
    no field alone forces ten calls, but each profile needs one."""
    changed = []
    for p in range(10):
        desired = {"x": p, "y": 100 + p, "z": 0}
        for i in range(4):
            key = "x" if (p + i) % 2 else "y"
            changed.append(Changed(f"{p}-{i}", f"+1{p:02d}{i}", {key: desired[key]}, desired))
    instance = Instance(changed)
    assert lower_bound(instance, 100) == 10 == len(choose_calls(changed, 100, instance=instance))


def test_bound_by_pairs_of_fields_counts_profile_and_override_together() -> None:
    """Two profiles (own ``dest``), three override values of ``t`` across both: numbers requiring
    both need a call per (profile, value), which neither field nor group shows alone (2, 3)."""
    changed = []
    for p in range(2):
        for v in range(3):
            desired = {"dest": f"sip:{p}", "t": v, "rec": True}
            for i in range(2):
                required = {"dest": desired["dest"], "t": v} if i == 0 else {"rec": True}
                changed.append(Changed(f"{p}{v}{i}", f"+1{p}{v}{i}", required, desired))
    instance = Instance(changed)
    assert lower_bound(instance, 10) == 6 == len(choose_calls(changed, 10, instance=instance))


HASH_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from tests.test_cover import override_workload
from reconciler.planner import choose_calls
calls = choose_calls(override_workload(600, 37), 25)
print(json.dumps([[sorted(p.items()), [n.id for n in ms]] for p, ms in calls]))
"""


def test_same_calls_whatever_the_hash_seed() -> None:
    root = str(Path(__file__).resolve().parent.parent)
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT.format(root=root)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        outputs.add(out)
    assert len(outputs) == 1
    assert len(json.loads(outputs.pop())) == 37


def test_grouping_benchmark_runs_on_a_small_account() -> None:
    """benchmarks/grouping.py end to end on 2,000 numbers (figures are printed, not checked)."""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "grouping.py")]
        + ["--numbers", "2000", "--small", "20", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 9 and rows[-1]["small_instances"]["instances"] == 20
    for row in rows[:-1]:
        assert row["lower_bound"] <= row["calls"] <= row["calls_exact"]
        assert row["same_calls_as_plan"]
