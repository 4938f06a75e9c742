"""Several bulk operations per carrier (issue 17 part F): Telnyx update jobs, messaging bulk
updates and emergency jobs — the planner's split and per-operation bounds, the YAML rule on
merged emergency settings, unreadable messaging profiles, the saved plan's format, the provider's
calls over the sandbox, and the reviewer's loop on the example with the new fields managed."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from helpers import cli, example_copy, sandbox_provider

from reconciler import carriers, planfile
from reconciler.bounds import optimum
from reconciler.clock import FakeClock
from reconciler.desired import Account, DesiredState, Rule
from reconciler.errors import ConfigError
from reconciler.loader import load
from reconciler.models import LiveNumber
from reconciler.plan import BulkCall, Plan
from reconciler.planner import make_plan, plan_account, split_operations
from reconciler.providers.base import CallStatus
from reconciler.sandbox import Sandbox

SUPPORT_SMS = "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b21"
ALERTS_SMS = "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b32"
CHI, DEN = "1315261609962112019", "1315261609962112027"
TELNYX = carriers.get("telnyx")


def _state(rules: list[Rule]) -> DesiredState:
    config = TELNYX.config_model.model_validate({"type": "telnyx", "sandbox": True})
    return DesiredState({"t": Account("t", config, "p.yaml:1")}, {"t": rules}, ("p.yaml",))


def _live(i: int, **settings: Any) -> LiveNumber:
    base = {"tags": [], "messaging_profile_id": "", "emergency_enabled": False}
    base["emergency_address_id"] = ""
    return LiveNumber(f"id{i}", f"+1555000{i:04d}", "active", {**base, **settings})


def _rule(selector: str, **settings: Any) -> Rule:
    return Rule("t", selector, not selector.endswith("*"), settings, ["n.yaml:3"])


# ---- the carrier record


def test_every_telnyx_field_belongs_to_exactly_one_operation() -> None:
    names = [op.name for op in TELNYX.ops]
    assert names == ["update_phone_numbers", "messaging_bulk_update", "update_emergency_settings"]
    owners = {p: TELNYX.operation_of(p).name for p in TELNYX.field_paths}
    assert owners["messaging_profile_id"] == "messaging_bulk_update"
    assert owners["emergency_address_id"] == owners["emergency_enabled"]
    assert owners["emergency_enabled"] == "update_emergency_settings"
    primary = {p for p, o in owners.items() if o == "update_phone_numbers"}
    assert primary >= {"tags", "connection_id"}
    # Wavix keeps its one operation, made of the record's own fields
    wavix = carriers.get("wavix")
    assert [(o.name, o.label) for o in wavix.ops] == [("wavix", "PATCH /v1/numbers")]


# ---- the planner


def test_a_number_changing_profile_and_address_costs_one_call_in_each() -> None:
    want = {"messaging_profile_id": SUPPORT_SMS, "emergency_enabled": True}
    want["emergency_address_id"] = CHI
    state = _state([_rule("+1555*", tags=["a"], **want)])
    live = [
        _live(1, messaging_profile_id=ALERTS_SMS, emergency_enabled=True, emergency_address_id=DEN),
        _live(2, tags=["a"], emergency_enabled=True, emergency_address_id=DEN),
        _live(
            3,
            tags=["b"],
            messaging_profile_id=SUPPORT_SMS,
            emergency_enabled=True,
            emergency_address_id=CHI,
        ),
    ]
    summary, changes, calls = plan_account("t", "telnyx", state, live)
    by_op = {c.operation: c for c in calls}
    assert set(by_op) == {None, "messaging_bulk_update", "update_emergency_settings"}
    assert by_op[None].ids == ("id1", "id3") and by_op[None].patch == {"tags": ["a"]}
    assert by_op["messaging_bulk_update"].ids == ("id1", "id2")
    assert by_op["messaging_bulk_update"].e164s == ("+15550000001", "+15550000002")
    # only the address differs, yet the emergency job carries emergency_enabled (required)
    assert by_op["update_emergency_settings"].patch == {
        "emergency_enabled": True,
        "emergency_address_id": CHI,
    }
    assert by_op["update_emergency_settings"].ids == ("id1", "id2")
    assert [(o.operation, o.changed, o.calls, o.lower_bound) for o in summary.operations] == [
        ("update_phone_numbers", 2, 1, 1),
        ("messaging_bulk_update", 2, 1, 1),
        ("update_emergency_settings", 2, 1, 1),
    ]
    assert summary.calls == 3 and summary.lower_bound == 3
    # the number's change lists only the fields that differ, enabled was already true
    one = next(c for c in changes if c.id == "id1")
    assert [f.field for f in one.changes] == [
        "tags",
        "messaging_profile_id",
        "emergency_address_id",
    ]


def test_one_profile_per_messaging_call_and_the_batch_option() -> None:
    rules = [
        _rule(f"+1555000{i:04d}", messaging_profile_id=p)
        for i, p in enumerate([SUPPORT_SMS, SUPPORT_SMS, ALERTS_SMS, SUPPORT_SMS])
    ]
    state = _state(rules)
    live = [_live(i) for i in range(4)]
    _, _, calls = plan_account("t", "telnyx", state, live, limits={"messaging_bulk_update": 2})
    assert sorted((c.patch["messaging_profile_id"], len(c.ids)) for c in calls) == sorted(
        [(ALERTS_SMS, 1), (SUPPORT_SMS, 1), (SUPPORT_SMS, 2)]
    )
    assert all(c.operation == "messaging_bulk_update" for c in calls)


def test_old_fields_only_plan_carries_no_operation_keys() -> None:
    state = _state([_rule("+1555*", tags=["a"])])
    summary, _, calls = plan_account("t", "telnyx", state, [_live(1)])
    plan = Plan((summary,), (), tuple(calls))
    data = plan.to_dict()
    assert "operations" not in data["accounts"][0] and "unreadable" not in data["accounts"][0]
    assert all("operation" not in c for c in data["calls"])


def test_unreadable_messaging_profile_is_never_planned_and_is_counted() -> None:
    state = _state([_rule("+1555*", messaging_profile_id=SUPPORT_SMS, tags=["a"])])
    live = [_live(1, messaging_profile_id="UNAVAILABLE"), _live(2)]
    summary, changes, calls = plan_account("t", "telnyx", state, live)
    messaging = [c for c in calls if c.operation == "messaging_bulk_update"]
    assert [c.ids for c in messaging] == [("id2",)]  # not id1: its profile is unknown
    assert summary.unreadable == (("messaging_profile_id", 1),)
    assert [f.field for f in next(c for c in changes if c.id == "id1").changes] == ["tags"]


def _random_instance(rng: random.Random) -> tuple[list[Rule], list[LiveNumber]]:
    profiles = [SUPPORT_SMS, ALERTS_SMS, ""]
    rules = []
    live = []
    for i in range(rng.randint(2, 7)):
        want: dict[str, Any] = {"messaging_profile_id": rng.choice(profiles)}
        if rng.random() < 0.5:
            want["tags"] = [rng.choice("ab")]
        if rng.random() < 0.7:
            enabled = rng.random() < 0.7
            want["emergency_enabled"] = enabled
            if enabled:
                want["emergency_address_id"] = rng.choice([CHI, DEN])
        rules.append(_rule(f"+1555000{i:04d}", **want))
        live.append(
            _live(
                i,
                tags=[rng.choice("ab")],
                messaging_profile_id=rng.choice(profiles),
                emergency_enabled=rng.random() < 0.5,
                emergency_address_id=rng.choice([CHI, DEN, ""]),
            )
        )
    return rules, live


@pytest.mark.parametrize("seed", range(40))
def test_per_operation_grouping_against_the_exhaustive_optimum(seed: int) -> None:
    rng = random.Random(seed)
    rules, live = _random_instance(rng)
    limit = rng.choice([1, 2, 3, 1000])
    state = _state(rules)
    summary, _, calls = plan_account(
        "t",
        "telnyx",
        state,
        live,
        limit=limit,
        limits={"messaging_bulk_update": limit, "update_emergency_settings": limit},
    )
    # rebuild the per-operation members as the planner sees them, for the exhaustive optimum
    from reconciler.planner import Changed, diff_number

    resolver = state.resolver("t")
    changed = []
    for n in live:
        want = resolver.desired(n.e164)
        assert want is not None
        required = diff_number(want, n.settings)
        if required:
            changed.append(Changed(n.id, n.e164, required, want, n.settings))
    parts = split_operations(changed, TELNYX)
    rows = summary.operations or ()
    for index, members in enumerate(parts):
        best = optimum(members, limit) if members else 0
        mine = [c for c in calls if c.operation == (None if index == 0 else TELNYX.ops[index].name)]
        assert len(mine) >= best  # no plan beats the optimum
        if rows:
            assert rows[index].lower_bound <= best <= rows[index].calls == len(mine)
        for c in mine:  # every call valid: each member's desired settings hold its patch
            assert len(c.ids) <= limit
            for id_ in c.ids:
                member = next(m for m in members if m.id == id_)
                assert all(member.desired.get(k) == v for k, v in c.patch.items())
    assert summary.lower_bound <= len(calls)


# ---- YAML: the merged emergency rule


def _config(tmp_path: Path, numbers: str) -> Path:
    (tmp_path / "c.yaml").write_text(
        "providers:\n  t:\n    type: telnyx\n    sandbox: true\n"
        "profiles:\n  e911:\n    emergency_enabled: true\n"
        f"    emergency_address_id: '{CHI}'\n"
        "numbers:\n" + numbers
    )
    return tmp_path / "c.yaml"


def test_an_override_disabling_emergency_under_a_profile_address_is_an_error_at_its_line(
    tmp_path: Path,
) -> None:
    path = _config(
        tmp_path,
        "  - {provider: t, number: '+1312736*', profile: e911}\n"
        "  - provider: t\n    number: '+13127367200'\n    settings: {emergency_enabled: false}\n",
    )
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    text = str(info.value)
    assert "+13127367200 (t): emergency_address_id" in text
    assert "emergency_enabled is false" in text and "emergency_address_id: null" in text
    assert f"{path}:10" in text  # the prefix entry that set the address, merged with line 11


def test_null_address_in_the_disabling_entry_is_accepted(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        "  - {provider: t, number: '+1312736*', profile: e911}\n"
        "  - provider: t\n    number: '+13127367200'\n"
        "    settings: {emergency_enabled: false, emergency_address_id: null}\n",
    )
    state = load(path, env={})
    merged = state.resolver("t").desired("+13127367200")
    assert merged is not None
    assert (merged["emergency_enabled"], merged["emergency_address_id"]) == (False, "")


def test_enabled_without_an_address_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "providers:\n  t:\n    type: telnyx\n    sandbox: true\n"
        "numbers:\n  - provider: t\n    number: '+13127367200'\n"
        "    settings: {emergency_enabled: true}\n"
    )
    with pytest.raises(ConfigError, match=r"c\.yaml:6.*no emergency_address_id"):
        load(path, env={})


# ---- saved plans


def test_a_saved_plan_with_operation_calls_is_format_2_and_keeps_them() -> None:
    call = BulkCall(
        "t",
        "telnyx",
        {"messaging_profile_id": SUPPORT_SMS},
        ("a",),
        ("+15550000001",),
        "messaging_bulk_update",
    )
    plan = Plan((), (), (call,))
    assert planfile.format.format_of(plan) == 2
    assert planfile.format.format_of(Plan((), (), (BulkCall("t", "telnyx", {}, ("a",)),))) == 1
    assert Plan.from_dict(plan.to_dict()).calls[0].operation == "messaging_bulk_update"


# ---- the provider over the sandbox


async def test_messaging_order_failures_carry_no_reason_and_are_retryable(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    provider = sandbox_provider(sandbox, "telnyx", clock=clock)
    try:
        numbers = (await provider.fetch_all())[:3]
        sandbox.store.set_knob("telnyx.fail_numbers", [numbers[1].e164])
        call = BulkCall(
            provider.account,
            "telnyx",
            {"messaging_profile_id": SUPPORT_SMS},
            tuple(n.id for n in numbers),
            tuple(n.e164 for n in numbers),
            "messaging_bulk_update",
        )
        result = await provider.apply(call)
        after = {n.id: n for n in await provider.fetch([n.id for n in numbers])}
    finally:
        await provider.aclose()
    assert result.status is CallStatus.PARTIAL and result.job_id
    assert list(result.failed) == [numbers[1].id]
    assert "(the carrier gives no reason)" in result.failed[numbers[1].id]
    assert result.retry == frozenset({numbers[1].id})
    assert after[numbers[0].id].settings["messaging_profile_id"] == SUPPORT_SMS
    assert after[numbers[1].id].settings["messaging_profile_id"] != SUPPORT_SMS


async def test_emergency_job_sends_the_address_only_when_enabling(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    provider = sandbox_provider(sandbox, "telnyx", clock=clock)
    try:
        numbers = (await provider.fetch_all())[:2]
        ids = tuple(n.id for n in numbers)
        e164s = tuple(n.e164 for n in numbers)
        on = await provider.apply(
            BulkCall(
                provider.account,
                "telnyx",
                {"emergency_enabled": True, "emergency_address_id": DEN},
                ids,
                e164s,
                "update_emergency_settings",
            )
        )
        mid = {n.id: n.settings for n in await provider.fetch(list(ids))}
        off = await provider.apply(
            BulkCall(
                provider.account,
                "telnyx",
                {"emergency_enabled": False, "emergency_address_id": ""},
                ids,
                e164s,
                "update_emergency_settings",
            )
        )
        end = {n.id: n.settings for n in await provider.fetch(list(ids))}
        jobs = [
            json.loads(r[0])
            for r in sandbox.store.conn.execute("SELECT doc FROM telnyx_jobs ORDER BY seq")
        ]
    finally:
        await provider.aclose()
    assert on.status is CallStatus.OK and off.status is CallStatus.OK, (on, off)
    assert all(s["emergency_address_id"] == DEN and s["emergency_enabled"] for s in mid.values())
    assert all(not s["emergency_enabled"] for s in end.values())
    assert [j.get("type") for j in jobs[-2:]] == ["update_emergency_settings"] * 2


# ---- the reviewer's loop on the example, with the new fields managed


def _example_with_new_fields(tmp_path: Path) -> Path:
    # The shipped example manages the messaging profile and emergency settings itself (issue 17
    # step 6), with the default rails: the loop runs on it unchanged.
    dest = example_copy(tmp_path, poll_interval_s=0.05)
    text = (dest / "profiles.yaml").read_text()
    assert f"messaging_profile_id: {SUPPORT_SMS}" in text
    assert f'emergency_address_id: "{CHI}"' in text
    return dest


def test_reviewers_loop_covers_the_three_operations(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite3"
    config = _example_with_new_fields(tmp_path)
    saved = tmp_path / "plan.json"
    made = cli(db, "plan", config, "-o", saved)
    assert made.exit_code in (0, 2), made.output
    doc = json.loads(saved.read_text())
    assert doc["format_version"] == 2
    ops = {c.get("operation") for c in doc["plan"]["calls"] if c["carrier"] == "telnyx"}
    assert ops == {None, "messaging_bulk_update", "update_emergency_settings"}
    shown = cli(db, "show", saved, "--format", "markdown")
    for label in (
        "POST /phone_numbers/jobs/update_phone_numbers",
        "POST /messaging_numbers_bulk_updates",
        "POST /phone_numbers/jobs/update_emergency_settings",
        "update_emergency_settings: 2 numbers, 1 call (lower bound 1",
    ):
        assert label in shown.stdout, shown.stdout
    applied = cli(db, "apply", saved)
    assert applied.exit_code == 0, applied.output
    drift = cli(db, "drift", config)
    assert drift.exit_code == 0, drift.output
    assert "No drift" in drift.stdout


def test_make_plan_uses_the_accounts_messaging_batch(tmp_path: Path) -> None:
    config = TELNYX.config_model.model_validate(
        {"type": "telnyx", "sandbox": True, "messaging_max_batch": 1}
    )
    rules = [_rule(f"+1555000{i:04d}", messaging_profile_id=SUPPORT_SMS) for i in range(3)]
    state = DesiredState({"t": Account("t", config, "p:1")}, {"t": rules}, ())
    plan = make_plan(state, {"t": [_live(i) for i in range(3)]})
    assert [len(c.ids) for c in plan.calls] == [1, 1, 1]
    assert plan.accounts[0].operations[1].max_batch == 1
