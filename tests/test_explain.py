"""``reconciler explain PATH NUMBER`` (issue 17 part G): where one number's desired settings come
from, what they override, the live value and the call that would change each field.

Through the pure function (``reconciler.explain.explain``) on hand-written and generated configs,
and through the CLI on the shipped example and the sandbox. The property tests hold explain to the
planner: the winning value of every field is the resolver's, and the fields explain says change
are exactly the plan's changes with the plan's new values.
"""

from __future__ import annotations

import json
import re
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import EXAMPLE, REPO
from helpers import cli, example_copy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import carriers, runner
from reconciler.carriers import MASK
from reconciler.errors import PlanError
from reconciler.explain import (
    FieldState,
    Via,
    Written,
    check_number,
    explain,
    matching,
)
from reconciler.loader import load
from reconciler.models import LiveNumber
from reconciler.planner import make_plan
from reconciler.render.explain import explain_document, explain_text
from reconciler.sandbox import Sandbox, requestlog
from reconciler.sandbox.store import SandboxStore
from reconciler.seam import PendingJob

SCHEMA = json.loads((REPO / "docs" / "explain-output.schema.json").read_text())
WX, TX = "wavix-main", "telnyx-main"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


LAYERED = {
    "providers.yaml": """\
        providers:
          wx:
            type: wavix
            sandbox: true
        """,
    "profiles.yaml": """\
        profiles:
          base:
            sms_enabled: false
            call_recording_enabled: true
            transcription_threshold: 10
          sales:
            sms_enabled: true
            transcription_threshold: 20
        """,
    "numbers.yaml": """\
        numbers:
          - provider: wx
            number: "+1313*"
            profile: base
          - provider: wx
            number: "+1313555*"
            profile: sales
            settings:
              transcription_threshold: 30
          - provider: wx
            number: "+13135550100"
            settings:
              sms_enabled: false
        """,
}


@pytest.fixture
def layered(tmp_path: Path) -> Path:
    return write(tmp_path, LAYERED)


def live(id_: str, e164: str, status: str = "active", **settings: Any) -> LiveNumber:
    base = {
        "sms_enabled": False,
        "destinations": [],
        "sms_relay_url": None,
        "call_recording_enabled": True,
        "transcription_enabled": False,
        "transcription_threshold": 10,
        "call_status_url": None,
    }
    return LiveNumber(id_, e164, status, {**base, **settings}, patchable=status == "active")


def field_of(x: Any, path: str) -> Any:
    (view,) = x.found
    return next(f for f in view.fields if f.path == path)


# --------------------------------------------------------------------------------------------
# The number argument


@pytest.mark.parametrize(
    ("given_", "hint"),
    [
        ("313 555 0100", "+13135550100 if it is a US or Canadian number"),
        ("3135550100", "+13135550100 if it is a US or Canadian number"),
        ("+1 313 555 0100", "write +13135550100"),
        ("+1 (313) 555-0100", "write +13135550100"),
        ("0044 20 7946 0100", "with + and the country code"),
        ("+1313555*", "e.g. +13135550100"),
        ("", "e.g. +13135550100"),
    ],
)
def test_a_loose_number_is_refused_with_an_example(given_: str, hint: str) -> None:
    with pytest.raises(PlanError) as err:
        check_number(given_)
    assert "is not an E.164 number" in str(err.value) and hint in str(err.value)


def test_an_e164_number_is_taken_as_is() -> None:
    assert check_number(" +13135550100 ") == "+13135550100"
    assert check_number("+442079460100") == "+442079460100"


# --------------------------------------------------------------------------------------------
# The pure function: layers, provenance, states


