"""Chaos suite (issue 10): repeated applies through the public runner converge against a sandbox
that fails writes at random, fails numbers inside jobs, applies changes late and rate-limits.

Faults (knobs, see docs/sandbox-*.md): on writes only, ~20 % 5xx, 10 % 429 and 5 % "timeout
after commit" (the write lands, the answer is a 504); 10 % of the numbers of every Telnyx job
fail; Wavix applies destinations and the SMS URL seconds later; Telnyx jobs wait, run in steps
and are invisible to their first poll; both carriers allow a handful of requests per window.
Everything runs on a fake clock, with seeded draws, so a failure replays exactly.

Checked from outside the client, in the sandbox's request log and tables: every write of a run
touches only numbers that run planned; no job is created for numbers a live or successful job
with the same patch already covers; numbers outside every plan are byte-for-byte unchanged; the
final plan is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EXAMPLE
from sandbox_checks import duplicate_jobs, jobs, snapshot

from reconciler import runner
from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox, knobs, requestlog, telnyx, wavix
from reconciler.sandbox.faults import WriteFaults
from reconciler.sandbox.store import SandboxStore
from reconciler.sandbox.synthetic import SyntheticAccount
from reconciler.sandbox.synthetic import seed as seed_account

ODDS = {"p_5xx": 0.2, "p_429": 0.1, "p_timeout_after_commit": 0.05}
SEEDS = (1, 3, 4, 5, 6, 7, 8, 9)
"""Seeds 1-9 but 2, whose draws leave the example's four writes and its jobs untouched (9 took
six applies before the follow-up calls)."""
MAX_RUNS = 3
"""The issue's promise: converged after at most this many applies."""
SYNTHETIC_NUMBERS = 300
SYNTHETIC_SEEDS = tuple(range(1, 7))
SYNTHETIC_MAX_RUNS = {"wavix": MAX_RUNS, "telnyx": MAX_RUNS}
"""Measured with ``python benchmarks/chaos.py`` (180 numbers to change): over seeds 1-50 Wavix
converges in 1-2 applies, Telnyx in 1-3 (13, 36 and 1 seeds) and the example in 1-2. Before the
follow-up calls (``reconciler/followup.py``) Telnyx took 2-5 applies over seeds 1-20 and the
example 6 on seed 9: a number failed inside a job (10007 "Please try again") or a job creation
left unknown with no job found waited for the next apply. What still takes a second apply: a
number failing in its job three times in a row, a job whose first poll came after the read-lag
allowance (lost: outcome unknown, never re-sent), Wavix calls still rate-limited after the
HTTP policy's retries."""


def chaos(store: SandboxStore, seed: int) -> None:
    """Every fault knob of the suite, drawn from ``seed``."""
    store.set_knob("request_log", True)
    store.set_knob("wavix.write_faults", {**ODDS, "seed": seed})
    store.set_knob("telnyx.write_faults", {**ODDS, "seed": seed + 1000})
    store.set_knob("telnyx.job_number_faults", {"p": 0.1, "seed": seed})
    store.set_knob("wavix.async_delay_s", 5)
    store.set_knob("telnyx.job_pending_s", 2)
    store.set_knob("telnyx.job_run_s", 3)
    store.set_knob("telnyx.job_steps", 3)
    store.set_knob("telnyx.job_read_lag", {"polls": 1})
    store.set_knob("wavix.rate_limit", 5)
    store.set_knob("telnyx.rate_limit", 20)
    store.set_knob("telnyx.rate_window_s", 10)


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[Sandbox]:
    sb = Sandbox(SandboxStore(":memory:", clock=clock))
    yield sb
    sb.close()


@dataclass
class Applied:
    """One apply of a converging sequence: what it planned and what reached the sandbox."""

    planned: dict[str, set[str]]  # carrier → carrier ids the plan changes
    log: list[requestlog.Entry]
    exit_code: int


