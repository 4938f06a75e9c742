"""Typed plan data and the rules written once (issue 16 part C).

``Plan.scope`` instead of ``meta: dict[str, Any]``, ``WarningKind`` instead of rail strings, a
``Source`` value instead of splitting "file:line" again; one "did you mean", one "not a
boolean", one place for the rails' defaults, the saved plan's format number, and plurals.
"""

from __future__ import annotations

import json
import typing

import pytest
from pydantic import ValidationError

from reconciler import carriers, models, planfile, rails, wording
from reconciler.config import ProviderConfig
from reconciler.plan import REFUSING, Plan, PlanWarning, Scope, Selection, WarningKind
from reconciler.source import Source

# --------------------------------------------------------------------------------------------
# Plan.scope: the JSON "meta" it stands for, key for key and in order


def test_scope_writes_only_what_is_set_in_meta_order() -> None:
    assert Scope().to_dict() == {}
    scope = Scope(
        config="cfg",
        accounts=Selection(("wx",), ("tx", "wx")),
        targets=("+1313*",),
        managed={"wx": 40},
        read={"wx": 60},
    )
    data = scope.to_dict()
    assert list(data) == ["config", "accounts", "targets", "managed", "read"]
    assert data["accounts"] == {"selected": ["wx"], "declared": ["tx", "wx"]}
    assert Scope.from_dict(json.loads(json.dumps(data))) == scope
    assert Selection.of(Plan((), (), (), scope=scope)) == Selection(("wx",), ("tx", "wx"))
    assert Selection.of(Plan((), (), ())) is None


def test_a_plan_round_trips_its_scope_and_warning_kinds() -> None:
    plan = Plan(
        (),
        (),
        (),
        scope=Scope(config="c", targets=("+1*",), managed={"a": 1}, read={"a": 2}),
        warnings=(PlanWarning(WarningKind.ROUTING, "a", "m"), PlanWarning("target", "", "t")),
    )
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["meta"] == {
        "config": "c",
        "targets": ["+1*"],
        "managed": {"a": 1},
        "read": {"a": 2},
    }
    assert [w["rail"] for w in data["warnings"]] == ["routing", "target"]
    again = Plan.from_dict(data)
    assert again == plan and again.warnings[1].rail is WarningKind.TARGET


# --------------------------------------------------------------------------------------------
# WarningKind: rails and informative kinds apart, output strings unchanged


def test_warning_kinds_keep_their_output_names_and_only_rails_refuse() -> None:
    assert {k.value for k in WarningKind} == {
        "change_share",
        "max_changes",
        "routing",
        "empty",
        "target",
        "pending_job",
        "job_conflict",
    }
    assert (
        {k for k in WarningKind if k.refusing}
        == REFUSING
        == {rails.SHARE, rails.COUNT, rails.ROUTING}
    )
    assert f"{WarningKind.PENDING_JOB}" == "pending_job" == str(WarningKind.PENDING_JOB)
    with pytest.raises(ValueError):
        PlanWarning("max_changed_share", "", "not a kind")  # type: ignore[arg-type]


def test_an_unknown_warning_kind_in_a_saved_plan_is_malformed() -> None:
    with pytest.raises(ValueError):
        Plan.from_dict(
            {
                "accounts": [],
                "changes": [],
                "calls": [],
                "warnings": [{"rail": "no_such_rail", "account": "", "message": ""}],
            }
        )


# --------------------------------------------------------------------------------------------
# Source: provenance as a value


@pytest.mark.parametrize(
    "text,file,line",
    [
        ("cfg/numbers.yaml:12", "cfg/numbers.yaml", 12),
        ("C:/cfg/a:b.yaml:3", "C:/cfg/a:b.yaml", 3),  # colons in the path: the line is last
        ("cfg/numbers.yaml", "cfg/numbers.yaml", None),
        ("odd:name", "odd:name", None),
    ],
)
def test_source_parses_what_the_loader_writes(text: str, file: str, line: int | None) -> None:
    source = Source.parse(text)
    assert (source.file, source.line) == (file, line)
    assert str(source) == text
    issue = source.issue("what to do")
    assert (issue.file, issue.line, issue.message) == (file, line, "what to do")


# --------------------------------------------------------------------------------------------
# Rules written once


