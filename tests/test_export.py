"""``reconciler export``: the YAML resolves back to the live account exactly (plan shows zero
changes), is small, readable and safe. Accounts are built in the in-process sandbox."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import EXAMPLE, REPO
from helpers import sandbox_provider
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.carriers import field_paths
from reconciler.cli import main
from reconciler.errors import ConfigError
from reconciler.export import choose_fields, export_account, loader_expands_env, summary
from reconciler.export.document import profile_names
from reconciler.export.factoring import factor
from reconciler.export.table import Table, setting_lines
from reconciler.loader import load
from reconciler.models import LiveNumber
from reconciler.runner import open_accounts, plan_accounts
from reconciler.sandbox import SIMULATORS, Sandbox
from reconciler.sandbox.store import SandboxStore
from reconciler.sandbox.telnyx.number import new_number
from reconciler.sandbox.telnyx.tables import insert_numbers
from reconciler.sandbox.wavix.number import make_number, response_destinations
from reconciler.sandbox.wavix.seed import bulk_insert

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCHEMA = json.loads((REPO / "docs" / "config.schema.json").read_text())


# --------------------------------------------------------------------------------------------
# Building accounts in the sandbox


def empty_sandbox() -> Sandbox:
    sb = Sandbox(SandboxStore(":memory:"))
    with sb.store.transaction() as conn:
        for sim in SIMULATORS.values():
            for table in sim.TABLES:
                conn.execute(f"DELETE FROM {table}")
    return sb


def add_wavix(sb: Sandbox, numbers: list[tuple[str, dict[str, Any]]]) -> None:
    """(e164, make_number fields) → rows; destinations get ids."""
    ids = iter(range(900_000, 10_000_000)).__next__
    rows = []
    for k, (e164, fields) in enumerate(numbers):
        fields = dict(fields)
        fields["destination"] = response_destinations(fields.get("destination") or [], [], ids)
        rows.append(make_number(500_001 + k, e164.lstrip("+"), **fields))
    bulk_insert(sb.store, rows)


def add_telnyx(sb: Sandbox, numbers: list[tuple[str, dict[str, Any]]]) -> None:
    rows = []
    for ordinal, (e164, fields) in enumerate(numbers, start=1):
        detailed, voice = new_number(ordinal, e164, **json.loads(json.dumps(fields)))
        rows.append(
            (
                ordinal,
                detailed["id"],
                e164,
                detailed["status"],
                json.dumps(detailed),
                json.dumps(voice),
            )
        )
    with sb.store.transaction() as conn:
        insert_numbers(conn, rows)


async def _fetch(sb: Sandbox, carrier: str) -> list[LiveNumber]:
    provider = sandbox_provider(sb, carrier, account="acct")
    try:
        return await provider.fetch_all()
    finally:
        await provider.aclose()


def fetch(sb: Sandbox, carrier: str) -> list[LiveNumber]:
    return asyncio.run(_fetch(sb, carrier))


def export(sb: Sandbox, carrier: str, fields: list[str] | None = None, **kw: Any) -> Any:
    live = fetch(sb, carrier)
    provider = {"type": carrier, "sandbox": True}
    return export_account(
        "acct", carrier, provider, live, fields or field_paths(carrier), now=NOW, **kw
    )


def plan_of(sb: Sandbox, config: Path, env: dict[str, str] | None = None) -> Any:
    async def go() -> Any:
        state = load(config, env=env)
        async with open_accounts(state, accounts=list(state.accounts), sandbox=sb) as providers:
            return await plan_accounts(state, providers)

    return asyncio.run(go())


def assert_round_trip(sb: Sandbox, text: str, tmp: Path, env: dict[str, str] | None = None) -> Any:
    """The exported YAML validates (loader and JSON Schema) and plans zero changes, with the
    secret variables it names exported (``env``), as a user would."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "acct.yaml"
    path.write_text(text)
    jsonschema.validate(yaml.safe_load(text), SCHEMA)
    plan = plan_of(sb, path, env)
    assert not plan.has_changes, [c.e164 for c in plan.changes][:5]
    assert not plan.missing
    assert all(not a.not_patchable for a in plan.accounts)
    return plan


# --------------------------------------------------------------------------------------------
# Round trip: property test on randomised accounts, both carriers

