"""How far adaptive concurrency gets from the ceiling it may use (issue 18 part 5).

    python benchmarks/concurrency.py [--numbers 20000] [--latency-ms 100]
        [--ceilings 4,8,16,32] [--wavix-rate 0] [--telnyx-rate 10000] [--repeat 3]

Per carrier: ``sandbox seed`` N numbers, ``sandbox serve`` on loopback with the ``latency_ms``
knob set (every answer that much later), then ``plan --json -v`` once per account ceiling
(``concurrency``), each its own process. Prints the wall time (median of ``--repeat``), the
lower bound ⌈pages / c⌉ × latency for the concurrency c the read reached, their ratio, and the
verbose log's line saying which concurrency was used and why. ``--wavix-rate`` /
``--telnyx-rate`` set the sandbox's per-key rate-limit knobs (requests per window; Wavix 0 = no
limit) so the window has to find the concurrency the limit allows.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import DRIFT, MOUNTS, REPO, Reconciler, Served

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
    args = parser.parse_args()
    cli = Reconciler(REPO)
    latency = args.latency_ms / 1000
    print(f"{time.strftime('%Y-%m-%d')}, {args.numbers:,} numbers, latency {args.latency_ms} ms")
    print(f"{'carrier':8} {'ceiling':>7} {'wall s':>7} {'reached':>7} {'bound s':>7} {'ratio':>6}")
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
                    walls, said = [], ""
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        done = subprocess.run(
                            [*cli.argv, "-v", "plan", str(config), "--json"],
                            env=cli.env,
                            capture_output=True,
                            text=True,
                        )
                        walls.append(time.perf_counter() - started)
                        found = re.findall(r"read with up to (\d+) .*", done.stderr)
                        said = next(
                            iter(re.findall(r"read with .*", done.stderr)), done.stderr[-300:]
                        )
                    wall = statistics.median(walls)
                    reached = int(found[0]) if found else ceiling
                    bound = math.ceil(pages / reached) * latency
                    print(
                        f"{carrier:8} {ceiling:7} {wall:7.2f} {reached:7} {bound:7.2f} "
                        f"{wall / bound:6.2f}  {said}"
                    )


if __name__ == "__main__":
    main()
