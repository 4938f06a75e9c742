"""Benchmark of ``reconciler export``: YAML size against one block per number, and wall time.

    python benchmarks/export.py [--numbers 100000] [--profiles 10] [--drift-every 50]
                                [--workload seed|scattered|both] [--carrier wavix|telnyx|both]
                                [--json]

Two profile-structured sandbox accounts, built in memory:

* ``seed``: the account ``reconciler sandbox seed --numbers N --profiles K --overrides 0.02
  --drift 0.1`` creates (``SyntheticAccount``): K blocks, 2 % of the numbers with one field set
  to one of 100 values, 10 % with 1-5 fields changed; numbers alike sit together.
* ``scattered``: K blocks, and in every block four kinds of one-field deviation, each on every
  ``--drift-every``-th number of a quarter of the block (as hand edits leave them: scattered).

Then, as ``reconciler export`` runs it:

1. read the account through the provider (in-process sandbox, no latency);
2. export: value table, factoring, rendering, and the loader check of the text;
3. the round trip: load the exported YAML and plan it against the same account (changes must
   be 0; reported, never asserted).

Prints one line per carrier (or JSON): lines, flat lines, ratio, profiles, entries, seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.carriers import field_paths
from reconciler.config import ProviderConfig
from reconciler.export import export_account
from reconciler.loader import load
from reconciler.providers import open_account
from reconciler.runner import open_accounts, plan_accounts
from reconciler.sandbox import SIMULATORS, Sandbox
from reconciler.sandbox.store import SandboxStore
from reconciler.sandbox.synthetic import SyntheticAccount

ACCOUNT = "bench"
NPAS = (248, 313, 415, 650, 212, 303, 312, 512, 617, 702, 206, 305, 404, 713, 801)


def wavix_block(i: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(profile settings, four deviations) in the simulator's stored shape."""
    dest = [{"destination": f"sip:in{i}@pbx.example.com", "priority": 1, "transport": 1}]
    base = {
        "sms_enabled": i % 2 == 0,
        "sms_relay_url": f"https://hooks.example.com/sms/{i}",
        "destination": dest + [{"destination": f"+1313555{i:04d}", "priority": 2, "transport": 4}],
        "call_recording_enabled": i % 3 == 0,
        "transcription_enabled": True,
        "transcription_threshold": 30 + i,
        "call_status_url": f"https://hooks.example.com/calls/{i}",
    }
    drifts = [
        {"sms_relay_url": f"https://hooks.example.com/sms/{i}-old"},
        {"destination": dest},
        {"call_recording_enabled": i % 3 != 0},
        {"transcription_threshold": 90},
    ]
    return base, drifts


def telnyx_block(i: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    base = {
        "tags": sorted({"bench", f"team{i}"}),
        "connection_id": f"16846411232360{i:05d}",
        "customer_reference": f"ref-{i}",
        "hd_voice_enabled": i % 2 == 0,
        "voice": {
            "call_forwarding": {"forwarding_type": "on-failure", "forwards_to": f"+1312555{i:04d}"},
            "call_recording": {"inbound_call_recording_enabled": i % 3 == 0},
            "cnam_listing": {"cnam_listing_enabled": True, "cnam_listing_details": f"ACME {i}"},
        },
    }
    drifts = [
        {"tags": ["bench"]},
        {"customer_reference": f"ref-{i}-old"},
        {
            "voice": {
                "call_forwarding": {"forwarding_type": "on-failure", "forwards_to": "+13125550199"}
            }
        },
        {"hd_voice_enabled": i % 2 != 0},
    ]
    return base, drifts


def scattered(
    sandbox: Sandbox, carrier: str, numbers: int, profiles: int, drift_every: int
) -> None:
    sim = SIMULATORS[carrier]
    with sandbox.store.transaction() as conn:
        for table in sim.TABLES:
            conn.execute(f"DELETE FROM {table}")
    per = numbers // profiles
    for i in range(profiles):
        base, drifts = (wavix_block if carrier == "wavix" else telnyx_block)(i)
        size = per + (numbers - per * profiles if i == profiles - 1 else 0)
        quarter = size // 4
        for q, drift in enumerate(drifts):
            count = quarter if q < 3 else size - 3 * quarter
            sim.seed_synthetic(
                sandbox.store,
                count,
                prefix=f"1{NPAS[i % len(NPAS)]}",
                first_line=2_000_000 + (i // len(NPAS)) * 1_000_000 + q * quarter,
                settings=base,
                drift={**base, **drift} if carrier == "wavix" else drift,
                drift_every=drift_every,
            )


async def run(
    workload: str, carrier: str, numbers: int, profiles: int, drift_every: int
) -> dict[str, Any]:
    sb = Sandbox(SandboxStore(":memory:"))
    if workload == "seed":
        account = SyntheticAccount(carrier, numbers, profiles, overrides=0.02, drift=0.1)
        account.seed_store(sb.store)
    else:
        scattered(sb, carrier, numbers, profiles, drift_every)
    config = ProviderConfig.model_validate({"type": carrier, "sandbox": True})
    provider = open_account(ACCOUNT, config, "bench:", sandbox=sb)
    started = time.perf_counter()
    live = await provider.fetch_all()
    fetched = time.perf_counter() - started
    await provider.aclose()

    started, cpu = time.perf_counter(), time.process_time()
    result = export_account(
        ACCOUNT, carrier, {"type": carrier, "sandbox": True}, live, field_paths(carrier)
    )
    exported, cpu = time.perf_counter() - started, time.process_time() - cpu

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(result.text)
        started = time.perf_counter()
        state = load(path)
        async with open_accounts(state, sandbox=sb) as providers:
            plan = await plan_accounts(state, providers)
        planned = time.perf_counter() - started
    sb.close()
    return {
        "workload": workload,
        "carrier": carrier,
        "numbers": result.numbers,
        "profiles": result.profiles,
        "entries": result.entries,
        "lines": result.lines,
        "flat_lines": result.flat_lines,
        "ratio": round(result.flat_lines / result.lines, 1),
        "fetch_s": round(fetched, 2),
        "export_s": round(exported, 2),
        **{f"{k}_s": round(v, 2) for k, v in result.timings.items()},
        "export_wall_s": round(fetched + exported, 2),
        "export_cpu_s": round(cpu, 2),
        "round_trip_changes": plan.changed,
        "round_trip_plan_s": round(planned, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=10)
    parser.add_argument("--drift-every", type=int, default=50)
    parser.add_argument("--carrier", choices=["wavix", "telnyx", "both"], default="both")
    parser.add_argument("--workload", choices=["seed", "scattered", "both"], default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    carriers = ["wavix", "telnyx"] if args.carrier == "both" else [args.carrier]
    workloads = ["seed", "scattered"] if args.workload == "both" else [args.workload]
    for workload, carrier in ((w, c) for w in workloads for c in carriers):
        row = asyncio.run(run(workload, carrier, args.numbers, args.profiles, args.drift_every))
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{workload:<9} {carrier:<7} {row['numbers']:>8} numbers: "
                f"{row['lines']:>6} lines vs "
                f"{row['flat_lines']:>8} one block per number ({row['ratio']}x fewer), "
                f"{row['profiles']} profiles, {row['entries']} entries; export "
                f"{row['export_wall_s']} s (read {row['fetch_s']}, table {row['table_s']}, "
                f"factor {row['factor_s']}, render {row['render_s']}, verify {row['verify_s']}; "
                f"CPU after reading {row['export_cpu_s']} s); "
                f"round trip: {row['round_trip_changes']} changes"
            )


if __name__ == "__main__":
    main()
