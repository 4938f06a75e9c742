"""Benchmark: calls planned vs bounds, plan speed and memory, fetch/apply wall time vs naive.

    python benchmarks/run.py --carrier wavix|telnyx --numbers N --profiles K --drift F \\
        [--overrides F] --latency-ms L [--json] [--seed S] [--naive-sample M] [--skip-apply]

Builds the synthetic account of ``reconciler sandbox seed`` (reconciler/sandbox/synthetic.py) in
an in-memory sandbox: N numbers split evenly over K prefix profiles; a share drifted in a random
non-empty subset of their fields, a share with a per-number override. Then, in this process
(benchmarks/e2e.py measures the whole command as its own process instead):

1. plan at zero latency: load the YAML, read the account through the provider, canonicalise,
   diff, group. The sandbox's own serving cost is taken out: every listing page is rendered once
   before timing (a warm-up read) and served from memory during the timed read
   (``sandbox_render_s`` reports what rendering cost).
2. with ``--latency-ms L`` (the sandbox's latency knob; every request waits L ms):
   fetch wall time with the client's concurrency vs the bound 1.2 × pages × L / concurrency;
   apply of the plan (bulk calls + verify) vs a naive per-number apply at parallelism 10 (one
   PATCH per number, what a Terraform provider does), on two identical copies of the account.
   ``--naive-sample M`` times the naive apply on M numbers and scales linearly (reported).

Memory: ``peak_rss_mb`` is the whole process (client + in-process simulator + its page cache);
``client_peak_mb`` is the peak of the client's own Python allocations during a plan (tracemalloc,
measured in a separate untimed run because tracing slows everything down).

Prints a table, or with ``--json`` one JSON object per run on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.clock import Clock
from reconciler.loader import load
from reconciler.models import unflatten
from reconciler.providers import open_account
from reconciler.runner import apply, plan_accounts
from reconciler.sandbox import SIMULATORS, LatencyMiddleware, Sandbox
from reconciler.sandbox.store import SandboxStore
from reconciler.sandbox.synthetic import SyntheticAccount

ACCOUNT = "bench"
NAIVE_PARALLELISM = 10
MB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Workload: the synthetic account of `reconciler sandbox seed`


def workload(args: argparse.Namespace) -> SyntheticAccount:
    return SyntheticAccount(
        args.carrier, args.numbers, args.profiles, args.overrides, args.drift, args.seed
    )


def config_dir(work: SyntheticAccount, concurrency: int, poll_interval: float) -> Path:
    d = Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    options = {
        "concurrency": concurrency,
        "poll_interval_s": poll_interval,
        "verify_timeout_s": 120,
    }
    for name, text in work.config_files(ACCOUNT, options=options).items():
        (d / name).write_text(text)
    return d


# --------------------------------------------------------------------------------------------
# Measurement helpers


class PageCache:
    """ASGI wrapper: while ``enabled``, GET responses are recorded once and replayed from memory,
    so the timed plan measures the client, not the simulator's page rendering."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.enabled = True
        self.pages: dict[bytes, list[dict[str, Any]]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not (self.enabled and scope["type"] == "http" and scope["method"] == "GET"):
            await self.app(scope, receive, send)
            return
        key = scope["path"].encode() + b"?" + scope.get("query_string", b"")
        cached = self.pages.get(key)
        if cached is None:
            messages: list[dict[str, Any]] = []

            async def record(message: dict[str, Any]) -> None:
                messages.append(message)
                await send(message)

            await self.app(scope, receive, record)
            if messages and messages[0].get("status") == 200:
                self.pages[key] = messages
            return
        for message in cached:
            await send(message)


class PeakRSS:
    """Samples this process's RSS every 5 ms in a thread; ``peak`` in bytes."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def build_sandbox(work: SyntheticAccount, *, job_s: float) -> tuple[Sandbox, PageCache]:
    sandbox = Sandbox(SandboxStore(":memory:", clock=Clock()))
    work.seed_store(sandbox.store)
    sandbox.store.set_knob("wavix.async_delay_s", 0.0)
    sandbox.store.set_knob("telnyx.job_pending_s", job_s / 2)
    sandbox.store.set_knob("telnyx.job_run_s", job_s / 2)
    sandbox.store.set_knob("telnyx.rate_limit", 10**9)
    cache = PageCache(sandbox.api)
    sandbox.app = LatencyMiddleware(cache, sandbox.store)
    return sandbox, cache


async def timed_plan(config: Path, sandbox: Sandbox) -> tuple[Any, float, float, int]:
    from reconciler.runner import open_accounts

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    state = load(config)
    async with open_accounts(state, sandbox=sandbox) as providers:
        plan = await plan_accounts(state, providers)
        requests = sum(p.requests_sent for p in providers.values())
    return plan, time.perf_counter() - wall, time.process_time() - cpu, requests


async def naive_apply(
    work: SyntheticAccount, sandbox: Sandbox, plan: Any, sample: int
) -> tuple[float, int, int]:
    """One PATCH per changed number with its own changed fields, 10 in flight."""
    sim = SIMULATORS[work.carrier]
    changes = list(plan.changes)
    if sample:
        changes = changes[:sample]
    transport = httpx.ASGITransport(app=sandbox.app)
    headers = {"Authorization": f"Bearer {sim.DEFAULT_KEY}"}
    gate = asyncio.Semaphore(NAIVE_PARALLELISM)
    requests = 0
    base = "http://sandbox.invalid" + sim.MOUNT

    async with httpx.AsyncClient(
        transport=transport, base_url=base, headers=headers, timeout=60
    ) as client:

        async def one(change: Any) -> None:
            nonlocal requests
            patch = {f.field: f.new for f in change.changes}
            async with gate:
                if work.carrier == "wavix":
                    body = dict(patch)
                    if "destinations" in body:
                        body["destinations"] = [
                            {k: v for k, v in d.items() if v is not None}
                            for d in body["destinations"]
                        ]
                    r = await client.patch(f"/v1/numbers/{change.id}", json=body)
                    requests += 1
                    r.raise_for_status()
                else:
                    nested = unflatten(patch)
                    voice = nested.pop("voice", None)
                    if nested:
                        r = await client.patch(f"/phone_numbers/{change.id}", json=nested)
                        requests += 1
                        r.raise_for_status()
                    if voice:
                        r = await client.patch(f"/phone_numbers/{change.id}/voice", json=voice)
                        requests += 1
                        r.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one(c) for c in changes))
        return time.perf_counter() - start, len(changes), requests


# --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = workload(args)
    limit = 500 if args.carrier == "wavix" else 1000
    config = config_dir(work, args.concurrency, args.poll_interval)

    t0 = time.perf_counter()
    sandbox, cache = build_sandbox(work, job_s=args.job_s)
    seed_s = time.perf_counter() - t0

    # Warm-up read renders every page once (timed: the simulator's share, reported apart).
    t0 = time.perf_counter()
    asyncio.run(timed_plan(config, sandbox))
    render_s = time.perf_counter() - t0
    gc.collect()
    baseline = psutil.Process().memory_info().rss

    with PeakRSS() as rss:
        plan, plan_wall, plan_cpu, requests = asyncio.run(timed_plan(config, sandbox))
    del plan
    # The client's own memory, apart from the in-process simulator: the peak of Python
    # allocations made during a (separate, untimed) plan, as tracemalloc sees them.
    gc.collect()
    tracemalloc.start()
    plan, *_ = asyncio.run(timed_plan(config, sandbox))
    client_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result: dict[str, Any] = {
        "carrier": args.carrier,
        "numbers": args.numbers,
        "profiles": args.profiles,
        "drift": args.drift,
        "overrides": args.overrides,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "limit": limit,
        "changed": plan.changed,
        "calls": len(plan.calls),
        "calls_exact_grouping": sum(a.calls_exact for a in plan.accounts),
        "calls_per_number": plan.changed,
        "lower_bound": plan.lower_bound,
        "profile_bound": sum(math.ceil(d / limit) for d in work.drifted_per_profile),
        "plan_wall_s": round(plan_wall, 3),
        "plan_cpu_s": round(plan_cpu, 3),
        "plan_requests": requests,
        "peak_rss_mb": round(rss.peak / MB, 1),
        "baseline_rss_mb": round(baseline / MB, 1),
        "client_peak_mb": round(client_peak / MB, 1),
        "seed_s": round(seed_s, 2),
        "sandbox_render_s": round(render_s, 2),
        "fetch_wall_s": None,
        "fetch_bound_s": None,
        "apply_wall_s": None,
        "apply_requests": None,
        "naive_apply_wall_s": None,
        "naive_requests": None,
        "naive_sampled": None,
    }
    del plan
    gc.collect()

    if args.latency_ms and not args.skip_apply:
        result.update(latency_runs(args, work, config, sandbox, cache))
    sandbox.close()
    return result


def latency_runs(
    args: argparse.Namespace,
    work: SyntheticAccount,
    config: Path,
    sandbox: Sandbox,
    cache: PageCache,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sandbox.store.set_knob("latency_ms", args.latency_ms)
    state = load(config)
    provider = open_account(
        ACCOUNT, state.accounts[ACCOUNT].config, state.accounts[ACCOUNT].source, sandbox=sandbox
    )

    async def fetch() -> float:
        start = time.perf_counter()
        await provider.fetch_all()
        wall = time.perf_counter() - start
        await provider.aclose()
        return wall

    provider.requests_sent = 0
    out["fetch_wall_s"] = round(asyncio.run(fetch()), 3)
    pages = provider.requests_sent
    out["fetch_pages"] = pages
    out["fetch_bound_s"] = round(1.2 * pages * args.latency_ms / 1000 / args.concurrency, 3)

    async def ours() -> tuple[float, Any, Any]:
        from reconciler.runner import open_accounts

        cache.enabled = True
        async with open_accounts(state, sandbox=sandbox) as providers:
            plan = await plan_accounts(state, providers)
            cache.enabled = False  # apply and verify must read live state
            start = time.perf_counter()
            report = await apply(plan, providers)
            return time.perf_counter() - start, report, plan

    wall, report, plan = asyncio.run(ours())
    out["apply_wall_s"] = round(wall, 3)
    out["apply_requests"] = report.requests
    out["apply_exit_code"] = report.exit_code

    # The naive apply runs on a fresh copy of the same account.
    twin, twin_cache = build_sandbox(work, job_s=args.job_s)
    twin_cache.enabled = False
    twin.store.set_knob("latency_ms", args.latency_ms)
    naive_wall, sampled, requests = asyncio.run(naive_apply(work, twin, plan, args.naive_sample))
    scale = plan.changed / sampled if sampled else 1.0
    out["naive_apply_wall_s"] = round(naive_wall * scale, 3)
    out["naive_requests"] = round(requests * scale)
    out["naive_sampled"] = sampled if sampled < plan.changed else None
    out["naive_over_ours"] = round(out["naive_apply_wall_s"] / wall, 1) if wall else None
    twin.close()
    return out


COLUMNS = [
    ("carrier", "carrier"),
    ("numbers", "numbers"),
    ("changed", "changed"),
    ("calls", "calls"),
    ("calls_exact_grouping", "exact"),
    ("lower_bound", "lower"),
    ("profile_bound", "profile"),
    ("calls_per_number", "per-number"),
    ("plan_wall_s", "plan s"),
    ("plan_cpu_s", "cpu s"),
    ("peak_rss_mb", "peak MB"),
    ("client_peak_mb", "client MB"),
    ("fetch_wall_s", "fetch s"),
    ("fetch_bound_s", "bound s"),
    ("apply_wall_s", "apply s"),
    ("naive_apply_wall_s", "naive s"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--carrier", choices=["wavix", "telnyx"], required=True)
    parser.add_argument("--numbers", type=int, required=True)
    parser.add_argument("--profiles", type=int, default=5)
    parser.add_argument("--drift", type=float, default=0.3)
    parser.add_argument("--overrides", type=float, default=0.0, help="share with an exact entry")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--poll-interval", type=float, default=0.25, help="Telnyx job polling")
    parser.add_argument("--job-s", type=float, default=0.5, help="simulated Telnyx job duration")
    parser.add_argument(
        "--naive-sample", type=int, default=0, help="time the naive apply on M numbers and scale"
    )
    parser.add_argument("--skip-apply", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    result = run(args)
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        header = " ".join(f"{title:>10}" for _, title in COLUMNS)
        print(header)
        print(" ".join(f"{_cell(result.get(key)):>10}" for key, _ in COLUMNS))
    return 0


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    sys.exit(main())
