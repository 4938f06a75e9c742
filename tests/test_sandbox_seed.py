"""`reconciler sandbox seed`: a synthetic account in the sandbox and the YAML that manages it.
plan shows exactly the drifted numbers, apply makes the plan empty, prefixes never overlap, the
same seed gives the same account, and bad options are one clear message with exit 1."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.sandbox import Sandbox
from reconciler.sandbox.synthetic import NPAS, OVERRIDE_VALUES, SyntheticAccount, block_prefixes


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.sqlite3"
    sb = Sandbox.open(path)
    # Short carrier-side delays, so apply spends little real time waiting.
    sb.store.set_knob("wavix.async_delay_s", 0.1)
    sb.store.set_knob("telnyx.job_pending_s", 0.05)
    sb.store.set_knob("telnyx.job_run_s", 0.05)
    sb.close()
    return path


def cli(*args: Any, db: Path | None = None) -> Result:
    env = {"NO_COLOR": "1", **({"RECONCILER_SANDBOX_DB": str(db)} if db else {})}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def seed(db: Path, out: Path, *options: Any) -> Result:
    result = cli("sandbox", "seed", "--config-out", out, *options, db=db)
    assert result.exit_code == 0, result.output
    return result


def plan_summary(db: Path, config: Path) -> dict[str, Any]:
    result = cli("plan", config, "--json", db=db)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.output)["summary"]
    return summary


@pytest.mark.parametrize("carrier", ["wavix", "telnyx"])
def test_plan_shows_the_drift_and_apply_empties_it(carrier: str, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "cfg"
    result = seed(db, out, "--numbers", 300, "--carrier", carrier, "--overrides", 0.2)
    assert "drifted    90 differ" in result.output and "overrides  60 with" in result.output
    assert f"Next: reconciler plan {out}" in result.output
    assert {p.name for p in out.iterdir()} == {
        "providers.yaml",
        "profiles.yaml",
        "numbers.yaml",
        "overrides.yaml",
    }
    summary = plan_summary(db, out)
    assert (summary["changed"], summary["in_sync"], summary["unmanaged"]) == (90, 210, 0)

    providers = out / "providers.yaml"  # poll Telnyx jobs faster than the default second
    providers.write_text(providers.read_text() + "    poll_interval_s: 0.05\n")
    applied = cli("apply", out, "--auto-approve", db=db)
    assert applied.exit_code == 0, applied.output
    assert cli("plan", out, "--detailed-exitcode", db=db).exit_code == 0


def test_seed_replaces_one_carrier_and_keeps_the_other(db: Path, tmp_path: Path) -> None:
    seed(db, tmp_path / "cfg", "--numbers", 50, "--carrier", "telnyx")
    sb = Sandbox.open(db)
    count = sb.store.conn.execute("SELECT count(*) FROM telnyx_numbers").fetchone()[0]
    wavix = sb.store.conn.execute("SELECT count(*) FROM wavix_numbers").fetchone()[0]
    knob = sb.store.knob("telnyx.job_run_s")
    sb.close()
    assert (count, wavix, knob) == (50, 60, 0.05)  # the documented Wavix account is still there


def test_prefixes_never_overlap_and_5000_profiles_validate(tmp_path: Path) -> None:
    for profiles, per in [(5, 200_000), (358, 10), (800, 100), (5000, 20), (40_000, 3)]:
        prefixes = block_prefixes(profiles, per)
        assert len(set(prefixes)) == profiles and len({len(p) for p in prefixes}) == 1
        assert prefixes == sorted(prefixes)  # equal length + distinct: none starts another
    account = SyntheticAccount("wavix", 10_000, profiles=5000, drift=0.3)
    for run in account.runs:  # every number falls in its own block only
        assert all(e.startswith("+" + account.prefixes[run.profile]) for e in account.e164s(run))
    out = tmp_path / "cfg"
    out.mkdir()
    for name, text in account.config_files("synthetic").items():
        (out / name).write_text(text)
    result = cli("validate", out)
    assert result.exit_code == 0, result.output
    assert "5000 number selector(s)" in result.output


def test_every_synthetic_number_is_valid() -> None:
    rng = random.Random(7)
    for npa in NPAS:
        for _ in range(3):
            e164 = f"+1{npa}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            assert phonenumbers.is_valid_number(phonenumbers.parse(e164)), e164


def test_shares_are_exact_and_overrides_take_100_values() -> None:
    account = SyntheticAccount("telnyx", 1001, profiles=7, overrides=0.5, drift=0.33, seed=3)
    assert account.drifted == round(1001 * 0.33)
    assert account.overridden == round(1001 * 0.5)
    assert sum(r.count for r in account.runs) == 1001
    values = {r.override for r in account.runs if r.override is not None}
    assert values == set(range(OVERRIDE_VALUES))
    assert sum(r.count for r in account.runs if r.drifted) == account.drifted


def test_same_seed_same_account() -> None:
    def files(seed: int) -> dict[str, str]:
        account = SyntheticAccount("wavix", 2000, profiles=3, overrides=0.1, drift=0.3, seed=seed)
        return {**account.config_files("a"), "runs": repr(account.runs)}

    assert files(1) == files(1)
    assert files(1)["overrides.yaml"] != files(2)["overrides.yaml"]
    assert files(1)["runs"] != files(2)["runs"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--drift", "1.5"], "--drift 1.5: a fraction of the numbers is between 0 and 1"),
        (["--overrides", "-0.1"], "--overrides -0.1: a fraction"),
        (["--profiles", "0"], "--profiles 0: give between 1 and"),
        (["--numbers", "0"], "--numbers 0: give at least 1 number"),
    ],
)
def test_bad_options(options: list[str], message: str, db: Path, tmp_path: Path) -> None:
    args = ["--numbers", "10", *options] if "--numbers" not in options else options
    result = cli("sandbox", "seed", "--config-out", tmp_path / "cfg", *args, db=db)
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_unwritable_or_foreign_directory(db: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("sandbox", "seed", "--numbers", 10, "--config-out", blocker / "cfg", db=db)
    assert result.exit_code == 1 and "cannot write the configuration" in result.output

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "accounts.yaml").write_text("providers: {}\n")
    result = cli("sandbox", "seed", "--numbers", 10, "--config-out", mine, db=db)
    assert (
        result.exit_code == 1 and "already holds other YAML files (accounts.yaml)" in result.output
    )

    out = tmp_path / "again"  # re-seeding into its own directory is fine, stale files go
    seed(db, out, "--numbers", 10, "--overrides", 0.5)
    seed(db, out, "--numbers", 10)
    assert not (out / "overrides.yaml").exists()