@pytest.mark.parametrize(
    "key,known,most,quote,hint",
    [
        ("profile", ["providers", "profiles", "numbers"], 1, True, "; did you mean 'profiles'?"),
        ("sms_enable", ["sms_enabled", "sms_relay_url"], 1, True, "; did you mean 'sms_enabled'?"),
        ("latency", ["latency_ms", "wavix.async_delay_s"], 3, False, "; did you mean latency_ms?"),
        ("zzz", ["wavix", "telnyx"], 1, True, ""),
    ],
)
def test_one_did_you_mean(key: str, known: list[str], most: int, quote: bool, hint: str) -> None:
    assert wording.did_you_mean(key, known, most=most, quote=quote) == hint


def test_did_you_mean_offers_several_names_beginning_with_the_typo() -> None:
    names = ["wavix.sparse_items", "wavix.sparse_ids", "latency_ms"]
    assert wording.suggest("wavix.sparse", names, most=3) == names[:2]


def test_every_carrier_uses_the_same_did_you_mean_for_its_type() -> None:
    with pytest.raises(ValidationError, match="did you mean 'wavix'"):
        ProviderConfig.model_validate({"type": "wavx", "sandbox": True})


def _members(info: typing.Any) -> tuple[typing.Any, ...]:
    """The types of a field, ``X | None`` taken apart (``Annotated[float, …]`` kept whole)."""
    annotation = info.annotation
    if typing.get_origin(annotation) in (typing.Union, type(int | None)):
        return typing.get_args(annotation)
    return (annotation,)


def _float_options() -> list[tuple[str, str]]:
    out = []
    for name, carrier in carriers.registry().items():
        for option, info in carrier.config_model.model_fields.items():
            kinds = {typing.get_args(a)[0] if typing.get_args(a) else a for a in _members(info)}
            if float in kinds:
                out.append((name, option))
    return out


@pytest.mark.parametrize("carrier,option", _float_options())
def test_no_number_option_of_any_carrier_takes_a_boolean(carrier: str, option: str) -> None:
    with pytest.raises(ValidationError) as error:
        ProviderConfig.model_validate({"type": carrier, "sandbox": True, option: True})
    (problem,) = error.value.errors()
    assert problem["loc"] == (option,) and "expected a number, not a boolean" in problem["msg"]


def test_the_rails_defaults_are_the_account_options() -> None:
    config = ProviderConfig.model_validate({"type": "wavix", "sandbox": True})
    limits = rails.Overrides().limits(config)
    assert (limits.max_change_share, limits.max_changes, limits.max_routing_changes) == (
        config.max_change_share,
        config.max_changes,
        config.max_routing_changes,
    )
    assert rails.Overrides(max_changes=5).limits(config).max_changes == 5


def test_plural() -> None:
    assert [wording.plural(n, "bulk call") for n in (0, 1, 2)] == [
        "0 bulk calls",
        "1 bulk call",
        "2 bulk calls",
    ]
    assert wording.plural(2, "distinct patch", "distinct patches") == "2 distinct patches"


# --------------------------------------------------------------------------------------------
# One concept per module


def test_planfile_keeps_its_names_and_one_format_number() -> None:
    for name in (
        "read",
        "write",
        "build",
        "check_config",
        "compare",
        "restore_secrets",
        "stale_message",
        "SavedPlan",
        "Hider",
        "Moved",
        "FORMAT_VERSION",
        "KIND",
    ):
        assert hasattr(planfile, name), name
    assert not hasattr(planfile.SavedPlan, "extra")
    assert planfile.format.FORMAT_VERSION == planfile.FORMAT_VERSION
    assert "format" not in Plan((), (), ()).to_dict()  # the file writes it, from FORMAT_VERSION


def test_models_holds_no_e164_implementation() -> None:
    assert not hasattr(models, "PlainE164")
    from reconciler.e164 import PlainE164, check_e164

    assert PlainE164().valid("+13135550100") and check_e164("+13135550100") == "+13135550100"


# --------------------------------------------------------------------------------------------
# Anchored with $ through .match: a trailing newline got through


def test_a_cnam_with_a_trailing_newline_is_refused() -> None:
    # Before: ``^…$`` with ``.match`` accepted "ACME\n" (``$`` matches before a final newline).
    from reconciler.providers.telnyx.settings import check_cnam

    assert check_cnam("ACME") == "ACME"
    with pytest.raises(ValueError, match="cnam_listing_details"):
        check_cnam("ACME\n")
