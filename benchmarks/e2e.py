"""End-to-end benchmark: `reconciler plan` as a user runs it, its own process against a served
sandbox, for each output format.

    python benchmarks/e2e.py [--quick] [--million] [--workloads base,overrides,profiles]
        [--carriers wavix,telnyx] [--formats text,json,markdown] [--numbers N] [--repeat R]
        [--src DIR] [--json FILE]

For each workload and carrier: ``reconciler sandbox seed`` into a fresh database,
``reconciler sandbox serve`` on a free loopback port (a subprocess), the seeded providers file
pointed at it (``base_url``), then one process per output format: ``plan DIR`` (text),
``plan DIR --json`` and ``plan DIR --format markdown`` when ``plan --help`` offers it, stdout to
a file. Per process: wall time from spawn to exit, and from ``wait4`` the client's own max RSS
and CPU time (user + sys); the server is another process and counts in neither. ``calls`` and
``lower bound`` come from the JSON plan's summary. With ``--repeat R`` each command runs R times
and the fastest run is kept (the machine may be busy with other work).

``--src DIR`` benchmarks another checkout (seed, serve and plan all run from it, e.g. a
``git archive`` of an older commit), so before/after figures come from one script.

Workloads (100k numbers, 30 % drift): ``base`` 5 profiles; ``overrides`` one profile and an
exact entry per number overriding one field (100 distinct values); ``profiles`` 5,000 profiles;
``million`` (``--million``) 1M numbers over 5 profiles. ``--quick``: ``base`` only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
LOOPBACK = "127.0.0.1"
MOUNTS = {"wavix": "/wavix", "telnyx": "/telnyx/v2"}
"""Where ``sandbox serve`` mounts each simulator (docs/sandbox-*.md)."""

WORKLOADS: dict[str, dict[str, Any]] = {
    "base": {"numbers": 100_000, "profiles": 5},
    "overrides": {"numbers": 100_000, "profiles": 1, "overrides": 1.0},
    "profiles": {"numbers": 100_000, "profiles": 5000},
    "million": {"numbers": 1_000_000, "profiles": 5},
}
DRIFT = 0.3
MB = 1024 * 1024


@dataclass
class Row:
    carrier: str
    workload: str
    numbers: int
    output: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    calls: int | None = None
    lower_bound: int | None = None
    changed: int | None = None
    output_bytes: int = 0
    seed_s: float = 0.0
    load: float = 0.0
    """1-minute load average after the run: figures from a busy machine say so."""
    cpu_runs: list[float] | None = None
    """CPU s of every run (``--repeat``), for the median."""
    floor_cpu_runs: list[float] | None = None
    """JSON rows: CPU s of ``benchmarks/floor.py`` run beside each plan (same pages, fetch and
    orjson-parse only), its own process, interleaved with the plan runs."""


class Reconciler:
    """Runs the ``reconciler`` CLI of one checkout as separate processes."""

    def __init__(self, src: Path) -> None:
        compiled(src)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), *_pythonpath()])}
        self.env.pop("RECONCILER_SANDBOX_DB", None)
        # What the console script does (``reconciler`` is this under another name); -P: the
        # current directory must not shadow ``src`` (it may be another checkout).
        self.argv = [
            sys.executable,
            "-P",
            "-c",
            "import sys; from reconciler.cli import main; sys.argv[0] = 'reconciler'; main()",
        ]
        where = [sys.executable, "-P", "-c", "import reconciler; print(reconciler.__file__)"]
        found = subprocess.run(where, env=self.env, capture_output=True, text=True, check=True)
        self.package = Path(found.stdout.strip()).parent
        if not self.package.is_relative_to(src):
            raise RuntimeError(f"reconciler imports from {self.package}, not from {src}")

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [*self.argv, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"reconciler {' '.join(args)} → {done.returncode}\n{done.stderr}")
        return done.stdout

    def popen(self, *args: str, stdout: Any, stderr: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*self.argv, *args], env=self.env, stdout=stdout, stderr=stderr)

    def measure(self, args: list[str], out: Path) -> tuple[float, float, float]:
        """(wall s, CPU s, max RSS MB) of one client process; stdout to ``out``."""
        with out.open("wb") as stdout, tempfile.TemporaryFile() as stderr:
            started = time.perf_counter()
            proc = self.popen(*args, stdout=stdout, stderr=stderr)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"reconciler {' '.join(args)} → {proc.returncode}\n{tail}")
        # Linux reports ru_maxrss in KiB.
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / MB

    def formats(self, wanted: set[str]) -> list[tuple[str, list[str]]]:
        """The output formats ``plan`` offers (text, json, and markdown when ``plan --help``
        lists it) among ``wanted``; json always, for calls and the lower bound."""
        help_text = self.run("plan", "--help")
        out = [("text", []), ("json", ["--json"])]
        if "--format" in help_text and "markdown" in help_text:
            out.append(("markdown", ["--format", "markdown"]))
        return [(name, flags) for name, flags in out if name in wanted or name == "json"]


def compiled(src: Path) -> None:
    """Write the bytecode of ``src``'s package, as ``pip install`` does: without it (e.g. under
    ``PYTHONDONTWRITEBYTECODE=1``) every command would compile every module it imports again."""
    package = src / "reconciler"
    argv = [sys.executable, "-m", "compileall", "-q", str(package)]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def _pythonpath() -> list[str]:
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class Served:
    """``reconciler sandbox serve`` on a free loopback port, stopped on exit."""

    def __init__(self, cli: Reconciler, db: Path) -> None:
        self.cli, self.db, self.port = cli, db, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        args = ["sandbox", "serve", "--port", str(self.port), "--sandbox-db", str(self.db)]
        self.proc = self.cli.popen(*args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=1).close()
                return f"http://{LOOPBACK}:{self.port}"
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"sandbox serve did not start:\n{err}") from None
                time.sleep(0.05)

    def __exit__(self, *_: Any) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


def bench(
    cli: Reconciler, carrier: str, options: dict[str, Any], args: argparse.Namespace, work: Path
) -> list[Row]:
    label = f"{options['profiles']:,} profile" + ("s" if options["profiles"] > 1 else "")
    if options.get("overrides"):
        label += f", {options['overrides']:.0%} overridden"
    config, db = work / carrier, work / f"{carrier}.sqlite3"
    seed_args = [f"--{k}={v}" for k, v in options.items()]
    started = time.perf_counter()
    cli.run("sandbox", "seed", f"--carrier={carrier}", f"--drift={DRIFT}", *seed_args,
            "--config-out", str(config), "--sandbox-db", str(db))  # fmt: skip
    seed_s = time.perf_counter() - started
    rows = []
    with Served(cli, db) as base:
        providers = config / "providers.yaml"
        served = rf"\1sandbox: true\n\1base_url: {base}{MOUNTS[carrier]}"
        providers.write_text(re.sub(r"(?m)^( +)sandbox: true$", served, providers.read_text()))
        floors: list[float] = []
        for output, flags in cli.formats(set(args.formats.split(","))):
            runs = []
            for _ in range(args.repeat):
                out = work / f"out-{carrier}-{output}"
                runs.append((*cli.measure(["plan", str(config), *flags], out), out))
                if output == "json" and args.floor:
                    floors.append(floor_cpu(base + MOUNTS[carrier], carrier))
            wall, cpu, rss, out = min(runs, key=lambda r: r[0])
            row = Row(carrier, label, options["numbers"], output, round(wall, 2), round(cpu, 2),
                      round(rss, 1), output_bytes=out.stat().st_size, seed_s=round(seed_s, 1),
                      load=round(os.getloadavg()[0], 1),
                      cpu_runs=[round(r[1], 3) for r in runs])  # fmt: skip
            if output == "json":
                row.floor_cpu_runs = floors or None
                summary = json.loads(out.read_text())["summary"]
                row.calls, row.lower_bound = summary["calls"], summary["lower_bound"]
                row.changed = summary["changed"]
            rows.append(row)
            print(json.dumps(asdict(row)), file=sys.stderr, flush=True)
    planned = next(r for r in rows if r.output == "json")  # every format plans the same calls
    for row in rows:
        row.calls, row.lower_bound, row.changed = (
            planned.calls,
            planned.lower_bound,
            planned.changed,
        )
    return rows


FLOOR = Path(__file__).resolve().parent / "floor.py"
FLOOR_KEYS = {"wavix": "wvx_sandbox_full_0000", "telnyx": "KEYsandbox_telnyx_0000"}
"""The simulators' default keys (``reconciler/sandbox/*/account.py``), passed so that the floor
process imports nothing of reconciler."""


def floor_cpu(base_url: str, carrier: str) -> float:
    """CPU s (user + sys, ``wait4``) of ``benchmarks/floor.py`` as its own process."""
    argv = [sys.executable, "-P", str(FLOOR), base_url, "--carrier", carrier]
    argv += ["--key", FLOOR_KEYS[carrier]]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"floor.py {carrier} failed:\n{err[-2000:]}")
    if proc.stderr:
        proc.stderr.close()
    return round(usage.ru_utime + usage.ru_stime, 3)


def floor_table(rows: list[Row]) -> str:
    """``plan --json`` CPU ÷ the floor's CPU per carrier and workload (medians; min in brackets)."""
    lines = [
        "| carrier | workload | numbers | plan CPU s median (min) | floor CPU s median (min) "
        "| plan ÷ floor (median) | runs |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.output != "json" or not r.floor_cpu_runs or not r.cpu_runs:
            continue
        plan_m, floor_m = statistics.median(r.cpu_runs), statistics.median(r.floor_cpu_runs)
        lines.append(
            f"| {r.carrier} | {r.workload} | {r.numbers:,} | {plan_m:.2f} ({min(r.cpu_runs):.2f})"
            f" | {floor_m:.2f} ({min(r.floor_cpu_runs):.2f}) | {plan_m / floor_m:.2f}× "
            f"| {len(r.cpu_runs)} |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def table(rows: list[Row]) -> str:
    lines = [
        "| carrier | workload | numbers | output | wall s | CPU s | max RSS MB | calls"
        " | lower bound |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.carrier} | {r.workload} | {r.numbers:,} | {r.output} | {r.wall_s} | {r.cpu_s} | "
            f"{r.max_rss_mb} | {_cell(r.calls)} | {_cell(r.lower_bound)} |"
        )
    return "\n".join(lines)


def _commit(src: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(src), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return f" ({done.stdout.strip()})" if done.returncode == 0 else ""


def _cell(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", default="base,overrides,profiles")
    parser.add_argument("--carriers", default="wavix,telnyx")
    parser.add_argument("--formats", default="text,json,markdown", help="json always runs")
    parser.add_argument("--quick", action="store_true", help="the base workload only")
    parser.add_argument("--million", action="store_true", help="add 1M numbers (takes long)")
    parser.add_argument("--numbers", type=int, help="numbers in every workload (small: smoke)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command, fastest kept")
    parser.add_argument("--src", type=Path, default=REPO, help="the checkout to benchmark")
    parser.add_argument("--json", type=Path, help="also write one JSON line per row here")
    parser.add_argument("--label", default="", help="names the code in the header, e.g. before")
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip benchmarks/floor.py beside each JSON plan (plan CPU ÷ floor CPU)",
    )
    args = parser.parse_args(argv)

    workloads = ["base"] if args.quick else args.workloads.split(",")
    if args.million and "million" not in workloads:
        workloads.append("million")
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    cli = Reconciler(args.src.resolve())
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="reconciler-e2e-") as tmp:
        for workload in workloads:
            options = dict(WORKLOADS[workload])
            if args.numbers:
                options["numbers"] = args.numbers
                options["profiles"] = min(options["profiles"], args.numbers)
            for carrier in args.carriers.split(","):
                with tempfile.TemporaryDirectory(dir=tmp) as work:
                    rows.extend(bench(cli, carrier, options, args, Path(work)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    print(
        "End to end: `reconciler plan` as its own process against `reconciler sandbox serve`, "
        f"{DRIFT:.0%} drift; code {args.label or cli.package}{_commit(args.src)}. "
        f"Machine: {machine()}\n"
    )
    print(table(rows))
    ratios = floor_table(rows)
    if ratios:
        print(
            "\nRead path: `plan --json` CPU (user + sys, the whole process) ÷ the CPU of "
            "benchmarks/floor.py (http.client, 8 threads, orjson; the same pages fetched and "
            "dropped), each its own process, run alternately against the same served sandbox. "
            f"Target (issue 18): ≤ 2×. Machine: {machine()}\n"
        )
        print(ratios)
    loads = [r.load for r in rows]
    print(
        f"\nLoad average (1 min) after each run: {min(loads)}-{max(loads)} on {os.cpu_count()} "
        "cores; above the core count, wall times include waiting for a CPU (CPU s does not)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
