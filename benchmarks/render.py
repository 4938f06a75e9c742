"""Rendering cost alone: a synthetic plan (N numbers, a share drifted, K profiles) rendered by the
old renderer (rich line by line, deepdiff; read from git history) and the new one, side by side.

    python benchmarks/render.py [--numbers 100000] [--drift 0.3] [--carrier wavix|telnyx|both]
                                [--skip-old] [--repeat 3]

The plan is made by the real planner (``plan_account``) from synthetic live numbers; only the
rendering is timed (best of ``--repeat``), output written to an in-memory buffer. Prints one
Markdown table: seconds (wall / process CPU) and output lines per form.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from reconciler import carriers, render
from reconciler.models import LiveNumber
from reconciler.plan import Plan
from reconciler.planner import plan_account
from reconciler.sandbox.synthetic import CARRIERS as SYNTHETIC

ROOT = Path(__file__).resolve().parent.parent
OLD_PATH = "reconciler/render.py"


# --------------------------------------------------------------------------------------------
# A synthetic plan


def profiles(carrier: str, k: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``sandbox seed`` profiles in canonical form, and how a drifted field is wrong.
    Telnyx profiles also set ``external_pin`` so the masking is part of the measure."""
    synthetic = SYNTHETIC[carrier]
    canonical = carriers.get(carrier).canonical
    wanted = []
    for i in range(k):
        want = synthetic.profile(i)
        for path, normal in canonical.items():
            if path in want:
                want[path] = normal(want[path])
        if carrier == "telnyx":
            want["external_pin"] = f"{4000 + i}"
        wanted.append(want)
    return wanted, {**synthetic.wrong, "external_pin": lambda v: v + "0"}


class _Desired:
    """The two things ``plan_account`` asks of a desired state: a resolver per account."""

    def __init__(self, table: dict[str, dict[str, Any]]) -> None:
        self.table = table
        self.exact: dict[str, Any] = {}

    def resolver(self, account: str) -> _Desired:
        return self

    def desired(self, e164: str) -> dict[str, Any] | None:
        return self.table.get(e164)


def synthetic_plan(carrier: str, numbers: int, drift: float, k: int = 5, seed: int = 1) -> Plan:
    rng = random.Random(seed)
    wanted, wrong = profiles(carrier, k)
    table: dict[str, dict[str, Any]] = {}
    live: list[LiveNumber] = []
    for n in range(numbers):
        e164 = f"+1{200 + n % k}{5550000 + n // k:07d}"
        want = wanted[n % k]
        table[e164] = want
        have = dict(want)
        if rng.random() < drift:
            for key in rng.sample(sorted(want), rng.randint(1, 3)):
                have[key] = wrong[key](want[key])
        live.append(LiveNumber(id=str(10_000_000 + n), e164=e164, status="active", settings=have))
    summary, changes, calls = plan_account(f"{carrier}-main", carrier, _Desired(table), live)  # type: ignore[arg-type]
    return Plan(accounts=(summary,), changes=tuple(changes), calls=tuple(calls))


# --------------------------------------------------------------------------------------------
# Timing


def old_renderer() -> Any:
    """The previous ``render.py`` from git history, imported as ``reconciler._old_render``."""
    rev = subprocess.run(
        ["git", "rev-list", "-1", "HEAD", "--", OLD_PATH],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for ref in (f"{rev}:{OLD_PATH}", f"{rev}^:{OLD_PATH}"):
        shown = subprocess.run(["git", "show", ref], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0 and "def render_plan" in shown.stdout:
            break
    else:
        raise SystemExit("the old render.py is not in git history")
    path = Path("/tmp") / "reconciler_old_render.py"
    path.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("reconciler._old_render", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best(fn: Any, repeat: int) -> tuple[str, str]:
    """Seconds as "wall / cpu", best of ``repeat`` (CPU time is steadier on a busy machine)."""
    walls, cpus, text = [], [], ""
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        text = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return f"{min(walls):.3f} / {min(cpus):.3f}", text


def new_forms(plan: Plan) -> dict[str, Any]:
    def into(write: Any, **kw: Any) -> Any:
        def go() -> str:
            buf = io.StringIO()
            write(plan, buf, **kw)
            return buf.getvalue()

        return go

    return {
        "text": into(render.write_plan),
        "text --full": into(render.write_plan, full=True),
        "json": into(render.write_plan, fmt="json"),
        "markdown": into(render.write_plan, fmt="markdown"),
        "markdown parts (65,536)": lambda: "".join(render.markdown_parts(plan)),
        "drift text": into(render.write_drift),
    }


def old_forms(old: Any, plan: Plan) -> dict[str, Any]:
    def console_text(**kw: Any) -> Any:
        def go() -> str:
            buf = io.StringIO()
            old.render_plan(
                plan,
                Console(file=buf, width=200, color_system=None, soft_wrap=True, highlight=False),
                **kw,
            )
            return buf.getvalue()

        return go

    text = console_text()
    # The old renderer had one text form: every number. It is timed once and shown against both.
    return {
        "text": text,
        "text --full": text,
        "json": lambda: old.plan_json(plan),
        "drift text": console_text(drift=True),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--drift", type=float, default=0.3)
    parser.add_argument("--carrier", choices=["wavix", "telnyx", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-old", action="store_true", help="Do not time the old renderer.")
    args = parser.parse_args(argv)
    old = None if args.skip_old else old_renderer()
    print(
        "| carrier | numbers | changes | form | old s (wall / cpu) | old lines "
        "| new s (wall / cpu) | new lines | parts |"
    )
    print("|---|--:|--:|---|--:|--:|--:|--:|--:|")
    for carrier in ["wavix", "telnyx"] if args.carrier == "both" else [args.carrier]:
        plan = synthetic_plan(carrier, args.numbers, args.drift)
        olds = old_forms(old, plan) if old else {}
        measured: dict[Any, list[str]] = {}
        for form, fn in new_forms(plan).items():
            new_s, new_text = best(fn, args.repeat)
            cells = ["—", "—"]
            if form in olds:  # the old renderer is slow: one run per function
                if olds[form] not in measured:
                    old_s, old_text = best(olds[form], 1)
                    measured[olds[form]] = [old_s, str(old_text.count("\n"))]
                cells = measured[olds[form]]
            parts = len(render.markdown_parts(plan)) if form.startswith("markdown parts") else ""
            print(
                f"| {carrier} | {args.numbers} | {plan.changed} | {form} | {cells[0]} | {cells[1]} "
                f"| {new_s} | {new_text.count(chr(10))} | {parts} |"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