BLOCKS = ["+1248200", "+1248201", "+1313209", "+1415300", "+1650555"]
WAVIX_PROFILES: list[dict[str, Any]] = [
    {
        "sms_enabled": True,
        "sms_relay_url": "https://hooks.example.com/sms",
        "destination": [{"destination": "sip:in@pbx.example.com", "priority": 1, "transport": 1}],
        "call_recording_enabled": True,
        "call_status_url": "https://hooks.example.com/calls",
    },
    {"destination": [{"destination": "+12125550000", "priority": 1, "transport": 4}]},
    {"transcription_enabled": True, "transcription_threshold": 45},
]
WAVIX_NOISE: list[dict[str, Any]] = [
    {"sms_enabled": False},
    {"sms_relay_url": None},
    {"sms_relay_url": "https://hooks.example.com/other"},
    {"destination": []},
    {"destination": [{"destination": "32882", "priority": 1, "transport": 5, "trunk_id": 3107}]},
    {"call_recording_enabled": False},
    {"transcription_threshold": 10},
    {"call_status_url": None},
]
TELNYX_PROFILES: list[dict[str, Any]] = [
    {
        "tags": ["support", "chicago"],
        "connection_id": "1684641123236054244",
        "customer_reference": "support",
        "hd_voice_enabled": True,
        "voice": {
            "call_forwarding": {"forwarding_type": "on-failure", "forwards_to": "+13125550100"}
        },
    },
    {"tags": ["fax"], "deletion_lock_enabled": True, "voice": {"usage_payment_method": "channel"}},
    {
        "tags": [],
        "external_pin": "4417",
        "voice": {"cnam_listing": {"cnam_listing_enabled": True, "cnam_listing_details": "ACME"}},
    },
]
TELNYX_NOISE: list[dict[str, Any]] = [
    {"tags": ["support"]},
    {"tags": ["vip", "support", "chicago"]},
    {"customer_reference": "other"},
    {"hd_voice_enabled": False},
    {"external_pin": "9921"},
    {"voice": {"call_forwarding": {"forwards_to": "+13125550199"}}},
    {"voice": {"inbound_call_screening": "reject_calls"}},
    {"status": "port-pending"},
]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@st.composite
def accounts(draw: st.DrawFn, carrier: str) -> list[tuple[str, dict[str, Any]]]:
    profiles, noise = (
        (WAVIX_PROFILES, WAVIX_NOISE) if carrier == "wavix" else (TELNYX_PROFILES, TELNYX_NOISE)
    )
    blocks = draw(st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=3, unique=True))
    numbers: list[tuple[str, dict[str, Any]]] = []
    for prefix in blocks:
        base = draw(st.sampled_from(profiles))
        lines = draw(st.sets(st.integers(0, 120), min_size=1, max_size=25))
        for line in sorted(lines):
            fields = base
            for extra in draw(st.lists(st.sampled_from(noise), max_size=2)):
                fields = _merge(fields, extra)
            numbers.append((f"{prefix}{line:04d}", fields))
    return numbers


