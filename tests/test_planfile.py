"""Saved plans (reconciler/planfile.py): JSON round trip, integrity (format version, checksum,
config checksum), hidden secrets, and staleness named per number and field."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE
from helpers import run

from reconciler import planfile
from reconciler.errors import PlanFileError
from reconciler.loader import load
from reconciler.models import LiveNumber
from reconciler.plan import Plan, PlanWarning
from reconciler.runner import Run, Wiring, planned

PIN = "987123"


def make_run(sandbox: Any, path: Path) -> Run:
    async def go() -> Run:
        async with planned(path, wiring=Wiring(sandbox=sandbox)) as made:
            return made

    return run(go())


def saved_of(sandbox: Any, path: Path = EXAMPLE) -> tuple[Run, planfile.SavedPlan]:
    made = make_run(sandbox, path)
    return made, planfile.build(made.plan, made.state, made.observed, config_path=path)


def pin_config(tmp_path: Path) -> Path:
    """The example with a Telnyx external_pin managed on the Chicago block."""
    dest = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, dest)
    profiles = dest / "profiles.yaml"
    profiles.write_text(
        profiles.read_text().replace(
            "    customer_reference: support-chi\n",
            f"    customer_reference: support-chi\n    external_pin: '{PIN}'\n",
        )
    )
    return dest


def test_plan_json_round_trip(sandbox: Any) -> None:
    made = make_run(sandbox, EXAMPLE)
    plan = replace(made.plan, warnings=(PlanWarning("change_share", "wavix-main", "40 of 100"),))
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert plan.changed == 23


def test_saved_plan_round_trip(sandbox: Any, tmp_path: Path) -> None:
    _, saved = saved_of(sandbox)
    path = tmp_path / "plan.json"
    planfile.write(saved, path)
    back = planfile.read(path)
    assert back.plan == saved.plan
    assert back.fingerprints == saved.fingerprints and back.accounts == saved.accounts
    assert back.config_checksum == saved.config_checksum and back.salt == saved.salt
    doc = json.loads(path.read_text())
    # The example's Telnyx account now has messaging and emergency calls (issue 17): format 2.
    assert any(c.operation is not None for c in saved.plan.calls)
    assert doc["format_version"] == planfile.format.OPERATIONS_FORMAT == 2
    assert doc["kind"] == planfile.KIND
    assert doc["accounts"]["wavix-main"] == {
        "carrier": "wavix",
        "base_url": None,
        "sandbox": True,
        "max_batch": 500,
        "grouping": "cover",
        "concurrency": 8,
    }
    planned_ids = {c.id for c in saved.plan.changes}
    assert {i for ids in saved.fingerprints.values() for i in ids} == planned_ids


def test_edited_file_is_refused(sandbox: Any, tmp_path: Path) -> None:
    _, saved = saved_of(sandbox)
    path = tmp_path / "plan.json"
    planfile.write(saved, path)
    text = path.read_text()
    path.write_text(text.replace('"sms_enabled": false', '"sms_enabled": true', 1))
    assert path.read_text() != text
    with pytest.raises(PlanFileError, match="checksum does not match its content"):
        planfile.read(path)
    path.write_text(text[: len(text) // 2])
    with pytest.raises(PlanFileError, match="corrupted or truncated"):
        planfile.read(path)


def test_other_format_version_is_refused(sandbox: Any, tmp_path: Path) -> None:
    _, saved = saved_of(sandbox)
    doc = planfile.to_document(saved)
    doc["format_version"] = 3  # 2 is the format of plans with operations (issue 17)
    doc["checksum"] = planfile._checksum(doc)  # a consistent file of another version
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PlanFileError, match="plan format version 3, but this reconciler"):
        planfile.read(path)


def test_config_checksum_is_content_only(tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(EXAMPLE, moved)
    (moved / "numbers" / "wavix.yaml").rename(moved / "numbers" / "zz-renamed.yaml")
    before = planfile.config_checksum(load(EXAMPLE).files)
    assert planfile.config_checksum(load(moved).files) == before
    (moved / "profiles.yaml").write_text((moved / "profiles.yaml").read_text() + "\n# edited\n")
    assert planfile.config_checksum(load(moved).files) != before


def test_changed_config_is_refused(sandbox: Any, tmp_path: Path) -> None:
    config = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, config)
    _, saved = saved_of(sandbox, config)
    planfile.check_config(saved, load(config))  # unchanged: accepted
    (config / "profiles.yaml").write_text(
        (config / "profiles.yaml")
        .read_text()
        .replace("transcription_threshold: 30", "transcription_threshold: 31")
    )
    with pytest.raises(PlanFileError, match="config files changed since the plan was made"):
        planfile.check_config(saved, load(config))


def test_secrets_are_hidden_and_restored_from_the_config(sandbox: Any, tmp_path: Path) -> None:
    config = pin_config(tmp_path)
    _, saved = saved_of(sandbox, config)
    path = tmp_path / "plan.json"
    planfile.write(saved, path)
    text = path.read_text()
    assert PIN not in text
    pin_calls = [c for c in saved.plan.calls if "external_pin" in c.patch]
    assert pin_calls and all(planfile.is_hidden(c.patch["external_pin"]) for c in pin_calls)
    restored = planfile.restore_secrets(planfile.read(path), load(config))
    assert {c.patch["external_pin"] for c in restored.calls if "external_pin" in c.patch} == {PIN}
    # The same secret hides to the same digest within one plan, and differently with a new salt.
    hider = planfile.read(path).hider
    assert {"secret": hider.digest(PIN)} == pin_calls[0].patch["external_pin"]
    assert planfile.Hider.new().digest(PIN) != hider.digest(PIN)


def test_compare_names_each_moved_field_with_both_values(sandbox: Any) -> None:
    made, saved = saved_of(sandbox)
    live = {
        key: LiveNumber(n.id, n.e164, n.status, dict(n.settings))
        for key, n in made.observed.items()
    }
    assert planfile.compare(saved, made.state, live) == []

    target = next(c for c in saved.plan.changes if c.e164 == "+12125550105")
    number = live[(target.account, target.id)]
    number.settings["call_recording_enabled"] = False  # in sync at plan time (true), now false
    number.settings["label"] = "unmanaged fields do not count"
    gone = next(c for c in saved.plan.changes if c.e164 == "+13135550104")
    del live[(gone.account, gone.id)]
    moved = {m.e164: m for m in planfile.compare(saved, made.state, live)}
    assert set(moved) == {"+12125550105", "+13135550104"}
    [field] = moved["+12125550105"].fields
    assert (field.field, field.then, field.now) == ("call_recording_enabled", "true", "false")
    assert moved["+13135550104"].reason == "no longer in the account"
    message = planfile.stale_message(list(moved.values()))
    assert "call_recording_enabled was true at plan time, now false" in message
    assert "--skip-stale" in message


def test_a_moved_secret_says_changed_without_values(sandbox: Any, tmp_path: Path) -> None:
    config = pin_config(tmp_path)
    made, saved = saved_of(sandbox, config)
    change = next(
        c for c in saved.plan.changes if c.account == "telnyx-main" and c.e164.startswith("+1312")
    )
    number = made.observed[(change.account, change.id)]
    live = {
        (change.account, change.id): replace(
            number, settings={**number.settings, "external_pin": "555000"}
        )
    }
    [moved] = [m for m in planfile.compare(saved, load(config), live) if m.id == change.id]
    [field] = moved.fields
    assert field.secret and field.field == "external_pin"
    assert moved.describe().endswith("external_pin changed")
    assert "555000" not in planfile.stale_message([moved]) and PIN not in planfile.stale_message(
        [moved]
    )


def test_plan_without_takes_numbers_out_of_calls(sandbox: Any) -> None:
    made = make_run(sandbox, EXAMPLE)
    plan = made.plan
    call = next(c for c in plan.calls if len(c.ids) > 1)
    drop = {(call.account, call.ids[0])}
    smaller = plan.without(drop)
    assert smaller.changed == plan.changed - 1
    assert call.ids[0] not in {i for c in smaller.calls for i in c.ids}
    assert len(smaller.calls) == len(plan.calls)
    everything = {(c.account, i) for c in plan.calls for i in c.ids}
    empty = plan.without(everything)
    assert not empty.has_changes and all(a.changed == 0 for a in empty.accounts)
