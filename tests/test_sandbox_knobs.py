"""Sandbox knobs: the registry (names, validators, "did you mean"), the ``sandbox knob`` command,
and a served sandbox in another process seeing knob changes while it runs (issue 7, item 15)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sandbox_checks import served

from reconciler.cli import main
from reconciler.sandbox import SIMULATORS, Sandbox, knobs
from reconciler.sandbox import wavix as sim
from reconciler.sandbox.store import SandboxStore


def knob_cli(db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["sandbox", "knob", *args, "--sandbox-db", str(db)])


# ---- the registry


def test_every_simulator_registers_its_knobs_and_defaults_pass_their_validators() -> None:
    known = knobs.registry()
    for name, knob in known.items():
        assert name == knob.name and knob.help
        carrier = name.split(".")[0] if "." in name else None
        assert carrier is None or carrier in SIMULATORS, name
        if knob.default is not None:
            assert knob.check(knob.default) == knob.default, name
    for name in ("latency_ms", "wavix.async_delay_s", "wavix.fail_next", "telnyx.fail_next"):
        assert name in known
    assert {n.split(".")[0] for n in known if "." in n} == set(SIMULATORS)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("wavix.async_delay", "did you mean wavix.async_delay_s"),
        ("wavix.sparse_item", "did you mean wavix.sparse_items"),
        ("latency", "did you mean latency_ms"),
        ("zzz", "`reconciler sandbox knob` lists them all"),
    ],
)
def test_unknown_knob_names_are_refused_with_a_hint(name: str, hint: str) -> None:
    with pytest.raises(knobs.KnobError, match=f"unknown sandbox knob '{name}'") as info:
        knobs.check(name, 1)
    assert hint in str(info.value)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("latency_ms", -1, "at least 0"),
        ("latency_ms", "fast", "expected a number"),
        ("latency_ms", True, "expected a number"),
        ("wavix.async_delay_s", {"destination": 40}, "fields must be among"),
        ("wavix.max_ids", 0, "at least 1"),
        ("wavix.fail_next", [503, "x"], "item 1"),
        ("wavix.fail_next", [{"status": 429, "retry": 1}], "unknown field(s) retry"),
        ("wavix.sparse_items", {"13135550100": {"drop": ["sms_enabled"]}}, "+E.164"),
        ("wavix.sparse_items", {"*": {"drop": ["id"]}}, "unknown field 'id'"),
        ("wavix.sparse_items", {"*": {"hide": ["label"]}}, '"drop"'),
        ("wavix.refuse_inactive", "yes", "true or false"),
        ("wavix.refuse_numbers", ["13135550100"], "+E.164"),
        ("wavix.refusal_status", 500, "one of 400, 422"),
        ("wavix.rate_limit_headers", ["retry_after"], "item 0"),
        ("wavix.rate_window_s", 0, "at least 0.001"),
    ],
)
def test_bad_values_are_refused_saying_what_is_expected(name: str, value: Any, says: str) -> None:
    with pytest.raises(knobs.KnobError, match=f"for knob {name}") as info:
        knobs.check(name, value)
    assert says in str(info.value)


def test_good_values_pass_and_null_removes() -> None:
    assert knobs.check("wavix.fail_next", 503) == [503]  # one fault is a queue of one
    assert knobs.check("wavix.async_delay_s", {"sms_relay_url": 90}) == {"sms_relay_url": 90}
    assert knobs.check("wavix.sparse_items", {"*": {"null": ["destination.transport"]}})
    assert knobs.check("wavix.async_delay_s", None) is None


def test_a_bad_value_set_behind_the_cli_is_ignored_with_a_warning(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.store.set_knob("wavix.max_ids", "lots")  # the store takes any JSON
    with caplog.at_level(logging.WARNING):
        assert sim.knobs.value(sandbox.store, "wavix.max_ids") is None  # its default
    assert 'wavix.max_ids = "lots" ignored' in caplog.text


# ---- the command


def test_knob_command_lists_sets_refuses_and_removes(tmp_path: Path) -> None:
    db = tmp_path / "sb.sqlite3"
    listing = knob_cli(db)
    assert listing.exit_code == 0, listing.output
    assert "wavix.sparse_items (default null)" in listing.output
    assert "telnyx.fail_next" in listing.output and "latency_ms (default 0)" in listing.output

    assert knob_cli(db, "wavix.async_delay_s").output == "wavix.async_delay_s = 1.0\n"
    assert knob_cli(db, "wavix.async_delay_s", "45").output == "wavix.async_delay_s = 45\n"
    assert "wavix.async_delay_s = 45" in knob_cli(db).output

    bad = knob_cli(db, "wavix.async_delay_s", "soon")
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert 'bad value "soon" for knob wavix.async_delay_s' in bad.output
    typo = knob_cli(db, "wavix.async_delay", "5")
    assert typo.exit_code == 1 and "did you mean wavix.async_delay_s?" in typo.output

    assert knob_cli(db, "wavix.async_delay_s", "null").output == "wavix.async_delay_s = 1.0\n"
    store = SandboxStore(db)
    assert store.knobs() == {}  # the refused values never reached the store
    store.close()


def test_a_second_connection_sees_knob_changes_without_reopening(tmp_path: Path) -> None:
    db = tmp_path / "sb.sqlite3"
    reader, writer = SandboxStore(db), SandboxStore(db)
    try:
        assert reader.knob("latency_ms") is None  # cached from here on
        writer.set_knob("latency_ms", 5)
        assert reader.knob("latency_ms") == 5
        writer.set_knob("latency_ms", None)
        assert reader.knob("latency_ms") is None
    finally:
        reader.close()
        writer.close()


# ---- a served sandbox in another process


@pytest.fixture
def served_process(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``reconciler sandbox serve`` in a child process → (Wavix base URL, its database)."""
    db = tmp_path / "served.sqlite3"
    with served(db) as origin:
        yield origin + sim.MOUNT, db


def test_a_served_sandbox_sees_knob_changes_made_while_it_runs(
    served_process: tuple[str, Path],
) -> None:
    base, db = served_process
    headers = {"Authorization": f"Bearer {sim.DEFAULT_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10.0) as client:
        assert client.get("/v1/numbers").status_code == 200  # knobs read and cached
        assert knob_cli(db, "wavix.fail_next", "[503]").exit_code == 0
        assert client.get("/v1/numbers").status_code == 503
        assert client.get("/v1/numbers").status_code == 200  # the queue was popped
        rule = '{"+13135550100": {"null": ["sms_enabled"]}}'
        assert knob_cli(db, "wavix.sparse_items", rule).exit_code == 0
        assert client.get(f"/v1/numbers/{sim.FIRST_ID}").json()["sms_enabled"] is None
        assert knob_cli(db, "wavix.sparse_items", "null").exit_code == 0
        assert client.get(f"/v1/numbers/{sim.FIRST_ID}").json()["sms_enabled"] is True


def test_a_key_knob_is_never_echoed(tmp_path: Path) -> None:
    """Setting, showing or mistyping a knob that holds API keys never prints a key."""
    from click.testing import CliRunner

    from reconciler.cli import main

    env = {"RECONCILER_SANDBOX_DB": str(tmp_path / "sb.sqlite3")}
    outputs = [
        CliRunner().invoke(main, ["sandbox", "knob", "telnyx.keys", *args], env=env).output
        for args in (['["KEYcanary_4f1"]'], [], ['{"KEYcanary_4f1": 1}'])
    ]
    assert "set; not shown" in outputs[1] and "not shown" in outputs[2]
    assert not any("KEYcanary_4f1" in out for out in outputs)