@dataclass
class Outcome:
    applies: list[Applied] = field(default_factory=list)
    final_changes: int = -1


async def converge(sb: Sandbox, clock: FakeClock, config: Path, runs: int) -> Outcome:
    """Plan and apply ``config`` until the plan is empty (at most ``runs`` applies), as a user
    re-running ``reconciler apply`` would; then plan once more."""
    wiring = runner.Wiring(sandbox=sb, clock=clock)
    out = Outcome()
    for _ in range(runs + 1):
        seen = _last_seq(sb.store)
        async with runner.planned(config, wiring=wiring) as run:
            if not run.plan.changes:
                out.final_changes = 0
                return out
            if len(out.applies) == runs:
                out.final_changes = len(run.plan.changes)
                return out
            carrier_of = {name: p.carrier for name, p in run.providers.items()}
            planned: dict[str, set[str]] = {}
            for change in run.plan.changes:
                planned.setdefault(carrier_of[change.account], set()).add(change.id)
            report = await runner.apply(run.plan, run.providers, clock=clock)
        out.applies.append(
            Applied(planned, requestlog.entries(sb.store, after=seen), report.exit_code)
        )
    return out


def _last_seq(store: SandboxStore) -> int:
    entries = requestlog.entries(store)
    return entries[-1].seq if entries else 0


def stray_writes(out: Outcome) -> list[tuple[int, str, str]]:
    """(apply, carrier, id) of every id written by an apply whose plan did not change it."""
    return [
        (i, e.carrier, id_)
        for i, applied in enumerate(out.applies, 1)
        for e in applied.log
        if e.method != "GET"
        for id_ in e.ids
        if id_ not in applied.planned.get(e.carrier, set())
    ]


def touched_outside_plans(
    before: dict[tuple[str, str], str], sb: Sandbox, out: Outcome
) -> list[tuple[str, str]]:
    planned = {(c, i) for a in out.applies for c, ids in a.planned.items() for i in ids}
    after = snapshot(sb.store)
    return sorted(k for k in before if after.get(k) != before[k] and k not in planned)


def check(
    sb: Sandbox, before: dict[tuple[str, str], str], out: Outcome, runs: int, label: str
) -> None:
    log = [e for a in out.applies for e in a.log]
    failed_in_jobs = any(d["failed_operations"] for d in jobs(sb.store))
    assert any(e.fault for e in log) or failed_in_jobs, "no fault injected: the run proves nothing"
    assert out.final_changes == 0, f"{label}: not converged after {len(out.applies)} applies"
    assert len(out.applies) <= runs
    assert stray_writes(out) == []
    assert duplicate_jobs(sb.store) == []
    assert touched_outside_plans(before, sb, out) == []


@pytest.mark.parametrize("seed", SEEDS)
async def test_example_converges_under_chaos(sandbox: Sandbox, clock: FakeClock, seed: int) -> None:
    chaos(sandbox.store, seed)
    before = snapshot(sandbox.store)
    out = await converge(sandbox, clock, EXAMPLE, MAX_RUNS)
    check(sandbox, before, out, MAX_RUNS, f"example seed {seed}")


@pytest.mark.parametrize("carrier", ["wavix", "telnyx"])
@pytest.mark.parametrize("seed", SYNTHETIC_SEEDS)
async def test_synthetic_account_converges(
    sandbox: Sandbox, clock: FakeClock, tmp_path: Path, carrier: str, seed: int
) -> None:
    account = SyntheticAccount(
        carrier, SYNTHETIC_NUMBERS, profiles=5, overrides=0.1, drift=0.6, seed=seed
    )
    seed_account(sandbox.store, account, tmp_path)
    chaos(sandbox.store, seed)
    before = snapshot(sandbox.store)
    out = await converge(sandbox, clock, tmp_path, SYNTHETIC_MAX_RUNS[carrier])
    assert sum(len(ids) for ids in out.applies[0].planned.values()) >= SYNTHETIC_NUMBERS // 2
    check(
        sandbox,
        before,
        out,
        SYNTHETIC_MAX_RUNS[carrier],
        f"{carrier} {SYNTHETIC_NUMBERS} seed {seed}",
    )


