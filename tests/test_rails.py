"""Safety rails (reconciler/rails.py): each rail trips above its limit and not at it, per-run
overrides and --force, the refusal names the rail and the figures, empty configs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler import rails
from reconciler.config import ProviderConfig
from reconciler.errors import ConfigError, RailError
from reconciler.loader import load
from reconciler.plan import AccountSummary, FieldChange, NumberChange, Plan


def make_plan(
    managed: int, changed: int, *, carrier: str = "wavix", field: str = "sms_enabled"
) -> Plan:
    """An account of ``managed`` numbers, ``changed`` of them changing ``field``."""
    account = f"{carrier}-main"
    changes = tuple(
        NumberChange(account, str(i), f"+1313555{i:04d}", (FieldChange(field, False, True),))
        for i in range(changed)
    )
    summary = AccountSummary(
        account, carrier, managed, managed - changed, changed, 0, 1, 1, 1, 500, "cover"
    )
    return Plan((summary,), changes, ())


def configs(carrier: str = "wavix", **options: object) -> dict[str, ProviderConfig]:
    return {
        f"{carrier}-main": ProviderConfig.model_validate(
            {"type": carrier, "sandbox": True, **options}
        )
    }


def tripped(plan: Plan, overrides: rails.Overrides | None = None, **options: object) -> list[str]:
    carrier = plan.accounts[0].carrier
    return [w.rail for w in rails.check(plan, configs(carrier, **options), overrides)]


def test_share_rail_trips_above_30_percent_of_ten_or_more() -> None:
    assert tripped(make_plan(100, 30)) == []  # exactly 30 %: allowed
    assert tripped(make_plan(100, 31)) == [rails.SHARE]
    assert tripped(make_plan(9, 9)) == []  # fewer than 10 managed numbers: not checked
    assert tripped(make_plan(10, 4)) == [rails.SHARE]
    [warning] = rails.check(make_plan(1000, 412), configs())
    assert warning.account == "wavix-main"
    assert "412 of 1000 managed numbers would change (41.2 %)" in warning.message
    assert "max_change_share 30 % (300 numbers)" in warning.message


def test_share_rail_from_yaml_and_per_run() -> None:
    assert tripped(make_plan(100, 20), max_change_share=0.1) == [rails.SHARE]
    per_run = rails.Overrides(max_change_share=0.5)
    assert tripped(make_plan(100, 45), per_run) == []
    assert tripped(make_plan(100, 45), per_run, max_change_share=0.1) == []  # the run wins


def test_absolute_rail() -> None:
    assert tripped(make_plan(1000, 50), max_changes=50) == []
    assert tripped(make_plan(1000, 51), max_changes=50) == [rails.COUNT]
    assert tripped(make_plan(1000, 51), rails.Overrides(max_changes=60), max_changes=50) == []


@pytest.mark.parametrize(
    ("carrier", "field", "routing"),
    [
        ("wavix", "destinations", True),
        ("wavix", "sms_enabled", False),
        ("telnyx", "connection_id", True),
        ("telnyx", "voice.call_forwarding.forwards_to", True),
        ("telnyx", "tags", False),
    ],
)
def test_routing_rail_counts_routing_fields_only(carrier: str, field: str, routing: bool) -> None:
    plan = make_plan(10_000, 101, carrier=carrier, field=field)  # 1 %: under the share rail
    assert tripped(plan) == ([rails.ROUTING] if routing else [])
    assert tripped(plan, max_routing_changes=200) == []
    assert tripped(plan, max_routing_changes=None) == []


def test_enforce_refuses_naming_rail_figures_and_the_way_out() -> None:
    plan = make_plan(100, 40)
    plan = replace(plan, warnings=tuple(rails.check(plan, configs(), None)))
    with pytest.raises(RailError) as caught:
        rails.enforce(plan)
    error = caught.value
    assert error.exit_code == 3 and error.rail == rails.SHARE and error.account == "wavix-main"
    text = str(error)
    assert "[change_share] wavix-main: 40 of 100 managed numbers would change (40 %)" in text
    assert "nothing was sent" in text and "--force" in text and "--max-change-share" in text
    rails.enforce(plan, force=True)  # forced: no error
    rails.enforce(make_plan(100, 10))  # nothing tripped: no error


def test_rail_options_are_validated_in_yaml(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  wx: {type: wavix, sandbox: true, max_change_share: 1.5, max_changes: -1}\n"
        "numbers:\n  - {provider: wx, number: '+1313555*', settings: {sms_enabled: true}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(config)
    text = str(caught.value)
    assert "max_change_share" in text and "max_changes" in text


def test_empty_config_warnings(tmp_path: Path) -> None:
    (tmp_path / "providers.yaml").write_text(
        "providers:\n  wx: {type: wavix, sandbox: true}\n  tx: {type: telnyx, sandbox: true}\n"
    )
    (tmp_path / "wavix.yaml").write_text(
        "numbers:\n  - {provider: wx, number: '+1313555*', settings: {sms_enabled: true}}\n"
    )
    (tmp_path / "telnyx.yaml").write_text("# truncated\n")
    (tmp_path / "more.yaml").write_text("numbers: []\n")
    messages = [w.message for w in rails.config_warnings(load(tmp_path))]
    assert any("telnyx.yaml: the file is empty" in m for m in messages)
    assert any("more.yaml: numbers: has no entries" in m for m in messages)
    assert any(m.startswith("tx: the account is declared") for m in messages)
    assert not any("wavix.yaml" in m or m.startswith("wx") for m in messages)
    with pytest.raises(RailError) as caught:
        rails.refuse_empty(rails.config_warnings(load(tmp_path)))
    assert caught.value.exit_code == 3 and "--allow-empty" in str(caught.value)


def test_a_full_config_has_no_empty_warning(tmp_path: Path) -> None:
    from conftest import EXAMPLE

    assert rails.config_warnings(load(EXAMPLE)) == []
    rails.refuse_empty([])


def test_selectors_matching_no_live_number_warn() -> None:
    plan = make_plan(0, 0)
    plan = replace(plan, accounts=(replace(plan.accounts[0], total=60, unmanaged=60),))
    [warning] = rails.plan_empty_warnings(plan)
    assert (
        warning.rail == rails.EMPTY and "match none of the account's 60 numbers" in warning.message
    )
