"""Benchmark: how few bulk calls the ``cover`` grouping finds, against the lower bound, and how
long planning takes; today's packing side by side with the one before it.

    python benchmarks/grouping.py [--numbers N] [--drift F] [--seed S] [--small K] [--json]

Workloads, built in this process (a ``DesiredState`` and lists of ``LiveNumber``; no simulator,
no HTTP), from ``reconciler.sandbox.synthetic`` so they are the accounts ``sandbox seed`` makes:

* ``overrides``: one prefix profile, and an exact entry per number overriding one field
  (Wavix ``transcription_threshold``, Telnyx ``customer_reference``; 100 distinct values);
* ``mixed``: the same, but the override values are dealt round-robin along the numbers (each
  number's neighbours have other values), as in a config not sorted by value;
* ``profiles``: 5 prefix profiles, no exact entries;
* ``profiles+overrides``: 5 prefix profiles and an exact entry per number (100 values).

A share F (default 0.3) of the N numbers (default 100,000) drifted in a random non-empty subset
of fields. Per workload and carrier it prints the calls, the exact grouping's calls, the lower
bound, calls ÷ bound, the planning seconds (``plan_account``: resolve, diff, group, bound; wall
and CPU, as other processes may share the machine) and the CPU seconds of the grouping alone
(encoding, exact, cover, bound); and the same for the previous packing (``OLD_COMMIT``'s grouping
code, loaded from git and run on the same changed numbers; grouping CPU seconds only).

Then the exhaustive comparison on K (default 3,000) small random instances (≤ 9 numbers, limit
1-4): how often each packing equals the optimum, and by how much it misses otherwise.

Nothing is asserted: the figures go in the README and the change notes.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconciler import carriers  # noqa: E402
from reconciler import desired as desired_module  # noqa: E402
from reconciler.bounds import lower_bound, optimum  # noqa: E402
from reconciler.config import ProviderConfig  # noqa: E402
from reconciler.models import LiveNumber  # noqa: E402
from reconciler.packing import Instance  # noqa: E402
from reconciler.planner import Changed, choose_calls, diff_number, plan_account  # noqa: E402
from reconciler.sandbox.synthetic import OVERRIDE_VALUES, SyntheticAccount  # noqa: E402

OLD_COMMIT = "88bd491"
"""The last commit with the identity-keyed, window-of-64 packing."""

ACCOUNT = "bench"

Calls = list[tuple[dict[str, Any], list[Any]]]


def old_grouping() -> Callable[[Sequence[Changed], int], Calls]:
    """``choose_calls`` as it was at ``OLD_COMMIT`` (its grouping section, run as is)."""
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:reconciler/planner.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    head = source[source.index("_MISSING = object()") : source.index("@dataclass")]
    freeze = source[source.index("def freeze(") : source.index("def diff_number(")]
    grouping = source[source.index("# Grouping") : source.index("# The plan")]
    namespace: dict[str, Any] = {"Any": Any, "Sequence": Sequence, "Changed": Changed}
    exec(compile(head + freeze + grouping, f"{OLD_COMMIT}:planner.py", "exec"), namespace)
    return namespace["choose_calls"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# Workloads


def workload(
    carrier: str,
    numbers: int,
    profiles: int,
    overrides: float,
    drift: float,
    seed: int,
    mixed: bool = False,
) -> tuple[Any, list[LiveNumber]]:
    """A ``DesiredState`` of one account and its live numbers (see the module docstring)."""
    synthetic = SyntheticAccount(carrier, numbers, profiles, overrides, drift, seed)
    spec = synthetic.spec
    position = 0
    rules = [
        desired_module.Rule(ACCOUNT, f"+{prefix}*", False, spec.profile(p), ["bench"])
        for p, prefix in enumerate(synthetic.prefixes)
    ]
    live: list[LiveNumber] = []
    for run in synthetic.runs:
        settings = synthetic.live(run)
        value = None if run.override is None else spec.override_value(run.override)
        for e164 in synthetic.e164s(run):
            number = dict(settings)
            if mixed and value is not None:  # neighbours get different values
                value = spec.override_value(position % OVERRIDE_VALUES)
                field = spec.override_field
                number[field] = spec.wrong[field](value) if field in run.drifted else value
            position += 1
            live.append(LiveNumber(e164[1:], e164, "active", number))
            if value is not None:
                rules.append(
                    desired_module.Rule(
                        ACCOUNT, e164, True, {spec.override_field: value}, ["bench"]
                    )
                )
    config = ProviderConfig(type=carrier, sandbox=True)  # type: ignore[arg-type]
    state = desired_module.DesiredState(
        accounts={ACCOUNT: desired_module.Account(ACCOUNT, config, "bench")},
        rules={ACCOUNT: rules},
        files=("bench",),
    )
    return state, live


def changed_numbers(state: Any, live: list[LiveNumber]) -> list[Changed]:
    """The changed numbers as the planner builds them (one D object per resolved rule set)."""
    resolver = state.resolver(ACCOUNT)
    out = []
    for number in live:
        want = resolver.desired(number.e164)
        required = None if want is None else diff_number(want, number.settings)
        if want is not None and required is not None:
            out.append(Changed(number.id, number.e164, required, want, number.settings))
    out.sort(key=lambda n: n.e164)
    return out


def measure(name: str, carrier: str, args: argparse.Namespace, old: Any) -> dict[str, Any]:
    profiles = 5 if name.startswith("profiles") else 1
    overrides = 0.0 if name == "profiles" else 1.0
    state, live = workload(
        carrier, args.numbers, profiles, overrides, args.drift, args.seed, name == "mixed"
    )
    limit = carriers.get(carrier).default_max_batch
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    summary, _, _ = plan_account(ACCOUNT, carrier, state, live, limit=limit)
    plan_s, plan_cpu = time.perf_counter() - wall, time.process_time() - cpu

    changed = changed_numbers(state, live)
    gc.collect()
    cpu = time.process_time()
    instance = Instance(changed)
    new_calls = choose_calls(changed, limit, instance=instance)
    lower_bound(instance, limit)
    new_s = time.process_time() - cpu
    gc.collect()
    cpu = time.process_time()
    old_calls = old(changed, limit)
    old_s = time.process_time() - cpu
    bound = summary.lower_bound
    return {
        "workload": name,
        "carrier": carrier,
        "numbers": args.numbers,
        "changed": summary.changed,
        "limit": limit,
        "calls": summary.calls,
        "calls_exact": summary.calls_exact,
        "lower_bound": bound,
        "ratio": round(summary.calls / bound, 3) if bound else None,
        "plan_wall_s": round(plan_s, 2),
        "plan_cpu_s": round(plan_cpu, 2),
        "grouping_cpu_s": round(new_s, 2),
        "old_calls": len(old_calls),
        "old_ratio": round(len(old_calls) / bound, 3) if bound else None,
        "old_grouping_cpu_s": round(old_s, 2),
        "old_bound": -(-summary.changed // limit),
        "same_calls_as_plan": len(new_calls) == summary.calls,
    }


# --------------------------------------------------------------------------------------------
# Small instances against the optimum


def small_instance(rng: random.Random) -> tuple[list[Changed], list[Changed], int]:
    """≤ 9 numbers over 1-3 profiles of up to 5 two-valued fields, twice: numbers of a profile
    sharing its dict (as prefix entries do: the old packing's best case), and each number with
    a copy (as exact entries give); and the call size limit, 1-4."""
    fields = "abcde"
    profiles = [
        {k: rng.randint(0, 1) for k in rng.sample(fields, rng.randint(1, 5))}
        for _ in range(rng.randint(1, 3))
    ]
    shared, copied = [], []
    for i in range(rng.randint(1, 9)):
        desired = rng.choice(profiles)
        keys = [k for k in desired if rng.random() < 0.5] or [rng.choice(sorted(desired))]
        required = {k: desired[k] for k in keys}
        shared.append(Changed(str(i), f"+1{i}", required, desired))
        copied.append(Changed(str(i), f"+1{i}", dict(required), dict(desired)))
    return shared, copied, rng.randint(1, 4)


def small(count: int, seed: int, old: Any) -> dict[str, Any]:
    """Calls − optimum per packing (the new one is the same on both forms: it reads content)."""
    rng = random.Random(seed)
    gaps: dict[str, Counter[int]] = {
        k: Counter() for k in ("new", "old_shared", "old_copied", "bound")
    }
    for _ in range(count):
        shared, copied, limit = small_instance(rng)
        instance = Instance(copied)
        best = optimum(copied, limit)
        cover, exact = instance.cover(limit), instance.exact(limit)
        gaps["new"][min(len(cover), len(exact)) - best] += 1
        gaps["old_shared"][len(old(shared, limit)) - best] += 1
        gaps["old_copied"][len(old(copied, limit)) - best] += 1
        gaps["bound"][best - lower_bound(instance, limit)] += 1
    out: dict[str, Any] = {"instances": count}
    for name, counter in gaps.items():
        out[name] = {
            "share_at_optimum": round(counter[0] / count, 4),
            "excess": dict(sorted(counter.items())),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--drift", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--small", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    old = old_grouping()
    rows = [
        measure(name, carrier, args, old)
        for name in ("overrides", "mixed", "profiles", "profiles+overrides")
        for carrier in ("wavix", "telnyx")
    ]
    figure = small(args.small, args.seed, old)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        print(json.dumps({"small_instances": figure}))
        return 0
    print(f"{args.numbers:,} numbers, drift {args.drift:g}; old = {OLD_COMMIT} (grouping only)\n")
    print(
        "| workload | carrier | changed | L | calls | exact grouping | lower bound | calls ÷ bound "
        "| plan wall s | plan CPU s | grouping CPU s | old calls | old ÷ bound "
        "| old grouping CPU s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['workload']} | {r['carrier']} | {r['changed']:,} | {r['limit']} "
            f"| {r['calls']:,} "
            f"| {r['calls_exact']:,} | {r['lower_bound']:,} | {r['ratio']} | {r['plan_wall_s']} "
            f"| {r['plan_cpu_s']} | {r['grouping_cpu_s']} | {r['old_calls']:,} "
            f"| {r['old_ratio']} | {r['old_grouping_cpu_s']} |"
        )
    f = figure
    print(
        f"\nSmall instances: {f['instances']:,} random, ≤ 9 numbers, limit 1-4, against the "
        "exhaustive optimum (share at the optimum; calls − optimum: how many instances)"
    )
    for name, label in (
        ("new", "new packing"),
        ("old_shared", "old, a profile's numbers sharing one desired dict"),
        ("old_copied", "old, a desired dict per number (exact entries)"),
        ("bound", "lower bound (optimum − bound)"),
    ):
        print(f"- {label}: {f[name]['share_at_optimum']:.2%} {f[name]['excess']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
