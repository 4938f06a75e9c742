"""The benchmark script runs end to end on a tiny account and reports consistent figures.
(No timing is asserted: speed is measured by `make bench`, not by tests.)"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
KEYS = {
    "numbers", "changed", "calls", "calls_exact_grouping", "calls_per_number", "lower_bound",
    "profile_bound", "plan_wall_s", "plan_cpu_s", "peak_rss_mb", "fetch_wall_s", "apply_wall_s",
    "naive_apply_wall_s",
}


@pytest.mark.parametrize("carrier", ["wavix", "telnyx"])
def test_benchmark_runs(carrier: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main([
        "--carrier", carrier, "--numbers", "400", "--profiles", "4", "--drift", "0.5",
        "--latency-ms", "1", "--job-s", "0.05", "--poll-interval", "0.02", "--json",
    ])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert KEYS <= set(result)
    assert result["numbers"] == 400 and result["changed"] == 200
    assert result["lower_bound"] <= result["calls"] <= result["profile_bound"]
    assert result["calls"] <= result["calls_exact_grouping"] <= result["calls_per_number"]
    assert result["apply_exit_code"] == 0  # the plan applied and verified against the sandbox
    assert result["naive_requests"] >= result["changed"]
