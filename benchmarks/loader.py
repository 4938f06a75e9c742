"""Benchmark: how long ``reconciler.loader.load`` takes on large configs, libyaml vs pure Python.

    python benchmarks/loader.py [--entries N] [--profiles K] [--repeat R] [--json]

Writes two synthetic configs into a temporary directory and loads each with the libyaml parser
(``yaml.CSafeLoader``, the default when PyYAML has it) and with the pure-Python fallback:

* ``overrides``: one Wavix profile on a prefix, plus N exact entries (default 50,000) that each use
  the profile and override one field (``transcription_threshold``, 100 distinct values): the
  realistic "one profile, a tweak per number" config;
* ``profiles``: K profiles (default 5,000; half Wavix, half Telnyx), each used by one prefix entry.

Prints the best of R wall times per workload and parser (seconds), or one JSON object per workload
with ``--json``. Nothing is asserted: the figures go in the README and the change notes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.loader import load

PROVIDERS = "providers:\n  wx: {type: wavix, sandbox: true}\n  tx: {type: telnyx, sandbox: true}\n"
AREAS = ("313", "212", "312", "303", "415", "617", "206", "512")


def numbers(n: int) -> list[str]:
    """``n`` distinct valid US numbers (exchange 201-999, line 0000-9999, several area codes)."""
    out: list[str] = []
    for area in AREAS:
        for exchange in range(201, 1000):
            for line in range(0, 10_000, 97):
                out.append(f"+1{area}{exchange}{line:04d}")
                if len(out) == n:
                    return out
    raise ValueError(f"at most {len(out)} numbers")


def overrides_config(entries: int) -> str:
    parts = [
        PROVIDERS,
        "profiles:\n  base:\n    sms_enabled: true\n    call_recording_enabled: true\n"
        "    transcription_enabled: true\n    transcription_threshold: 30\n"
        "    destinations:\n      - {destination: 'sip:in@pbx.example.com', priority: 1, "
        "transport: sip_uri}\n",
        "numbers:\n  - {provider: wx, number: '+1*', profile: base}\n",
    ]
    for i, e164 in enumerate(numbers(entries)):
        parts.append(
            f"  - provider: wx\n    number: '{e164}'\n    profile: base\n"
            f"    settings:\n      transcription_threshold: {i % 100}\n"
        )
    return "".join(parts)


def profiles_config(k: int) -> str:
    profiles, entries = ["profiles:\n"], ["numbers:\n"]
    for i in range(k):
        if i % 2 == 0:
            profiles.append(
                f"  p{i}:\n    sms_enabled: {str(i % 4 == 0).lower()}\n"
                f"    destinations:\n"
                f"      - {{destination: 'sip:in{i}@pbx.example.com', priority: 1, "
                "transport: sip_uri}\n"
                f"      - {{destination: '+13135550199', priority: 2, transport: pstn}}\n"
                f"    sms_relay_url: https://hooks.example.com/sms/{i}\n"
                f"    call_recording_enabled: true\n    transcription_threshold: {i % 300}\n"
            )
            account = "wx"
        else:
            profiles.append(
                f"  p{i}:\n    tags: [t{i}, shared]\n"
                f"    connection_id: '{1684641123236054244 + i}'\n"
                f"    hd_voice_enabled: true\n    voice:\n      call_forwarding:\n"
                f"        call_forwarding_enabled: true\n        forwarding_type: on-failure\n"
                f"        forwards_to: '+13125550100'\n      cnam_listing:\n"
                f"        cnam_listing_details: ACME {i}\n"
            )
            account = "tx"
        entries.append(
            f"  - {{provider: {account}, number: '+1{i + 100_000:07d}*', profile: p{i}}}\n"
        )
    return PROVIDERS + "".join(profiles) + "".join(entries)


def best_of(path: Path, libyaml: bool, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        load(path, env={}, libyaml=libyaml)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--profiles", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    workloads = {
        f"overrides ({args.entries:,} exact entries)": overrides_config(args.entries),
        f"profiles ({args.profiles:,} profiles)": profiles_config(args.profiles),
    }
    parsers = [True, False] if yaml.__with_libyaml__ else [False]
    with tempfile.TemporaryDirectory() as tmp:
        if not args.json:
            print(f"{'workload':<36} {'libyaml s':>10} {'pure-Python s':>14} {'speed-up':>9}")
        for index, (name, text) in enumerate(workloads.items()):
            path = Path(tmp) / f"w{index}.yaml"
            path.write_text(text)
            times = {lib: best_of(path, lib, args.repeat) for lib in parsers}
            fast, slow = times.get(True), times[False]
            if args.json:
                print(
                    json.dumps(
                        {"workload": name, "libyaml_s": fast, "python_s": slow, "bytes": len(text)}
                    )
                )
            else:
                shown = f"{fast:10.2f}" if fast is not None else f"{'n/a':>10}"
                ratio = f"{slow / fast:8.1f}×" if fast else f"{'':>9}"
                print(f"{name:<36} {shown} {slow:14.2f} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
