"""How far adaptive concurrency gets from the ceiling it may use (issue 18 part 5).

    python benchmarks/concurrency.py [--numbers 20000] [--latency-ms 100]
        [--ceilings 4,8,16,32] [--wavix-rate 0] [--telnyx-rate 10000] [--repeat 3]
        [--src CHECKOUT]

Per carrier: ``sandbox seed`` N numbers, ``sandbox serve`` on loopback with the ``latency_ms``
knob set (every answer that much later), then ``plan --json -v`` once per account ceiling
(``concurrency``), each its own process. Prints the wall time (median of ``--repeat``), the
read's span on the sandbox's request log (first request served → last served, plus one latency:
the process's start-up and planning left out), the lower bound ⌈pages / c⌉ × latency for the
concurrency c the read reached, both ratios, and the verbose log's line saying which
concurrency was used and why. ``--wavix-rate`` /
``--telnyx-rate`` set the sandbox's per-key rate-limit knobs (requests per window; Wavix 0 = no
limit) so the window has to find the concurrency the limit allows. ``--src`` runs another
checkout's CLI (a before/after comparison on one machine, in one sitting). The target (issue 18):
ratio ≤ 1.15; the last column says whether it is met.
"""

from __future__ import annotations

import argparse
import math
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import DRIFT, MOUNTS, REPO, Reconciler, Served, machine

TARGET = 1.15

PAGE = {"wavix": 100, "telnyx": 250}
LISTINGS = {"wavix": 1, "telnyx": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numbers", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--ceilings", default="4,8,16,32")
    parser.add_argument("--carriers", default="wavix,telnyx")
    parser.add_argument("--wavix-rate", type=int, default=0)
    parser.add_argument("--telnyx-rate", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--src", type=Path, default=REPO, help="the checkout to run")
    args = parser.parse_args()
    cli = Reconciler(args.src.resolve())
    latency = args.latency_ms / 1000
    print(
        f"{machine()}; {args.numbers:,} numbers, latency {args.latency_ms} ms, "
        f"median of {args.repeat}; checkout {args.src}"
    )
    print(
        "bound = ⌈pages / reached⌉ × latency; read = first request → last answer (request log); "
        "target: read / bound ≤ 1.15"
    )
    print(
        f"{'carrier':8} {'ceiling':>7} {'wall s':>7} {'read s':>7} {'reached':>7} {'pages':>6} "
        f"{'bound s':>7} {'wall/b':>6} {'read/b':>6} {'met':>4}  why (verbose log)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for carrier in args.carriers.split(","):
            config, db = work / carrier, work / f"{carrier}.sqlite3"
            cli.run(
                "sandbox",
                "seed",
                f"--carrier={carrier}",
                f"--numbers={args.numbers}",
                f"--drift={DRIFT}",
                "--config-out",
                str(config),
                "--sandbox-db",
                str(db),
            )
            knobs = {
                "latency_ms": args.latency_ms,
                "request_log": "true",
                f"{carrier}.rate_limit": (
                    args.wavix_rate if carrier == "wavix" else args.telnyx_rate
                ),
            }
            for name, value in knobs.items():
                cli.run("sandbox", "knob", name, str(value), "--sandbox-db", str(db))
            pages = LISTINGS[carrier] * math.ceil(args.numbers / PAGE[carrier])
            with Served(cli, db) as base:
                providers = config / "providers.yaml"
                original = providers.read_text()
                for ceiling in (int(c) for c in args.ceilings.split(",")):
                    served = rf"\1sandbox: true\n\1base_url: {base}{MOUNTS[carrier]}" + (
                        rf"\n\1concurrency: {ceiling}"
                    )
                    providers.write_text(re.sub(r"(?m)^( +)sandbox: true$", served, original))
                    walls, reads, said = [], [], ""
                    for _ in range(args.repeat):
                        seen = _last_seq(db)
                        started = time.perf_counter()
                        done = subprocess.run(
                            [*cli.argv, "-v", "plan", str(config), "--json"],
                            env=cli.env,
                            capture_output=True,
                            text=True,
                        )
                        walls.append(time.perf_counter() - started)
                        reads.append(_span(db, seen) + latency)
                        found = re.findall(r"read with up to (\d+) .*", done.stderr)
                        said = next(
                            iter(re.findall(r"read with .*", done.stderr)), done.stderr[-300:]
                        )
                    wall, read = statistics.median(walls), statistics.median(reads)
                    reached = int(found[0]) if found else ceiling
                    bound = math.ceil(pages / reached) * latency
                    ratio = read / bound
                    print(
                        f"{carrier:8} {ceiling:7} {wall:7.2f} {read:7.2f} {reached:7} {pages:6} "
                        f"{bound:7.2f} {wall / bound:6.2f} {ratio:6.2f} "
                        f"{'yes' if ratio <= TARGET else 'no':>4}  {said}"
                    )


def _last_seq(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        try:
            return int(
                conn.execute("SELECT coalesce(max(seq), 0) FROM sandbox_requests").fetchone()[0]
            )
        except sqlite3.OperationalError:  # no request logged yet
            return 0


def _span(db: Path, after: int) -> float:
    """Seconds from the first to the last request the sandbox served after row ``after``."""
    with sqlite3.connect(db) as conn:
        first, last = conn.execute(
            "SELECT min(at), max(at) FROM sandbox_requests WHERE seq > ?", (after,)
        ).fetchone()
    return float(last - first) if first is not None else float("nan")


if __name__ == "__main__":
    main()