# ---- the checks themselves can fail: each sees the fault it is there to catch


async def test_the_checks_catch_a_stray_write_and_a_duplicate_job(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("request_log", True)
    before = snapshot(sandbox.store)
    out = Outcome([Applied({"telnyx": set()}, [], 0)], 0)
    async with _client(sandbox) as http:
        ids = [i for (c, i) in before if c == "telnyx"][:2]
        for _ in range(2):  # the same job twice, the first still pending
            r = await http.post(
                "/telnyx/v2/phone_numbers/jobs/update_phone_numbers",
                json={"phone_numbers": ids, "tags": ["x"]},
                headers=_auth(telnyx.DEFAULT_KEY),
            )
            assert r.status_code == 202
    out.applies[0].log = requestlog.entries(sandbox.store)
    clock.advance(60)
    async with _client(sandbox) as http:
        await http.get("/telnyx/v2/phone_numbers/jobs", headers=_auth(telnyx.DEFAULT_KEY))
    assert {i for (_, _, i) in stray_writes(out)} == set(ids)
    assert len(duplicate_jobs(sandbox.store)) == 1
    assert sorted(i for (_, i) in touched_outside_plans(before, sandbox, out)) == sorted(ids)


# ---- the knobs


def _client(sb: Sandbox) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sb.app), base_url="http://sandbox.invalid"
    )


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _wavix_id(sb: Sandbox) -> int:
    with sb.store.lock:
        return int(sb.store.conn.execute("SELECT min(id) FROM wavix_numbers").fetchone()[0])


async def test_write_faults_hit_writes_only_and_nothing_is_applied(sandbox: Sandbox) -> None:
    store = sandbox.store
    store.set_knob("request_log", True)
    store.set_knob("wavix.write_faults", {"p_5xx": 1.0, "seed": 1})
    store.set_knob("telnyx.write_faults", {"p_429": 1.0})
    number_id = _wavix_id(sandbox)
    before = snapshot(store)
    async with _client(sandbox) as http:
        assert (
            await http.get("/wavix/v1/numbers", headers=_auth(wavix.DEFAULT_KEY))
        ).status_code == 200
        r = await http.patch(
            "/wavix/v1/numbers",
            json={"ids": [number_id], "sms_enabled": False},
            headers=_auth(wavix.DEFAULT_KEY),
        )
        assert r.status_code in (500, 502, 503)
        listed = await http.get("/telnyx/v2/phone_numbers", headers=_auth(telnyx.DEFAULT_KEY))
        assert listed.status_code == 200
        some = listed.json()["data"][0]["id"]
        r = await http.post(
            "/telnyx/v2/phone_numbers/jobs/update_phone_numbers",
            json={"phone_numbers": [some], "tags": ["x"]},
            headers=_auth(telnyx.DEFAULT_KEY),
        )
        assert r.status_code == 429
    assert snapshot(store) == before
    faults = [(e.method, e.fault, e.ids, e.job) for e in requestlog.entries(store)]
    assert faults == [
        ("GET", None, [], None),
        ("PATCH", "p_5xx", [], None),
        ("GET", None, [], None),
        ("POST", "p_429", [], None),
    ]