def test_each_field_names_the_layer_that_set_it_and_what_it_overrode(layered: Path) -> None:
    state = load(layered)
    number = live("1", "+13135550100", sms_enabled=True, transcription_threshold=30)
    x = explain(state, number.e164, {"wx": number}, written=Written(state.files))
    (view,) = x.found
    numbers, profiles = str(layered / "numbers.yaml"), str(layered / "profiles.yaml")
    assert [(m.selector, [str(s) for s in m.entries]) for m in view.matches] == [
        ("+1313*", [f"{numbers}:2"]),
        ("+1313555*", [f"{numbers}:5"]),
        ("+13135550100", [f"{numbers}:10"]),
    ]

    sms = field_of(x, "sms_enabled")  # exact inline false over sales' true over base's false
    assert sms.state is FieldState.CHANGE and sms.live is True and sms.desired.value is False
    assert (sms.desired.origin.selector, sms.desired.origin.via) == ("+13135550100", Via.SETTINGS)
    assert str(sms.desired.origin.written) == f"{numbers}:13"
    assert [
        (s.value, s.origin.selector, s.origin.profile, str(s.origin.written))
        for s in sms.overridden
    ] == [
        (True, "+1313555*", "sales", f"{profiles}:7"),
        (False, "+1313*", "base", f"{profiles}:3"),
    ]
    assert sms.operation == "PATCH /v1/numbers" and sms.sent

    threshold = field_of(x, "transcription_threshold")  # inline 30 over its own profile's 20
    assert threshold.state is FieldState.IN_SYNC and threshold.desired.value == 30
    assert threshold.desired.origin.via is Via.SETTINGS
    assert str(threshold.desired.origin.written) == f"{numbers}:9"
    assert [(s.value, s.origin.selector, s.origin.via) for s in threshold.overridden] == [
        (20, "+1313555*", Via.PROFILE),
        (10, "+1313*", Via.PROFILE),
    ]

    recording = field_of(x, "call_recording_enabled")  # only the base profile sets it
    assert recording.desired.origin.profile == "base" and recording.overridden == ()
    assert str(recording.desired.origin.written) == f"{profiles}:4"

    url = field_of(x, "sms_relay_url")
    assert url.state is FieldState.UNMANAGED and url.desired is None and not url.sent

    text = explain_text(x)
    assert f"~ sms_enabled: true → false  ← +13135550100 settings, {numbers}:13" in text
    assert f"overrides true ← +1313555* profile sales, {profiles}:7" in text
    assert "changed by PATCH /v1/numbers" in text
    assert "unmanaged (4): destinations=[], sms_relay_url=null, transcription_enabled=false" in text
    assert text.endswith(
        "+13135550100: wx: 1 of 3 managed fields changes in 1 call; 2 in sync, 4 unmanaged.\n"
    )


def test_without_the_yaml_every_layer_is_its_entry(layered: Path) -> None:
    state = load(layered)
    number = live("1", "+13135550142")
    x = explain(state, number.e164, {"wx": number})
    origin = field_of(x, "transcription_threshold").desired.origin
    assert (origin.selector, origin.via, str(origin.entry)) == (
        "+1313555*",
        Via.ENTRY,
        f"{layered / 'numbers.yaml'}:5",
    )


def test_a_number_no_entry_selects_is_not_managed(layered: Path) -> None:
    state = load(layered)
    number = live("9", "+12125550100", sms_enabled=True)
    x = explain(state, number.e164, {"wx": number}, written=Written(state.files))
    assert not x.managed and x.found[0].matches == ()
    assert {f.state for f in x.found[0].fields} == {FieldState.UNMANAGED}
    assert field_of(x, "sms_enabled").live is True
    assert explain_text(x).endswith(
        "+12125550100 is not managed by this configuration (live in wx).\n"
    )
    jsonschema.validate(explain_document(x), SCHEMA)


def test_a_number_the_carrier_will_not_change_is_not_patchable(layered: Path) -> None:
    state = load(layered)
    number = live("3", "+13135550101", status="port-pending")
    x = explain(state, number.e164, {"wx": number})
    sms = field_of(x, "sms_enabled")
    assert sms.state is FieldState.NOT_PATCHABLE and x.found[0].calls == ()
    assert field_of(x, "call_recording_enabled").state is FieldState.IN_SYNC
    assert "not sent: the carrier does not let a port-pending number change" in explain_text(x)


