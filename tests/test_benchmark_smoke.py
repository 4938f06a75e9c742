"""The benchmark script runs end to end on a tiny account and reports consistent figures.
(No timing is asserted: speed is measured by `make bench`, not by tests.)"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
KEYS = {
    "numbers",
    "changed",
    "calls",
    "calls_exact_grouping",
    "calls_per_number",
    "lower_bound",
    "profile_bound",
    "plan_wall_s",
    "plan_cpu_s",
    "peak_rss_mb",
    "fetch_wall_s",
    "apply_wall_s",
    "naive_apply_wall_s",
}


@pytest.mark.parametrize("carrier", ["wavix", "telnyx"])
def test_benchmark_runs(carrier: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main(
        [
            "--carrier",
            carrier,
            "--numbers",
            "400",
            "--profiles",
            "4",
            "--drift",
            "0.5",
            "--latency-ms",
            "1",
            "--job-s",
            "0.05",
            "--poll-interval",
            "0.02",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert KEYS <= set(result)
    assert result["numbers"] == 400 and result["changed"] == 200
    assert result["lower_bound"] <= result["calls"] <= result["profile_bound"]
    assert result["calls"] <= result["calls_exact_grouping"] <= result["calls_per_number"]
    assert result["apply_exit_code"] == 0  # the plan applied and verified against the sandbox
    assert result["naive_requests"] >= result["changed"]


E2E = RUN.parent / "e2e.py"


def test_end_to_end_benchmark_prints_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("bench_e2e", E2E)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_e2e", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    rows_file = tmp_path / "rows.jsonl"
    code = module.main(["--numbers", "200", "--workloads", "base", "--json", str(rows_file)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| carrier | workload | numbers | output | wall s | CPU s | max RSS MB | calls |" in out
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert {(r["carrier"], r["output"]) for r in rows} >= {
        (carrier, output) for carrier in ("wavix", "telnyx") for output in ("text", "json")
    }
    for row in rows:  # each row is one plan process of its own, against the served sandbox
        assert f"| {row['carrier']} | 5 profiles | 200 | {row['output']} |" in out
        assert row["changed"] == 60 and row["lower_bound"] <= row["calls"]
        assert row["max_rss_mb"] > 0 and row["output_bytes"] > 0


STARTUP = RUN.parent / "startup.py"


def test_startup_benchmark_prints_import_times(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("bench_startup", STARTUP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.syspath_prepend(str(STARTUP.parent))  # it imports e2e beside it
    spec.loader.exec_module(module)
    assert module.main(["--repeat", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| `reconciler")]
    assert len(rows) == 3  # --help, validate, plan: each measured
    for row in rows:
        median = float(row.split("|")[2].split()[0])
        assert 0 < median < 30  # a figure was read from -X importtime, not left at zero
    help_row = next(r for r in rows if "--help" in r)
    assert "httpx" not in help_row.split("|")[4]  # --help loads no HTTP stack (issue 18)