@pytest.mark.parametrize("carrier", ["wavix", "telnyx"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_round_trip_random_accounts(carrier: str, data: st.DataObject, tmp_path: Path) -> None:
    numbers = data.draw(accounts(carrier))
    sb = empty_sandbox()
    try:
        (add_wavix if carrier == "wavix" else add_telnyx)(sb, numbers)
        result = export(sb, carrier)
        plan = assert_round_trip(sb, result.text, tmp_path / "rt", result.secret_env)
        assert plan.in_sync == result.managed
        assert plan.unmanaged == result.numbers - result.managed
        assert "4417" not in result.text and "9921" not in result.text
        assert result.lines <= result.flat_lines
    finally:
        sb.close()


# --------------------------------------------------------------------------------------------
# The shipped example account, through the CLI as a user runs it


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.sqlite3"
    Sandbox.open(path).close()
    return path


def cli(db: Path, *args: Any) -> Result:
    return CliRunner().invoke(
        main,
        [str(a) for a in args],
        env={"RECONCILER_SANDBOX_DB": str(db), "NO_COLOR": "1", **pins(db)},
        catch_exceptions=False,
    )


def pins(db: Path) -> dict[str, str]:
    """The secret variables an export of the example Telnyx account names, with the live PINs
    (what a user copies from their secret store before running plan)."""
    sb = Sandbox.open(db)
    try:
        live = fetch(sb, "telnyx")
    finally:
        sb.close()
    provider = {"type": "telnyx", "sandbox": True}
    fields = field_paths("telnyx")
    return export_account("telnyx-main", "telnyx", provider, live, fields, verify=False).secret_env


def test_example_account_round_trip_cli(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "adopted"
    exported = cli(db, "export", EXAMPLE, "-o", out)
    assert exported.exit_code == 0, exported.output
    assert "wavix-main (wavix): 60 numbers" in exported.output
    assert "telnyx-main (telnyx): 46 numbers" in exported.output
    assert sorted(p.name for p in out.iterdir()) == ["telnyx-main.yaml", "wavix-main.yaml"]
    for file in out.iterdir():
        jsonschema.validate(yaml.safe_load(file.read_text()), SCHEMA)
    assert cli(db, "validate", out).exit_code == 0
    plan = cli(db, "plan", out, "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "No changes." in plan.output
    wavix = (out / "wavix-main.yaml").read_text()
    assert 'number: "+1313555010*"  # 10 numbers' in wavix and "pbx-detroit" in wavix
    telnyx = (out / "telnyx-main.yaml").read_text()
    assert "+13127367227 (port-pending)" in telnyx  # listed, not managed
    assert "4417" not in telnyx  # the seeded PIN


def test_quick_start_prints_yaml_that_plans_clean(db: Path, tmp_path: Path) -> None:
    result = cli(db, "export", "--type", "wavix", "--sandbox", "--provider", "mine")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("# Exported by reconciler export from account mine (wavix)")
    assert "mine (wavix): 60 numbers" in result.stderr
    (tmp_path / "mine.yaml").write_text(text)
    assert cli(db, "plan", tmp_path / "mine.yaml", "--detailed-exitcode").exit_code == 0


def test_reexport_is_stable_and_overwrites_only_its_own_files(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "adopted"
    assert cli(db, "export", EXAMPLE, "--provider", "wavix-main", "-o", out).exit_code == 0
    first = (out / "wavix-main.yaml").read_text()
    assert cli(db, "export", EXAMPLE, "--provider", "wavix-main", "-o", out).exit_code == 0
    second = (out / "wavix-main.yaml").read_text()
    assert first.splitlines()[1:] == second.splitlines()[1:]  # only the export time differs

    (out / "wavix-main.yaml").write_text("# my own file\n")
    refused = cli(db, "export", EXAMPLE, "--provider", "wavix-main", "-o", out)
    assert refused.exit_code == 1 and "was not written by export" in refused.output


def test_refuses_a_directory_that_already_manages_the_account(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE, config)
    result = cli(db, "export", config, "--provider", "wavix-main", "-o", config)
    assert result.exit_code == 1
    assert "already has numbers entries for wavix-main" in result.output


def test_export_beside_a_providers_file_does_not_redeclare_the_account(
    db: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(EXAMPLE / "providers.yaml", config / "providers.yaml")
    assert cli(db, "export", config, "--provider", "telnyx-main", "-o", config).exit_code == 0
    assert "providers:" not in (config / "telnyx-main.yaml").read_text()
    assert cli(db, "plan", config, "--detailed-exitcode").exit_code == 0


# --------------------------------------------------------------------------------------------
# Fields, secrets, non-patchable numbers


@pytest.fixture
def seeded() -> Iterator[Sandbox]:
    sb = Sandbox(SandboxStore(":memory:"))
    yield sb
    sb.close()


def test_fields_choose_what_is_managed(seeded: Sandbox, tmp_path: Path) -> None:
    fields = choose_fields("telnyx", "tags, voice.call_forwarding")
    assert fields == [
        "tags",
        "voice.call_forwarding.call_forwarding_enabled",
        "voice.call_forwarding.forwarding_type",
        "voice.call_forwarding.forwards_to",
    ]
    result = export(seeded, "telnyx", fields)
    assert (
        "# Managed fields (4): tags, voice.call_forwarding.call_forwarding_enabled" in result.text
    )
    assert "hd_voice_enabled" not in result.text and "connection_id" not in result.text
    assert_round_trip(seeded, result.text, tmp_path)


def test_unknown_field_is_an_error_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="did you mean 'sms_enabled'"):
        choose_fields("wavix", "sms_enable")


def test_secret_is_never_written(seeded: Sandbox, tmp_path: Path) -> None:
    result = export(seeded, "telnyx")
    assert "4417" not in result.text
    if loader_expands_env("telnyx", "external_pin"):
        assert "${ACCT_EXTERNAL_PIN_1}" in result.text and result.variables
    else:
        assert result.secret_unmanaged == ["external_pin"]
        assert "external_pin" not in yaml.safe_load(result.text)["profiles"].__repr__()
        assert "# Not managed: external_pin (secret" in result.text
    assert_round_trip(seeded, result.text, tmp_path, result.secret_env)


def test_secrets_as_references_name_variables_never_values(seeded: Sandbox) -> None:
    """The path export takes once the loader expands ${VAR} in settings (checked without the
    loader: today it would read the reference literally)."""
    result = export(seeded, "telnyx", secret_refs=True, verify=False)
    assert "4417" not in result.text
    assert result.variables == {"ACCT_EXTERNAL_PIN_1": 1}
    assert "external_pin: ${ACCT_EXTERNAL_PIN_1}" in result.text
    assert "#   ACCT_EXTERNAL_PIN_1  (1 number)" in result.text


def test_non_patchable_numbers_are_listed_and_never_selected(seeded: Sandbox) -> None:
    result = export(seeded, "telnyx")
    assert result.not_patchable == [
        ("+13127367227", "port-pending"),
        ("+16505550105", "port-out-pending"),
    ]
    assert "#   +13127367227 (port-pending), +16505550105 (port-out-pending)" in result.text
    selectors = [e["number"] for e in yaml.safe_load(result.text)["numbers"]]
    for e164, _ in result.not_patchable:
        assert not any(selects(s, e164) for s in selectors), e164


def selects(selector: str, e164: str) -> bool:
    return e164.startswith(selector[:-1]) if selector.endswith("*") else selector == e164


def test_null_values_stay_unmanaged_on_their_numbers(tmp_path: Path) -> None:
    sb = empty_sandbox()
    url = "https://hooks.example.com/sms"
    add_wavix(
        sb,
        [
            (f"+1248200{i:04d}", {"sms_enabled": True, "sms_relay_url": None if i == 5 else url})
            for i in range(10)
        ],
    )
    result = export(sb, "wavix")
    doc = yaml.safe_load(result.text)
    assert result.unwritable["sms_relay_url"] == 1
    # No rule that selects +12482000005 may set sms_relay_url: the prefix stops short of it.
    assert "+12482000005" in [e["number"] for e in doc["numbers"]]
    assert_round_trip(sb, result.text, tmp_path)
    sb.close()


# --------------------------------------------------------------------------------------------
# Factoring: size and shape


def test_blocks_become_prefix_rules_and_most_common_value_wins(tmp_path: Path) -> None:
    sb = empty_sandbox()
    a = {"sms_enabled": True, "call_recording_enabled": True}
    b = {"destination": [{"destination": "+12125550000", "priority": 1, "transport": 4}]}
    numbers = [
        (f"+1248200{i:04d}", {**a, "transcription_threshold": 60 if i % 7 == 3 else 30})
        for i in range(40)
    ]
    numbers += [(f"+1313209{i:04d}", b) for i in range(40)]
    add_wavix(sb, numbers)
    result = export(sb, "wavix")
    doc = yaml.safe_load(result.text)
    entries = {e["number"]: e for e in doc["numbers"]}
    assert set(entries) >= {"+124820000*", "+131320900*"}
    assert entries["+12482000003"]["settings"] == {"transcription_threshold": 60}
    profile = doc["profiles"][entries["+124820000*"]["profile"]]
    assert profile["transcription_threshold"] == 30 and profile["sms_enabled"] is True
    assert result.flat_lines >= 10 * result.lines
    assert_round_trip(sb, result.text, tmp_path)
    sb.close()


def test_empty_account_exports_a_valid_file(tmp_path: Path) -> None:
    sb = empty_sandbox()
    result = export(sb, "wavix")
    assert result.numbers == 0 and "numbers: []" in result.text
    assert_round_trip(sb, result.text, tmp_path)
    sb.close()


def test_cost_model_counts_the_lines_written(seeded: Sandbox) -> None:
    """What the factoring minimises is what the file holds: its model of profile and entry lines
    equals the file's lines but for the section headers."""
    for carrier in ("wavix", "telnyx"):
        result = export(seeded, carrier)
        headers = 4 + 1 + 1  # providers: / acct: / type: / sandbox:, profiles:, numbers:
        assert result.model_lines + headers == result.lines
        doc = yaml.safe_load(result.text)
        assert len(doc["profiles"]) == result.profiles and len(doc["numbers"]) == result.entries


def test_factor_small_table() -> None:
    """Two fields of one line each. Value id 0: cannot be written; signature None: not patchable."""
    table = Table(
        lines=[[0, 1, 1], [0, 1]],
        parents=[0, 0],
        numbers=[(f"+1248200000{i}", (1, 1)) for i in range(6)]
        + [("+12482000006", (2, 1)), ("+12482000007", (1, 0)), ("+12482000008", None)],
    )
    result = factor(table)
    rules = {r.selector: r for r in result.rules}
    # the block cannot be one prefix: +12482000007 cannot have field 1 set, +12482000008 nothing
    assert not any(s.endswith("*") and "+12482000008".startswith(s[:-1]) for s in rules)
    assert not any(
        s.endswith("*") and "+12482000007".startswith(s[:-1]) and rules[s].profile is not None
        for s in rules
    )
    assert rules["+12482000007"].inline == {0: 1}
    assert setting_lines(table, {0: 1, 1: 1}) == 2
    assert setting_lines(Table([[0, 1], [0, 3]], [1, 1], []), {0: 1, 1: 1}) == 5  # + "voice:"


def test_scattered_near_identical_numbers_get_overrides_not_a_profile(tmp_path: Path) -> None:
    sb = empty_sandbox()
    base = {"sms_enabled": True, "call_recording_enabled": True, "transcription_threshold": 30}
    numbers = [
        (f"+1248200{i:04d}", {**base, "call_recording_enabled": i % 10 != 7}) for i in range(300)
    ]
    add_wavix(sb, numbers)
    result = export(sb, "wavix")
    doc = yaml.safe_load(result.text)
    assert len(doc["profiles"]) == 1
    overrides = [e for e in doc["numbers"] if e.get("settings")]
    assert len(overrides) == 30
    assert all(e["settings"] == {"call_recording_enabled": False} for e in overrides)
    assert_round_trip(sb, result.text, tmp_path)
    sb.close()


def test_profile_names_are_readable_unique_and_avoid_taken_names() -> None:
    profiles = [
        {"sms_enabled": True, "call_recording_enabled": False},
        {"sms_enabled": False, "call_recording_enabled": False},
        {"sms_enabled": True, "call_recording_enabled": True},
    ]
    names = profile_names(profiles, ["sms_enabled", "call_recording_enabled"])
    assert names == ["sms-on-rec-off", "sms-off-rec-off", "sms-on-rec-on"]
    again = profile_names(
        profiles, ["sms_enabled", "call_recording_enabled"], taken={"sms-on-rec-off"}
    )
    assert len(set(again)) == 3 and "sms-on-rec-off" not in again
    assert profile_names(
        [{"destinations": [{"destination": "+12125550000"}]}], ["destinations"]
    ) == ["to-12125550000"]


# --------------------------------------------------------------------------------------------
# Values the carrier could not read (issue 17)


@pytest.mark.parametrize("lookup", ["unavailable", True])
def test_unreadable_messaging_profile_is_left_out_never_written(
    seeded: Sandbox, tmp_path: Path, lookup: Any
) -> None:
    """A messaging profile lookup that failed (the listing reads ``UNAVAILABLE``, or leaves the
    field out) is not a value: export must not write ``UNAVAILABLE`` as the desired profile
    (the next plan would then try to assign a profile called UNAVAILABLE once the lookup works)."""
    assert any(n.settings["messaging_profile_id"] for n in fetch(seeded, "telnyx"))
    seeded.store.set_knob("telnyx.messaging_profile_error", lookup)
    live = fetch(seeded, "telnyx")
    blind = [
        n.e164 for n in live if n.patchable and n.settings["messaging_profile_id"] == "UNAVAILABLE"
    ]
    assert blind
    result = export(seeded, "telnyx")
    assert "UNAVAILABLE" not in result.text
    assert result.unreadable == {"messaging_profile_id": len(blind)}
    assert f"{len(blind)} numbers: messaging_profile_id unreadable at the carrier, left out" in (
        "\n".join(summary(result))
    )
    assert "# Left out where the carrier could not read the value (not managed there):\n" in (
        result.text
    )
    # No entry that selects a blind number sets its profile; the others still manage it.
    state_dir = tmp_path / "cfg"
    plan = assert_round_trip(seeded, result.text, state_dir, result.secret_env)
    assert not plan.accounts[0].unreadable  # the file never asks for what cannot be read
    resolver = load(state_dir / "acct.yaml", env=result.secret_env).resolver("acct")
    for e164 in blind:
        assert "messaging_profile_id" not in (resolver.desired(e164) or {}), e164


def test_a_live_state_the_config_rule_refuses_is_left_out(seeded: Sandbox) -> None:
    """The carrier shows a number with E911 disabled and an address still set (found by the
    generated-answers test): a config may not declare that (``Carrier.check``), so export must
    not write it; the address is left unmanaged on that number and reported, the file loads."""
    live = fetch(seeded, "telnyx")
    odd = next(n for n in live if n.patchable)
    odd.settings = {**odd.settings, "emergency_enabled": False, "emergency_address_id": "0"}
    fields = field_paths("telnyx")
    result = export_account("acct", "telnyx", {"type": "telnyx", "sandbox": True}, live, fields)
    assert result.refused.get("emergency_address_id") == 1
    assert "E911 disabled" in "\n".join(summary(result))
    assert "emergency_address_id: '0'" not in result.text