def test_a_live_carrier_job_holds_the_fields_it_sets(layered: Path) -> None:
    state = load(layered)
    number = live("1", "+13135550100", sms_enabled=True)
    same = PendingJob("job-7", "pending", ("1",), {"sms_enabled": False})
    x = explain(state, number.e164, {"wx": number}, jobs={"wx": [same]})
    sms = field_of(x, "sms_enabled")
    assert (sms.state, sms.job) == (FieldState.HELD, "job-7") and x.found[0].calls == ()
    assert (x.found[0].job_id, x.found[0].job_status) == ("job-7", "pending")
    assert "held by live job job-7: apply waits for it" in explain_text(x)

    other = PendingJob("job-8", "in_progress", ("1",), {"sms_enabled": True})
    x = explain(state, number.e164, {"wx": number}, jobs={"wx": [other]})
    assert field_of(x, "sms_enabled").state is FieldState.CONFLICT
    assert "live job job-8 sets another value: left out of this run" in explain_text(x)
    jsonschema.validate(explain_document(x), SCHEMA)


TELNYX = {
    "providers.yaml": """\
        providers:
          tx:
            type: telnyx
            sandbox: true
        """,
    "numbers.yaml": """\
        numbers:
          - provider: tx
            number: "+1312736*"
            settings:
              external_pin: ${EXPLAIN_TEST_PIN}
              voice:
                call_forwarding:
                  forwards_to: "+13125550100"
        """,
}


def test_secrets_are_masked_and_whole_objects_say_what_is_sent_as_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPLAIN_TEST_PIN", "pin-9876543210")
    state = load(write(tmp_path, TELNYX))
    number = LiveNumber(
        "42",
        "+13127367201",
        "active",
        {
            "external_pin": "pin-live-55555",
            "voice.call_forwarding.call_forwarding_enabled": True,
            "voice.call_forwarding.forwarding_type": "always",
            "voice.call_forwarding.forwards_to": "+13125550199",
        },
    )
    x = explain(state, number.e164, {"tx": number}, written=Written(state.files))
    pin = field_of(x, "external_pin")
    assert pin.state is FieldState.CHANGE and pin.live == MASK and pin.desired.value == MASK
    forwarding = field_of(x, "voice.call_forwarding.forwarding_type")
    assert forwarding.state is FieldState.UNMANAGED and forwarding.sent  # the whole object
    text, doc = explain_text(x), json.dumps(explain_document(x))
    for out in (text, doc):
        assert "pin-9876543210" not in out and "pin-live-55555" not in out
    assert 'voice.call_forwarding.forwarding_type="always" (sent as is)' in text
    assert "external_pin: (sensitive) → (sensitive)" in text
    assert x.found[0].calls[0].patch["external_pin"] == MASK
    jsonschema.validate(explain_document(x), SCHEMA)


OPERATIONS = {
    "providers.yaml": """\
        providers:
          tx:
            type: telnyx
            sandbox: true
        """,
    "numbers.yaml": """\
        numbers:
          - provider: tx
            number: "+1312736*"
            settings:
              tags: [support]
              messaging_profile_id: "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b10"
              emergency_enabled: true
              emergency_address_id: "1315261609962112027"
        """,
}


def test_each_change_is_named_by_its_operation(tmp_path: Path) -> None:
    state = load(write(tmp_path, OPERATIONS))
    number = LiveNumber(
        "5",
        "+13127367205",
        "active",
        {
            "tags": ["sales"],
            "messaging_profile_id": "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b21",
            "emergency_enabled": True,
            "emergency_address_id": "1315261609962112019",
        },
    )
    x = explain(state, number.e164, {"tx": number}, written=Written(state.files))
    labels = {
        "tags": "POST /phone_numbers/jobs/update_phone_numbers",
        "messaging_profile_id": "POST /messaging_numbers_bulk_updates",
        "emergency_address_id": "POST /phone_numbers/jobs/update_emergency_settings",
    }
    for path, label in labels.items():
        f = field_of(x, path)
        assert (f.state, f.operation) == (FieldState.CHANGE, label)
    enabled = field_of(x, "emergency_enabled")  # in sync, yet every emergency job carries it
    assert enabled.state is FieldState.IN_SYNC and enabled.sent
    assert [c.operation for c in x.found[0].calls] == list(labels.values())
    text = explain_text(x)
    assert "changed by POST /messaging_numbers_bulk_updates" in text
    assert "in 3 calls" in text

    blind = LiveNumber("6", "+13127367206", "active", {**number.settings, "tags": ["support"]})
    blind.settings["messaging_profile_id"] = "UNAVAILABLE"  # the profile lookup failed
    x = explain(state, blind.e164, {"tx": blind})
    profile = field_of(x, "messaging_profile_id")
    assert profile.state is FieldState.UNREADABLE and not profile.sent
    assert "not sent: the carrier could not tell the live value" in explain_text(x)
    assert [c.operation for c in x.found[0].calls] == [labels["emergency_address_id"]]
    jsonschema.validate(explain_document(x), SCHEMA)


