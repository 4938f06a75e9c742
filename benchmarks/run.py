"""Benchmark: calls planned vs bounds, plan speed and memory, fetch/apply wall time vs naive.

    python benchmarks/run.py --carrier wavix|telnyx --numbers N --profiles K --drift F \\
        --latency-ms L [--json] [--seed S] [--naive-sample M] [--skip-apply]

Builds a synthetic in-memory sandbox account of N numbers split evenly over K profiles (one prefix
selector each); a share F of the numbers drifted in a random non-empty subset of their profile's
fields. Then, in this process, as a user would run it:

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
import random
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
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.clock import Clock
from reconciler.loader import load
from reconciler.models import unflatten
from reconciler.providers import open_account
from reconciler.runner import apply, plan_accounts
from reconciler.sandbox import SIMULATORS, LatencyMiddleware, Sandbox
from reconciler.sandbox.store import SandboxStore

ACCOUNT = "bench"
NAIVE_PARALLELISM = 10
MB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Workload: profiles, drift, seeding


def wavix_profiles(k: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(k):
        out.append(
            {
                "sms_enabled": i % 2 == 0,
                "destinations": [
                    {"destination": f"sip:in{i}@pbx.example.com", "priority": 1, "transport": 1, "trunk_id": None},
                    {"destination": f"+1313555{i:04d}", "priority": 2, "transport": 4, "trunk_id": None},
                ],
                "sms_relay_url": f"https://hooks.example.com/sms/{i}",
                "call_recording_enabled": True,
                "transcription_threshold": 30 + i,
            }
        )
    return out


def wavix_wrong(field: str, value: Any) -> Any:
    return {
        "sms_enabled": lambda v: not v,
        "destinations": lambda v: v[:1],
        "sms_relay_url": lambda v: v + "-old",
        "call_recording_enabled": lambda v: not v,
        "transcription_threshold": lambda v: v + 5,
    }[field](value)


def telnyx_profiles(k: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "tags": sorted({"bench", f"team{i}"}),
            "connection_id": f"16846411232360{i:05d}",
            "customer_reference": f"ref-{i}",
            "voice.call_forwarding.forwards_to": f"+1312555{i:04d}",
            "voice.call_recording.inbound_call_recording_enabled": i % 2 == 0,
        }
        for i in range(k)
    ]


def telnyx_wrong(field: str, value: Any) -> Any:
    return {
        "tags": lambda v: v[:1],
        "connection_id": lambda v: v[:-1] + "9",
        "customer_reference": lambda v: v + "-old",
        "voice.call_forwarding.forwards_to": lambda v: v[:-1] + ("1" if v[-1] != "1" else "2"),
        "voice.call_recording.inbound_call_recording_enabled": lambda v: not v,
    }[field](value)


class Workload:
    """N numbers over K profiles; batches of identical numbers seeded through the simulator."""

    def __init__(self, carrier: str, numbers: int, profiles: int, drift: float, seed: int) -> None:
        self.carrier, self.n, self.k, self.f = carrier, numbers, profiles, drift
        self.rng = random.Random(seed)
        self.profiles = (wavix_profiles if carrier == "wavix" else telnyx_profiles)(profiles, self.rng)
        self.wrong = wavix_wrong if carrier == "wavix" else telnyx_wrong
        self.prefixes = [f"1{201 + i}" for i in range(profiles)]
        # batches: (profile index, drifted fields, count)
        self.batches: list[tuple[int, tuple[str, ...], int]] = []
        self.drifted_per_profile = [0] * profiles
        for i in range(profiles):
            size = numbers // profiles + (1 if i < numbers % profiles else 0)
            drifted = round(size * drift)
            self.drifted_per_profile[i] = drifted
            self.batches.append((i, (), size - drifted))
            fields = sorted(self.profiles[i])
            counts: dict[tuple[str, ...], int] = {}
            for _ in range(drifted):
                subset = tuple(f for f in fields if self.rng.random() < 0.5) or (self.rng.choice(fields),)
                counts[subset] = counts.get(subset, 0) + 1
            self.batches.extend((i, subset, c) for subset, c in sorted(counts.items()))

    def settings_for(self, profile: int, drifted: tuple[str, ...]) -> dict[str, Any]:
        flat = dict(self.profiles[profile])
        for f in drifted:
            flat[f] = self.wrong(f, flat[f])
        return flat

    def seed(self, sandbox: Sandbox) -> None:
        store = sandbox.store
        sim = SIMULATORS[self.carrier]
        with store.transaction() as conn:
            for table in sim.TABLES:
                conn.execute(f"DELETE FROM {table}")
        offsets = [0] * self.k
        for profile, drifted, count in self.batches:
            if count == 0:
                continue
            flat = self.settings_for(profile, drifted)
            sim.seed_synthetic(
                store,
                count,
                prefix=self.prefixes[profile],
                first_line=2_000_000 + offsets[profile],
                settings=carrier_settings(self.carrier, flat),
            )
            offsets[profile] += count

    def config_dir(self, concurrency: int, poll_interval: float) -> Path:
        d = Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
        profiles = {f"p{i}": unflatten(p) for i, p in enumerate(self.profiles)}
        for body in profiles.values():  # YAML uses transport names
            for dest in body.get("destinations", []):
                dest.pop("trunk_id", None)
        doc = {
            "providers": {
                ACCOUNT: {
                    "type": self.carrier,
                    "sandbox": True,
                    "concurrency": concurrency,
                    "poll_interval_s": poll_interval,
                    "verify_timeout_s": 120,
                }
            },
            "profiles": profiles,
            "numbers": [
                {"provider": ACCOUNT, "number": f"+{p}*", "profile": f"p{i}"}
                for i, p in enumerate(self.prefixes)
            ],
        }
        (d / "bench.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return d


def carrier_settings(carrier: str, flat: dict[str, Any]) -> dict[str, Any]:
    """Flat canonical settings → the simulator's stored (response) shape."""
    if carrier == "wavix":
        out = {k: v for k, v in flat.items() if k != "destinations"}
        if "destinations" in flat:
            out["destination"] = [dict(d) for d in flat["destinations"]]
        return out
    nested = unflatten(flat)
    return nested


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


