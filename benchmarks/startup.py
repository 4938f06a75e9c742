"""Startup: how long each command spends importing before it does anything (issue 18).

    python benchmarks/startup.py [--repeat 5] [--src DIR]

For ``reconciler --help``, ``reconciler validate examples/desired-state`` and ``reconciler plan
examples/desired-state --json`` (the shipped example against the embedded sandbox, a copy of a
fresh database): the command as its own process under ``python -X importtime``, the import time
being the sum of the cumulative times of the top-level imports it reports (every module the
command loaded, at the moment it loaded it, interpreter start-up modules included), with the
package's bytecode written first as ``pip install`` writes it. Prints the
median and min of ``--repeat`` runs, the target (≤ 0.12 s for ``--help`` and ``validate``), the
number of modules loaded, and whether httpx / pydantic / rich were among them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import REPO, compiled, machine

EXAMPLE = "examples/desired-state"
COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("reconciler --help", ["--help"], 0.12),
    (f"reconciler validate {EXAMPLE}", ["validate", EXAMPLE], 0.12),
    (f"reconciler plan {EXAMPLE} --json", ["plan", EXAMPLE, "--json"], None),
]
WATCH = ("httpx", "pydantic", "rich", "phonenumbers", "yaml", "click")
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def imports(src: Path, args: list[str], db: Path) -> tuple[float, set[str]]:
    """(import s, top-level packages loaded) of one run of the command."""
    env = {**os.environ, "PYTHONPATH": str(src), "RECONCILER_SANDBOX_DB": str(db)}
    argv = [sys.executable, "-P", "-X", "importtime", "-c",
            "import sys; from reconciler.cli import main; sys.argv[0] = 'reconciler'; main()",
            *args]  # fmt: skip
    done = subprocess.run(argv, cwd=src, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 2):  # plan exits 2 when there are changes
        raise RuntimeError(f"{' '.join(args)} → {done.returncode}\n{done.stderr[-2000:]}")
    total_us, loaded = 0, set()
    for line in done.stderr.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        loaded.add(match.group(4).split(".")[0])
        if len(match.group(3)) == 1:
            total_us += int(match.group(2))  # a top-level import: its cumulative time
    return total_us / 1e6, loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--src", type=Path, default=REPO)
    args = parser.parse_args(argv)
    src = args.src.resolve()
    compiled(src)
    print(f"Startup: import time per command (python -X importtime). Machine: {machine()}\n")
    print("| command | import s median (min) | target | modules' packages loaded |")
    print("|---|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="reconciler-startup-") as tmp:
        for label, cmd, target in COMMANDS:
            times, loaded = [], set()
            for _ in range(args.repeat):
                db = Path(tmp) / "sandbox.sqlite3"
                if db.exists():
                    db.unlink()
                seconds, loaded = imports(src, cmd, db)
                times.append(seconds)
            watched = ", ".join(p for p in WATCH if p in loaded) or "none of " + "/".join(WATCH)
            goal = f"≤ {target:.2f}" if target else "-"
            print(
                f"| `{label}` | {statistics.median(times):.3f} ({min(times):.3f}) | {goal} "
                f"| {watched} |"
            )
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