# --------------------------------------------------------------------------------------------
# Explain agrees with the planner (property tests)

FIELDS = {
    "sms_enabled": st.booleans(),
    "call_recording_enabled": st.booleans(),
    "transcription_enabled": st.booleans(),
    "transcription_threshold": st.integers(0, 3),
}
PREFIXES = ["+1313*", "+13135*", "+131355*", "+1313555*", "+13135550*"]
NUMBERS = [f"+1313555{n:04d}" for n in (100, 101, 102, 110, 200)] + ["+13134440100"]


def settings_strategy() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=FIELDS)


@st.composite
def configs(draw: Any) -> tuple[dict[str, str], list[LiveNumber]]:
    """A Wavix config with profiles, layered prefixes, exact numbers (some with inline settings
    over a profile, some split across two files), and live numbers with random settings."""
    profiles = draw(st.lists(settings_strategy().filter(bool), min_size=1, max_size=3))
    profile_text = "profiles:\n" + "".join(
        f"  p{i}:\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in p.items())
        for i, p in enumerate(profiles)
    )
    selectors = draw(
        st.lists(st.sampled_from(PREFIXES + NUMBERS[:3]), min_size=1, max_size=6, unique=True)
    )
    files: dict[str, list[str]] = {"a.yaml": [], "b.yaml": []}
    for selector in selectors:
        profile = draw(st.none() | st.integers(0, len(profiles) - 1))
        inline = draw(settings_strategy())
        if profile is None and not inline:
            inline = {"sms_enabled": draw(st.booleans())}
        entry = f'  - provider: wx\n    number: "{selector}"\n'
        if profile is not None:
            entry += f"    profile: p{profile}\n"
        if inline:
            entry += "    settings:\n" + "".join(
                f"      {k}: {json.dumps(v)}\n" for k, v in inline.items()
            )
        files[draw(st.sampled_from(sorted(files)))].append(entry)
    out = {
        "providers.yaml": "providers:\n  wx:\n    type: wavix\n    sandbox: true\n",
        "profiles.yaml": profile_text,
    }
    for name, entries in files.items():
        if entries:
            out[name] = "numbers:\n" + "".join(entries)
    lives = [
        live(str(i), e164, **draw(st.fixed_dictionaries({}, optional=FIELDS)))
        for i, e164 in enumerate(NUMBERS)
    ]
    return out, lives


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_explain_matches_the_plan_on_generated_configs(
    case: tuple[dict[str, str], list[LiveNumber]],
) -> None:
    files, lives = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in files.items():
            (root / name).write_text(text)
        state = load(root)
        written = Written(state.files)
        plan = make_plan(state, {"wx": lives}, limits={"wx": 2})  # several calls: packing at work
        planned = {c.e164: {f.field: f.new for f in c.changes} for c in plan.changes}
        resolver = state.resolver("wx")
        for number in lives:
            x = explain(state, number.e164, {"wx": number}, written=written)
            (view,) = x.found
            want = resolver.desired(number.e164) or {}
            got = {f.path: f.desired.value for f in view.fields if f.desired is not None}
            assert got == want
            changing = {
                f.path: f.desired.value for f in view.fields if f.state is FieldState.CHANGE
            }
            assert changing == planned.get(number.e164, {})
            rules = matching(state, "wx", number.e164)
            for f in view.fields:
                if f.desired is None:
                    continue
                setters = [r for r in rules if f.path in r.settings]
                # the winner is the most specific selector that sets the field; the rest follow,
                # most specific first (an entry's profile right after its inline value)
                assert f.desired.origin.selector == setters[-1].selector
                order = [s.origin.selector for s in (f.desired, *f.overridden)]
                assert list(dict.fromkeys(order)) == [r.selector for r in reversed(setters)]
                if f.desired.origin.via is Via.SETTINGS:
                    line = f.desired.origin.written
                    assert line is not None
                    text = Path(line.file).read_text().splitlines()[line.line - 1]
                    assert text.strip().startswith(f"{f.path.split('.')[-1]}:")


