"""The standard benchmark set (``make bench``): each run in a fresh process, one JSON line each
to benchmarks/results/latest.jsonl, and a Markdown table on stdout for the README.

    python benchmarks/standard.py [--quick]

Plan runs: 1k, 10k, 100k and 1M numbers (--quick: up to 100k), both carriers, 5 profiles, 30 %
drift, zero latency. Latency runs: 10k numbers at 100 ms per request, fetch and apply vs a naive
per-number apply at parallelism 10 (timed on 1,000 numbers and scaled linearly).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN = HERE / "run.py"


def runs(quick: bool) -> list[list[str]]:
    sizes = [1_000, 10_000, 100_000] + ([] if quick else [1_000_000])
    out = []
    for carrier in ("wavix", "telnyx"):
        for n in sizes:
            out.append(["--carrier", carrier, "--numbers", str(n)])
    for carrier in ("wavix", "telnyx"):
        out.append(
            [
                "--carrier",
                carrier,
                "--numbers",
                "10000",
                "--latency-ms",
                "100",
                "--naive-sample",
                "1000",
            ]
        )
    return out


def main() -> int:
    quick = "--quick" in sys.argv
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    lines = []
    for args in runs(quick):
        cmd = [sys.executable, str(RUN), "--profiles", "5", "--drift", "0.3", "--json", *args]
        started = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        result["run_s"] = round(time.perf_counter() - started, 1)
        lines.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    (results_dir / "latest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))

    print(
        "In process (benchmarks/run.py): the plan inside one process with the simulator beside "
        "it, pages pre-rendered.\n"
        f"Machine: {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{_cores()} cores; date {time.strftime('%Y-%m-%d')}\n"
    )
    print(
        "| carrier | numbers | changed | calls | exact grouping | lower bound | profile bound "
        "| per-number | plan wall s | plan CPU s | peak RSS MB (all) | client peak MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in lines:
        if r["latency_ms"]:
            continue
        print(
            f"| {r['carrier']} | {r['numbers']:,} | {r['changed']:,} | {r['calls']} "
            f"| {r['calls_exact_grouping']} | "
            f"{r['lower_bound']} | {r['profile_bound']} | {r['calls_per_number']:,} "
            f"| {r['plan_wall_s']} | "
            f"{r['plan_cpu_s']} | {r['peak_rss_mb']} | {r['client_peak_mb']} |"
        )
    print()
    print(
        "| carrier | numbers | latency | pages | fetch wall s | bound 1.2·pages·L/conc s "
        "| apply wall s (calls + verify) | naive per-number apply s | naive ÷ ours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in lines:
        if not r["latency_ms"]:
            continue
        sampled = f" (timed on {r['naive_sampled']:,}, scaled)" if r.get("naive_sampled") else ""
        print(
            f"| {r['carrier']} | {r['numbers']:,} | {r['latency_ms']:g} ms | {r['fetch_pages']} "
            f"| {r['fetch_wall_s']} | "
            f"{r['fetch_bound_s']} | {r['apply_wall_s']} | {r['naive_apply_wall_s']}{sampled} "
            f"| {r['naive_over_ours']}× |"
        )
    return 0


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