def build_sandbox(work: Workload, *, job_s: float) -> tuple[Sandbox, PageCache]:
    sandbox = Sandbox(SandboxStore(":memory:", clock=Clock()))
    work.seed(sandbox)
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


async def naive_apply(work: Workload, sandbox: Sandbox, plan: Any, sample: int) -> tuple[float, int, int]:
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

    async with httpx.AsyncClient(transport=transport, base_url=base, headers=headers, timeout=60) as client:

        async def one(change: Any) -> None:
            nonlocal requests
            patch = {f.field: f.new for f in change.changes}
            async with gate:
                if work.carrier == "wavix":
                    body = dict(patch)
                    if "destinations" in body:
                        body["destinations"] = [
                            {k: v for k, v in d.items() if v is not None} for d in body["destinations"]
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
    work = Workload(args.carrier, args.numbers, args.profiles, args.drift, args.seed)
    limit = 500 if args.carrier == "wavix" else 1000
    config = work.config_dir(args.concurrency, args.poll_interval)

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


def latency_runs(args: argparse.Namespace, work: Workload, config: Path, sandbox: Sandbox, cache: PageCache) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sandbox.store.set_knob("latency_ms", args.latency_ms)
    state = load(config)
    provider = open_account(ACCOUNT, state.accounts[ACCOUNT].config, state.accounts[ACCOUNT].source, sandbox=sandbox)

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
    ("carrier", "carrier"), ("numbers", "numbers"), ("changed", "changed"), ("calls", "calls"),
    ("calls_exact_grouping", "exact"), ("lower_bound", "lower"), ("profile_bound", "profile"),
    ("calls_per_number", "per-number"), ("plan_wall_s", "plan s"), ("plan_cpu_s", "cpu s"),
    ("peak_rss_mb", "peak MB"), ("client_peak_mb", "client MB"), ("fetch_wall_s", "fetch s"),
    ("fetch_bound_s", "bound s"), ("apply_wall_s", "apply s"), ("naive_apply_wall_s", "naive s"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carrier", choices=["wavix", "telnyx"], required=True)
    parser.add_argument("--numbers", type=int, required=True)
    parser.add_argument("--profiles", type=int, default=5)
    parser.add_argument("--drift", type=float, default=0.3)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--poll-interval", type=float, default=0.25, help="Telnyx job polling")
    parser.add_argument("--job-s", type=float, default=0.5, help="simulated Telnyx job duration")
    parser.add_argument("--naive-sample", type=int, default=0, help="time the naive apply on M numbers and scale")
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