def test_explain_matches_the_plan_on_every_number_of_the_example(sandbox: Any) -> None:
    state = load(EXAMPLE)

    async def current() -> dict[str, list[LiveNumber]]:
        async with runner.open_accounts(state, sandbox=sandbox) as providers:
            return await runner.fetch_current(providers)

    from helpers import run

    lives = run(current())
    plan = make_plan(state, lives)
    planned = {(c.account, c.e164): {f.field: f.new for f in c.changes} for c in plan.changes}
    written = Written(state.files)
    seen = {"change": 0, "in_sync": 0, "unmanaged": 0}
    for account, numbers in lives.items():
        carrier = state.accounts[account].config.type
        for number in numbers:
            x = explain(state, number.e164, {account: number}, written=written)
            (view,) = x.found
            want = state.resolver(account).desired(number.e164) or {}
            got = {f.path: f.desired.value for f in view.fields if f.desired is not None}
            assert got == {k: MASK if k == "external_pin" else v for k, v in want.items()}
            changing = {
                f.path: f.desired.value for f in view.fields if f.state is FieldState.CHANGE
            }
            assert changing == planned.get((account, number.e164), {})
            for f in view.fields:
                seen[str(f.state)] = seen.get(str(f.state), 0) + 1
                if f.state is FieldState.CHANGE:  # named by the call that sends it
                    assert [c.operation for c in view.calls if f.path in c.patch] == [f.operation]
                if f.state is not FieldState.UNMANAGED:
                    assert f.desired is not None and f.desired.origin.via is not Via.ENTRY
            assert carrier in ("wavix", "telnyx")
    assert seen["change"] and seen["in_sync"] and seen["unmanaged"]  # every kind was exercised


# --------------------------------------------------------------------------------------------
# Through the CLI, on the example and the sandbox


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.sqlite3"
    sb = Sandbox.open(path)
    sb.store.set_knob("request_log", True)
    sb.close()
    return path


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return example_copy(tmp_path)


def requests(db: Path) -> list[tuple[str, str]]:
    store = SandboxStore(db)
    try:
        return [(e.carrier, e.method) for e in requestlog.entries(store)]
    finally:
        store.close()


def line_of(file: Path, text: str) -> int:
    """The 1-based line of ``file`` that holds ``text`` (the example may grow around it)."""
    return next(i for i, line in enumerate(file.read_text().splitlines(), 1) if text in line)


def test_cli_explains_a_changed_telnyx_number(db: Path, example: Path) -> None:
    result = cli(db, "explain", example, "+13127367224")
    assert result.exit_code == 0, result.output
    out = result.stdout
    profiles, numbers = example / "profiles.yaml", example / "numbers" / "telnyx.yaml"
    assert out.startswith("+13127367224  telnyx-main (telnyx)  id ")
    assert f"selected by +1312736* ({numbers}:{line_of(numbers, '+1312736*') - 1})" in out
    screening = line_of(profiles, "inbound_call_screening: flag_calls")
    assert (
        '~ voice.inbound_call_screening: "disabled" → "flag_calls"  ← +1312736* profile '
        f"chicago-support, {profiles}:{screening}"
    ) in out
    assert "changed by POST /phone_numbers/jobs/update_phone_numbers" in out
    assert "external_pin=(sensitive)" in out
    last = re.fullmatch(
        r"\+13127367224: telnyx-main: (\d+) of (\d+) managed fields change in \d+ calls?; "
        r"(\d+) in sync, (\d+) unmanaged\.",
        out.rstrip().splitlines()[-1],
    )
    assert last is not None, out
    change, managed, in_sync, unmanaged = map(int, last.groups())
    assert change >= 2 and change + in_sync == managed  # the two drifted voice fields
    assert managed + unmanaged == len(carriers.get("telnyx").field_paths)
    assert f"unmanaged ({unmanaged}): billing_group_id=" in out
    assert all(method == "GET" for _, method in requests(db))  # explain never writes


