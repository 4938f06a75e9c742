"""Figures of the chaos suite over many seeds (issue 10): applies to converge, duplicate jobs,
writes outside a run's plan, numbers changed outside every plan, faults injected, seconds.

    python benchmarks/chaos.py [--seeds 20] [--numbers 300] [--max-runs 8]

Same faults as tests/test_chaos.py (the scenario code is the test's), on a fake clock: the
seconds are CPU time of the client and the in-process sandbox, not carrier waits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from sandbox_checks import duplicate_jobs, jobs, snapshot  # noqa: E402
from test_chaos import (  # noqa: E402
    EXAMPLE,
    chaos,
    converge,
    seed_account,
    stray_writes,
    touched_outside_plans,
)

from reconciler.clock import FakeClock  # noqa: E402
from reconciler.sandbox import Sandbox  # noqa: E402
from reconciler.sandbox.store import SandboxStore  # noqa: E402
from reconciler.sandbox.synthetic import SyntheticAccount  # noqa: E402


def one(scenario: str, seed: int, numbers: int, max_runs: int) -> dict[str, int | float]:
    clock = FakeClock()
    sb = Sandbox(SandboxStore(":memory:", clock=clock))
    started = time.perf_counter()
    try:
        config = EXAMPLE
        with tempfile.TemporaryDirectory() as tmp:
            if scenario != "example":
                account = SyntheticAccount(scenario, numbers, 5, 0.1, 0.6, seed)
                seed_account(sb.store, account, Path(tmp))
                config = Path(tmp)
            chaos(sb.store, seed)
            before = snapshot(sb.store)
            out = asyncio.run(converge(sb, clock, config, max_runs))
        log = [e for a in out.applies for e in a.log]
        return {
            "planned": sum(len(ids) for ids in out.applies[0].planned.values())
            if out.applies
            else 0,
            "applies": len(out.applies) if out.final_changes == 0 else -1,
            "faults": sum(1 for e in log if e.fault),
            "job_failures": sum(len(d["failed_operations"]) for d in jobs(sb.store)),
            "duplicates": len(duplicate_jobs(sb.store)),
            "stray": len(stray_writes(out)),
            "touched": len(touched_outside_plans(before, sb, out)),
            "seconds": time.perf_counter() - started,
        }
    finally:
        sb.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--numbers", type=int, default=300)
    parser.add_argument("--max-runs", type=int, default=8)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the client's retry warnings, thousands of them
    print(
        "scenario   seeds  planned  applies to converge (count)   faults  job-fails  dup  stray"
        "  touched  s/seed"
    )
    for scenario in ("example", "wavix", "telnyx"):
        rows = [one(scenario, s, args.numbers, args.max_runs) for s in range(1, args.seeds + 1)]
        runs = Counter(int(r["applies"]) for r in rows)
        shown = " ".join(f"{k}:{v}" for k, v in sorted(runs.items()))
        print(
            f"{scenario:<10} {len(rows):>5}  {int(rows[0]['planned']):>7}  {shown:<28}"
            f"  {sum(int(r['faults']) for r in rows):>6}"
            f"  {sum(int(r['job_failures']) for r in rows):>9}"
            f"  {sum(int(r['duplicates']) for r in rows):>3}"
            f"  {sum(int(r['stray']) for r in rows):>5}"
            f"  {sum(int(r['touched']) for r in rows):>7}"
            f"  {sum(float(r['seconds']) for r in rows) / len(rows):>6.2f}"
        )
    print("applies -1: not converged within --max-runs")


if __name__ == "__main__":
    main()
