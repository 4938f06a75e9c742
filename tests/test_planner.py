"""Planner table tests: diff, grouping into bulk calls, reporting."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.config import ProviderConfig
from reconciler.desired import Account, DesiredState, Rule
from reconciler.models import LiveNumber
from reconciler.planner import plan_account

WX = "wx"


def state(
    *rules: tuple[str, dict[str, Any]], carrier: str = "wavix", grouping: str = "cover"
) -> DesiredState:
    config = ProviderConfig(type=carrier, sandbox=True, grouping=grouping)  # type: ignore[arg-type]
    return DesiredState(
        accounts={WX: Account(WX, config, "t.yaml:1")},
        rules={
            WX: [Rule(WX, sel, not sel.endswith("*"), dict(s), ["t.yaml:1"]) for sel, s in rules]
        },
        files=("t.yaml",),
    )


def live(
    i: int,
    prefix: str = "+1313555",
    status: str = "active",
    patchable: bool = True,
    **settings: Any,
) -> LiveNumber:
    return LiveNumber(str(1000 + i), f"{prefix}{i:04d}", status, dict(settings), patchable)


PROFILE = {"sms_enabled": True, "call_recording_enabled": True}


def run(
    desired: DesiredState, numbers: list[LiveNumber], limit: int = 500, grouping: str = "cover"
):  # type: ignore[no-untyped-def]
    return plan_account(
        WX, desired.accounts[WX].config.type, desired, numbers, limit=limit, grouping=grouping
    )


def test_in_sync_numbers_make_no_calls() -> None:
    summary, changes, calls = run(
        state(("+1313555*", PROFILE)), [live(i, **PROFILE) for i in range(5)]
    )
    assert (summary.in_sync, summary.changed, calls, changes) == (5, 0, [], [])


def test_same_patch_is_one_call() -> None:
    numbers = [live(i, sms_enabled=False, call_recording_enabled=True) for i in range(10)]
    summary, changes, calls = run(state(("+1313555*", PROFILE)), numbers)
    assert len(calls) == 1
    assert calls[0].patch == {"sms_enabled": True}
    assert calls[0].ids == tuple(str(1000 + i) for i in range(10))
    assert [c.changes[0].old for c in changes] == [False] * 10
    assert summary.lower_bound == 1


@pytest.mark.parametrize("grouping", ["exact", "cover"])
def test_limit_plus_one_numbers_make_two_calls(grouping: str) -> None:
    numbers = [live(i, sms_enabled=False, call_recording_enabled=True) for i in range(4)]
    summary, _, calls = run(state(("+1313555*", PROFILE)), numbers, limit=3, grouping=grouping)
    assert [len(c.ids) for c in calls] == [3, 1]
    assert summary.lower_bound == 2 and summary.calls == 2


def test_different_values_go_in_separate_calls() -> None:
    desired = state(
        ("+13135550000", {"transcription_threshold": 30}),
        ("+13135550001", {"transcription_threshold": 60}),
    )
    numbers = [live(0, transcription_threshold=0), live(1, transcription_threshold=0)]
    summary, _, calls = run(desired, numbers)
    assert sorted(c.patch["transcription_threshold"] for c in calls) == [30, 60]
    assert summary.lower_bound == 2  # two required values of one field: never one call


def test_an_override_per_number_packs_to_the_lower_bound() -> None:
    """One prefix profile and an exact entry per number overriding one field, 80 values dealt
    round-robin (more than the 64 open calls the old packing looked back at). The 400 even
    numbers drifted in that field: 40 values, 10 numbers each, so 40 calls at least. The 133 odd
    multiples of 3 drifted in ``sms_enabled`` only; their values are odd, so they share none of
    those 40 calls: ⌈133/25⌉ = 6 calls more. The summary states the bound, and meets it."""
    rules = [("+1313555*", PROFILE)] + [
        (f"+1313555{i:04d}", {"transcription_threshold": 100 + i % 80}) for i in range(800)
    ]
    numbers = [
        live(
            i,
            sms_enabled=bool(i % 3),
            call_recording_enabled=True,
            transcription_threshold=0 if i % 2 == 0 else 100 + i % 80,
        )
        for i in range(800)
    ]
    summary, changes, calls = run(state(*rules), numbers, limit=25)
    assert summary.changed == len(changes) == 400 + 133
    assert summary.calls == summary.lower_bound == len(calls) == 46
    assert summary.calls_exact == 86


def test_cover_merges_different_drift_of_one_profile() -> None:
    profile = {f: True for f in ("sms_enabled", "call_recording_enabled", "transcription_enabled")}
    numbers = [
        live(0, sms_enabled=False, call_recording_enabled=True, transcription_enabled=True),
        live(1, sms_enabled=True, call_recording_enabled=False, transcription_enabled=True),
        live(2, sms_enabled=False, call_recording_enabled=False, transcription_enabled=False),
    ]
    summary, changes, calls = run(state(("+1313555*", profile)), numbers)
    assert len(calls) == 1 and summary.calls_exact == 3
    assert calls[0].patch == profile
    # The per-number changes still list only what differs for that number.
    assert [len(c.changes) for c in changes] == [1, 1, 3]


def test_exact_grouping_keeps_one_call_per_distinct_patch() -> None:
    profile = {"sms_enabled": True, "call_recording_enabled": True}
    numbers = [
        live(0, sms_enabled=False, call_recording_enabled=True),
        live(1, sms_enabled=True, call_recording_enabled=False),
    ]
    _, _, calls = run(state(("+1313555*", profile), grouping="exact"), numbers, grouping="exact")
    assert sorted(tuple(c.patch) for c in calls) == [("call_recording_enabled",), ("sms_enabled",)]


def test_issue_example_600_numbers_20_subsets() -> None:
    import itertools

    fields = [
        "sms_enabled",
        "call_recording_enabled",
        "transcription_enabled",
        "transcription_threshold",
        "call_status_url",
    ]
    profile: dict[str, Any] = {
        "sms_enabled": True,
        "call_recording_enabled": True,
        "transcription_enabled": True,
        "transcription_threshold": 30,
        "call_status_url": "https://h.example.com/c",
    }
    subsets = [s for r in (1, 2, 3) for s in itertools.combinations(fields, r)][:20]
    wrong = {
        "sms_enabled": False,
        "call_recording_enabled": False,
        "transcription_enabled": False,
        "transcription_threshold": 0,
        "call_status_url": "https://old.example.com/c",
    }
    numbers = []
    for i in range(600):
        drifted = subsets[i % 20]
        numbers.append(live(i, **{f: (wrong[f] if f in drifted else profile[f]) for f in fields}))
    summary, _, calls = run(state(("+1313555*", profile)), numbers, limit=1000)
    assert summary.calls_exact == 20
    assert len(calls) == 1 and len(calls[0].ids) == 600


def test_unmanaged_missing_and_not_patchable_are_reported() -> None:
    desired = state(("+1313555*", PROFILE), ("+13135559999", PROFILE))
    numbers = [
        live(0, sms_enabled=False, call_recording_enabled=True),
        live(1, status="port-pending", patchable=False, sms_enabled=False),
        live(2, prefix="+1212555", sms_enabled=False),
    ]
    summary, changes, calls = run(desired, numbers)
    assert summary.unmanaged == 1
    assert summary.missing == ("+13135559999",)
    assert summary.not_patchable == (("+13135550001", "port-pending"),)
    assert [c.e164 for c in changes] == ["+13135550000"]
    assert sum(len(c.ids) for c in calls) == 1


def test_undeclared_fields_are_never_touched() -> None:
    numbers = [
        live(0, sms_enabled=False, call_recording_enabled=False, transcription_enabled=False)
    ]
    _, changes, calls = run(state(("+1313555*", {"sms_enabled": True})), numbers)
    assert calls[0].patch == {"sms_enabled": True}
    assert [f.field for f in changes[0].changes] == ["sms_enabled"]


def test_plan_order_is_deterministic() -> None:
    numbers = [
        live(i, sms_enabled=bool(i % 2), call_recording_enabled=bool(i % 3)) for i in range(50)
    ]
    first = run(state(("+1313555*", PROFILE)), numbers, limit=7)
    second = run(state(("+1313555*", PROFILE)), list(reversed(numbers)), limit=7)
    assert first[2] == second[2]
    assert first[1] == second[1]


def test_grouping_option_from_yaml(tmp_path: Any) -> None:
    from reconciler.loader import load
    from reconciler.planner import make_plan

    profile = "{sms_enabled: true, call_recording_enabled: true}"
    numbers = [
        live(0, sms_enabled=False, call_recording_enabled=True),
        live(1, sms_enabled=True, call_recording_enabled=False),
    ]
    for grouping, expected in (("exact", 2), ("cover", 1)):
        config = tmp_path / f"{grouping}.yaml"
        config.write_text(
            f"providers:\n  wx: {{type: wavix, sandbox: true, grouping: {grouping}}}\n"
            f"numbers:\n  - {{provider: wx, number: '+1313555*', settings: {profile}}}\n"
        )
        plan = make_plan(load(config, env={}), {"wx": numbers})
        assert len(plan.calls) == expected, grouping
        assert plan.accounts[0].grouping == grouping


def test_plan_round_trips_through_json() -> None:
    import json

    from reconciler.desired import DesiredState
    from reconciler.plan import Plan, Scope
    from reconciler.planner import make_plan

    desired = state(("+1313555*", PROFILE), ("+13135559999", PROFILE))
    numbers = [
        live(i, sms_enabled=bool(i % 2), call_recording_enabled=bool(i % 3)) for i in range(9)
    ]
    assert isinstance(desired, DesiredState)
    plan = make_plan(desired, {WX: numbers}, limits={WX: 2}, scope=Scope(config="t.yaml"))
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    assert again.checksum() == plan.checksum()
    assert again.missing == [(WX, "+13135559999")]
    changed = Plan.from_dict({**plan.to_dict(), "calls": plan.to_dict()["calls"][:-1]})
    assert changed.checksum() != plan.checksum()