def test_cli_json_is_one_document_that_matches_the_schema(db: Path, example: Path) -> None:
    for number in ("+13127367200", "+13135550118", "+442079460100", "+13127367227"):
        result = cli(db, "explain", example, number, "--format", "json")
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        jsonschema.validate(doc, SCHEMA)
        assert doc["number"] == number and doc["format_version"] == 1
    tags = next(
        f
        for f in json.loads(cli(db, "explain", example, "+13127367200", "--format", "json").stdout)[
            "found"
        ][0]["fields"]
        if f["field"] == "tags"
    )
    assert tags["desired"] == ["chicago", "support", "vip"] and tags["set_by"]["via"] == "settings"
    assert [o["profile"] for o in tags["overridden"]] == ["chicago-support", "chicago-support"]
    assert [o["selector"] for o in tags["overridden"]] == ["+13127367200", "+1312736*"]


def test_schema_rejects_an_unknown_state(db: Path, example: Path) -> None:
    doc = json.loads(cli(db, "explain", example, "+13135550118", "--format", "json").stdout)
    doc["found"][0]["fields"][0]["state"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_cli_a_number_not_managed_exits_0_and_says_where_it_is(db: Path, example: Path) -> None:
    result = cli(db, "explain", example, "+442079460100")
    assert result.exit_code == 0, result.output
    assert "not managed by this configuration: no entry of wavix-main selects it" in result.stdout
    assert "unmanaged (7): sms_enabled=false" in result.stdout


def test_cli_a_number_in_no_account_exits_1(db: Path, example: Path) -> None:
    result = cli(db, "explain", example, "+19995550100")
    assert result.exit_code == 1 and result.stdout == ""
    assert (
        "+19995550100 is not in any of the accounts telnyx-main, wavix-main (106 numbers read)"
        in result.stderr
    )
    assert "Traceback" not in result.output
    narrowed = cli(db, "explain", example, "+13127367224", "--account", WX)
    assert narrowed.exit_code == 1
    assert "+13127367224 is not in account wavix-main" in narrowed.stderr
    assert ("telnyx", "GET") not in requests(db)[-3:]  # --account: telnyx-main not read


def test_cli_a_declared_number_the_account_lacks_is_a_config_error(db: Path, example: Path) -> None:
    numbers = example / "numbers" / "wavix.yaml"
    numbers.write_text(
        numbers.read_text()
        + '\n  - provider: wavix-main\n    number: "+13135550999"\n    profile: detroit-sip\n'
    )
    result = cli(db, "explain", example, "+13135550999")
    assert result.exit_code == 1
    line = len(numbers.read_text().splitlines()) - 2
    assert f"{numbers}:{line}: declared number not in the account: +13135550999" in result.stderr


def test_cli_a_loose_number_exits_1_before_any_request(db: Path, example: Path) -> None:
    result = cli(db, "explain", example, "313 555 0100")
    assert result.exit_code == 1 and "is not an E.164 number" in result.stderr
    assert "+13135550100 if it is a US or Canadian number" in result.stderr
    assert requests(db) == []
    usage = cli(db, "explain", example)
    assert usage.exit_code == 1 and "NUMBER" in usage.output


def test_cli_explain_is_listed_in_help(db: Path) -> None:
    result = cli(db, "--help")
    assert result.exit_code == 0 and "explain" in result.stdout