async def test_timeout_after_commit_applies_then_answers_504(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    store = sandbox.store
    store.set_knob("request_log", True)
    store.set_knob("wavix.async_delay_s", 0)
    for carrier in ("wavix", "telnyx"):
        store.set_knob(f"{carrier}.write_faults", {"p_timeout_after_commit": 1.0})
    number_id = _wavix_id(sandbox)
    async with _client(sandbox) as http:
        r = await http.patch(
            "/wavix/v1/numbers",
            json={"ids": [number_id], "sms_enabled": True},
            headers=_auth(wavix.DEFAULT_KEY),
        )
        assert r.status_code == 504
        got = await http.get(f"/wavix/v1/numbers/{number_id}", headers=_auth(wavix.DEFAULT_KEY))
        assert got.json()["sms_enabled"] is True
        some = (
            await http.get("/telnyx/v2/phone_numbers", headers=_auth(telnyx.DEFAULT_KEY))
        ).json()["data"][0]["id"]
        r = await http.post(
            "/telnyx/v2/phone_numbers/jobs/update_phone_numbers",
            json={"phone_numbers": [some], "tags": ["late"]},
            headers=_auth(telnyx.DEFAULT_KEY),
        )
        assert r.status_code == 504
        jobs = (
            await http.get("/telnyx/v2/phone_numbers/jobs", headers=_auth(telnyx.DEFAULT_KEY))
        ).json()["data"]
    writes = [e for e in requestlog.entries(store) if e.method != "GET"]
    assert [(e.status, e.fault, e.ids) for e in writes] == [
        (504, "p_timeout_after_commit", [str(number_id)]),
        (504, "p_timeout_after_commit", [some]),
    ]
    assert writes[1].job == jobs[0]["id"]


def test_write_fault_draws_are_reproducible() -> None:
    odds = {**ODDS, "seed": 42}
    a, b, other = WriteFaults(), WriteFaults(), WriteFaults()
    first = [a.draw(odds) for _ in range(200)]
    assert first == [b.draw(odds) for _ in range(200)]
    assert first != [other.draw({**odds, "seed": 43}) for _ in range(200)]
    kinds = [f.kind if f else None for f in first]
    assert 20 <= kinds.count("p_5xx") <= 60 and 5 <= kinds.count("p_429") <= 35


async def test_job_number_faults_fail_a_share_of_each_job(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    store = sandbox.store
    store.set_knob("telnyx.job_number_faults", {"p": 1.0, "seed": 3})
    async with _client(sandbox) as http:
        some = (
            await http.get("/telnyx/v2/phone_numbers", headers=_auth(telnyx.DEFAULT_KEY))
        ).json()["data"]
        active = [n["id"] for n in some if n["status"] == "active"][:2]
        r = await http.post(
            "/telnyx/v2/phone_numbers/jobs/update_phone_numbers",
            json={"phone_numbers": active, "tags": ["x"]},
            headers=_auth(telnyx.DEFAULT_KEY),
        )
        clock.advance(60)
        job = (
            await http.get(
                f"/telnyx/v2/phone_numbers/jobs/{r.json()['data']['id']}",
                headers=_auth(telnyx.DEFAULT_KEY),
            )
        ).json()["data"]
    assert sorted(op["id"] for op in job["failed_operations"]) == sorted(active)
    assert job["failed_operations"][0]["errors"] == [telnyx.NUMBER_FAILURE]


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("wavix.write_faults", {"p_5xx": 1.5}),
        ("wavix.write_faults", {"p_5xx": 0.6, "p_429": 0.6}),
        ("telnyx.write_faults", {"p_500": 0.1}),
        ("telnyx.write_faults", {"seed": -1}),
        ("telnyx.job_number_faults", {"seed": 1}),
        ("telnyx.job_number_faults", {"p": True}),
        ("request_log", 1),
    ],
)
def test_bad_fault_knob_values_are_refused(name: str, bad: Any) -> None:
    with pytest.raises(knobs.KnobError, match=name):
        knobs.check(name, bad)


def test_request_log_is_off_by_default(sandbox: Sandbox) -> None:
    async def go() -> None:
        async with _client(sandbox) as http:
            await http.get("/wavix/v1/numbers", headers=_auth(wavix.DEFAULT_KEY))

    import asyncio

    asyncio.run(go())
    assert requestlog.entries(sandbox.store) == []
    sandbox.store.set_knob("request_log", True)
    asyncio.run(go())
    assert len(requestlog.entries(sandbox.store)) == 1
