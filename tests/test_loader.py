"""One small invalid YAML per validation rule: the message and the line."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import phonenumbers
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.e164 import PlainE164, check_e164
from reconciler.errors import ConfigError
from reconciler.loader import load
from reconciler.yamltree import LDict, LList, parse

PROVIDERS = """\
providers:
  wx:
    type: wavix
    sandbox: true
  tx:
    type: telnyx
    sandbox: true
"""


def write(tmp_path: Path, body: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def errors_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(path, env=env or {})
    return [str(i) for i in info.value.issues]


def only_error(path: Path, env: dict[str, str] | None = None) -> str:
    errors = errors_of(path, env)
    assert len(errors) == 1, errors
    return errors[0]


def test_example_is_valid() -> None:
    state = load(Path(__file__).parent.parent / "examples" / "desired-state", env={})
    assert set(state.accounts) == {"wavix-main", "telnyx-main"}
    assert sum(len(r) for r in state.rules.values()) == 6


# (yaml body after the providers block, expected line, expected message fragment)
CASES = {
    "unknown top-level key": (
        "profile:\n  x: {sms_enabled: true}\n",
        8,
        "unknown top-level key 'profile'; did you mean 'profiles'?",
    ),
    "unknown setting key": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings:\n"
        "      sms_enable: true\n",
        12,
        "unknown wavix setting 'sms_enable'; did you mean 'sms_enabled'?",
    ),
    "wrong type": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings:\n"
        "      sms_enabled: 'yes'\n",
        12,
        "sms_enabled: Input should be a valid boolean",
    ),
    "enum (transport)": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings:\n      destinations:\n"
        "        - {destination: 'sip:a@b.c', priority: 1, transport: smtp}\n",
        13,
        "destinations.0.transport: Input should be 'sip_uri', 'pstn', 'sip_trunk', 1, 4 or 5",
    ),
    "enum (telnyx forwarding_type)": (
        "numbers:\n  - provider: tx\n    number: '+1312*'\n    settings:\n      voice:\n"
        "        call_forwarding:\n          forwarding_type: sometimes\n",
        14,
        "voice.call_forwarding.forwarding_type: Input should be 'always' or 'on-failure'",
    ),
    "url": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings:\n"
        "      sms_relay_url: hooks.example.com/sms\n",
        12,
        "'hooks.example.com/sms' is not an absolute http(s) URL",
    ),
    "invalid E.164 number": (
        "numbers:\n  - provider: wx\n    number: '+1313555010'\n"
        "    settings: {sms_enabled: true}\n",
        10,
        "is not a valid phone number",
    ),
    "unquoted number": (
        "numbers:\n  - provider: wx\n    number: +13135550100\n    settings: {sms_enabled: true}\n",
        10,
        'must be a quoted string: number: "+13135550100"',
    ),
    "bad prefix pattern": (
        "numbers:\n  - provider: wx\n    number: '+1313*555*'\n    settings: {sms_enabled: true}\n",
        10,
        'a prefix pattern is "+" then digits then one "*"',
    ),
    "unknown profile": (
        "profiles:\n  detroit: {sms_enabled: true}\n"
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    profile: detriot\n",
        13,
        "unknown profile 'detriot'; did you mean 'detroit'?",
    ),
    "unknown provider": (
        "numbers:\n  - provider: wavix\n    number: '+1313555*'\n"
        "    settings: {sms_enabled: true}\n",
        9,
        "unknown provider account 'wavix'",
    ),
    "wavix label": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings:\n"
        "      sms_enabled: true\n      label: sales\n",
        13,
        "label: Wavix cannot set a number's label through its API",
    ),
    "cnam too long": (
        "numbers:\n  - provider: tx\n    number: '+1312*'\n    settings:\n      voice:\n"
        "        cnam_listing: {cnam_listing_details: ACME Support Line Inc}\n",
        13,
        "cnam_listing_details must be 1-15 letters, digits or spaces",
    ),
    "forwards_to not E.164": (
        "numbers:\n  - provider: tx\n    number: '+1312*'\n    settings:\n      voice:\n"
        "        call_forwarding: {forwards_to: '3125550100'}\n",
        13,
        "is not in +E.164 form",
    ),
    "null value": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings:\n"
        "      sms_enabled: null\n",
        12,
        "sms_enabled: null is not a value; remove the key",
    ),
    "entry without profile or settings": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n",
        9,
        "give a profile, settings, or both",
    ),
    "unknown entry key": (
        "numbers:\n  - provider: wx\n    numbers: '+1313555*'\n    settings: {sms_enabled: true}\n",
        10,
        "unknown key in a numbers entry 'numbers'; did you mean 'number'?",
    ),
    "duplicate yaml key": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    number: '+1212555*'\n",
        11,
        "duplicate key 'number' (first at line 10)",
    ),
    "trunk without trunk_id": (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings:\n      destinations:\n"
        "        - {destination: '32882', priority: 1, transport: sip_trunk}\n",
        13,
        "transport sip_trunk (5) needs trunk_id",
    ),
}


needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")
PARSERS = [pytest.param(True, id="libyaml", marks=needs_libyaml), pytest.param(False, id="python")]


@pytest.mark.parametrize("libyaml", PARSERS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_yaml(tmp_path: Path, case: str, libyaml: bool) -> None:
    """Each rule, with libyaml and with the pure-Python fallback: same message, same line."""
    body, line, fragment = CASES[case]
    path = write(tmp_path, PROVIDERS + body)
    with pytest.raises(ConfigError) as info:
        load(path, env={}, libyaml=libyaml)
    [error] = [str(i) for i in info.value.issues]
    assert error.startswith(f"{path}:{line}: "), error
    assert fragment in error, error


def test_literal_api_key_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "providers:\n  wx:\n    type: wavix\n    api_key: wvx_live_abcdef123\n")
    error = only_error(path)
    assert f"{path}:4:" in error
    assert "a literal key is not allowed" in error
    assert "wvx_live_abcdef123" not in error


def test_env_reference_is_expanded_with_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "providers:\n  wx:\n    type: wavix\n    api_key: ${WX_KEY}\n"
        "    base_url: ${WX_URL:-http://127.0.0.1:9/wavix}\n",
    )
    state = load(path, env={"WX_KEY": "secret-value"})
    config = state.accounts["wx"].config
    assert config.api_key is not None and config.api_key.get_secret_value() == "secret-value"
    assert config.base_url == "http://127.0.0.1:9/wavix"
    assert "secret-value" not in repr(config)
    unset = load(path, env={})
    assert unset.accounts["wx"].missing_env == ("WX_KEY",)


def test_telnyx_batch_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "providers:\n  tx:\n    type: telnyx\n    max_ids_per_call: 1001\n")
    assert "telnyx allows at most 1000 numbers per bulk call" in only_error(path)


def test_duplicate_exact_number_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, PROVIDERS, "a.yaml")
    write(
        tmp_path,
        "numbers:\n  - provider: wx\n    number: '+13135550100'\n"
        "    settings: {sms_enabled: true}\n",
        "b.yaml",
    )
    write(
        tmp_path,
        "numbers:\n  - provider: wx\n    number: '+13135550100'\n"
        "    settings: {sms_enabled: true}\n",
        "c.yaml",
    )
    error = only_error(tmp_path)
    assert error.startswith(f"{tmp_path / 'c.yaml'}:3: ")
    assert f"declared twice for wx (also at {tmp_path / 'b.yaml'}:2)" in error


def test_equal_precedence_conflict_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, PROVIDERS, "a.yaml")
    write(
        tmp_path,
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n"
        "    settings: {sms_enabled: true, call_recording_enabled: true}\n",
        "b.yaml",
    )
    write(
        tmp_path,
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings: {sms_enabled: false}\n",
        "c.yaml",
    )
    error = only_error(tmp_path)
    assert error.startswith(f"{tmp_path / 'c.yaml'}:2: ")
    assert "field sms_enabled is set to False here and to True at" in error
    assert f"{tmp_path / 'b.yaml'}:2" in error


def test_same_selector_split_across_files_merges(tmp_path: Path) -> None:
    write(tmp_path, PROVIDERS, "a.yaml")
    write(
        tmp_path,
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings: {sms_enabled: true}\n",
        "b.yaml",
    )
    write(
        tmp_path,
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n"
        "    settings: {call_recording_enabled: false}\n",
        "c.yaml",
    )
    state = load(tmp_path, env={})
    [rule] = state.rules["wx"]
    assert rule.settings == {"sms_enabled": True, "call_recording_enabled": False}


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    body = (
        "numbers:\n  - provider: wx\n    number: '+1313555*'\n    settings: {sms_enable: true}\n"
        "  - provider: nope\n    number: '+1212555*'\n    settings: {sms_enabled: true}\n"
    )
    errors = errors_of(write(tmp_path, PROVIDERS + body))
    assert len(errors) == 2
    assert any(":11:" in e and "sms_enable" in e for e in errors)
    assert any(":12:" in e and "unknown provider account 'nope'" in e for e in errors)


def test_precedence_exact_over_long_over_short_prefix(tmp_path: Path) -> None:
    body = (
        "numbers:\n"
        "  - {provider: wx, number: '+1313*', settings: {sms_enabled: false, "
        "call_recording_enabled: false, transcription_threshold: 1}}\n"
        "  - {provider: wx, number: '+1313555*', settings: {sms_enabled: true, "
        "transcription_threshold: 2}}\n"
        "  - {provider: wx, number: '+13135550100', settings: {transcription_threshold: 3}}\n"
    )
    state = load(write(tmp_path, PROVIDERS + body), env={})
    resolver = state.resolver("wx")
    assert resolver.desired("+13135550100") == {
        "sms_enabled": True,
        "call_recording_enabled": False,
        "transcription_threshold": 3,
    }
    assert resolver.desired("+13135550101") == {
        "sms_enabled": True,
        "call_recording_enabled": False,
        "transcription_threshold": 2,
    }
    assert resolver.desired("+13134440101")["transcription_threshold"] == 1  # type: ignore[index]
    assert resolver.desired("+12125550100") is None


def test_inline_settings_override_profile_field_by_field(tmp_path: Path) -> None:
    body = (
        "profiles:\n  p: {tags: [a, b], hd_voice_enabled: true, "
        "voice: {call_forwarding: {forwards_to: '+13125550100', forwarding_type: always}}}\n"
        "numbers:\n  - provider: tx\n    number: '+13127367200'\n    profile: p\n"
        "    settings: {voice: {call_forwarding: {forwarding_type: on-failure}}, tags: [b, c, b]}\n"
    )
    state = load(write(tmp_path, PROVIDERS + body), env={})
    assert state.resolver("tx").desired("+13127367200") == {
        "tags": ["b", "c"],
        "hd_voice_enabled": True,
        "voice.call_forwarding.forwards_to": "+13125550100",
        "voice.call_forwarding.forwarding_type": "on-failure",
    }


def test_broken_yaml_is_reported_once(tmp_path: Path) -> None:
    write(tmp_path, "providers:\n  wx: {type: wavix\n", "a.yaml")
    write(
        tmp_path,
        "numbers:\n  - {provider: wx, number: '+1313555*', settings: {sms_enabled: true}}\n",
        "b.yaml",
    )
    error = only_error(tmp_path)
    assert error.startswith(f"{tmp_path / 'a.yaml'}:") and "invalid YAML" in error


def test_unused_profile_is_still_checked_against_the_closest_carrier(tmp_path: Path) -> None:
    body = "profiles:\n  fax:\n    tags: [fax]\n    hd_voice_enabld: true\n"
    error = only_error(write(tmp_path, PROVIDERS + body))
    assert error.startswith(f"{tmp_path / 'config.yaml'}:11: ")
    assert "profile 'fax' (unused)" in error
    assert "unknown telnyx setting 'hd_voice_enabld'; did you mean 'hd_voice_enabled'?" in error


def test_unused_valid_profile_is_fine(tmp_path: Path) -> None:
    state = load(write(tmp_path, PROVIDERS + "profiles:\n  fax: {tags: [fax]}\n"), env={})
    assert state.rules == {}


# --------------------------------------------------------------------------------------------
# The libyaml loader and its pure-Python fallback


EXAMPLE = Path(__file__).parent.parent / "examples" / "desired-state"

TRICKY = """\
base: &base {a: 1, b: [x, 'y', 2.5, .inf, ~, null, yes, No, 0x1F, 0o17, 1_000, 1:30]}
merged:
  <<: *base
  b: overridden
multi:
  <<: [{c: 3}, *base]
shared: [*base, *base]
when: 2026-11-30
stamp: 2026-11-30T10:00:00Z
empty: ''
plain: plain text
quoted: "123"
folded: >
  two
  lines
key with spaces: true
"""


@needs_libyaml
@pytest.mark.parametrize(
    "text", [TRICKY, *(f.read_text() for f in sorted(EXAMPLE.rglob("*.yaml")))]
)
def test_both_parsers_build_the_tree_pyyaml_builds(text: str) -> None:
    expected = yaml.load(text, Loader=yaml.SafeLoader)
    fast, slow = parse(text, libyaml=True), parse(text, libyaml=False)
    assert fast == expected
    assert slow == expected
    assert _lines(fast) == _lines(slow)


def _lines(node: object) -> object:
    if isinstance(node, LDict):
        return (node.line, node.lines, {k: _lines(v) for k, v in node.items()})
    if isinstance(node, LList):
        return (node.line, node.lines, [_lines(v) for v in node])
    return None


def test_merge_keys_are_overridden_by_the_mappings_own_keys(tmp_path: Path) -> None:
    body = (
        "profiles:\n"
        "  base: &base {sms_enabled: true, call_recording_enabled: true}\n"
        "numbers:\n"
        "  - provider: wx\n    number: '+1313555*'\n"
        "    settings:\n      <<: *base\n      sms_enabled: false\n"
    )
    state = load(write(tmp_path, PROVIDERS + body), env={})
    [rule] = state.rules["wx"]
    assert rule.settings == {"sms_enabled": False, "call_recording_enabled": True}


def test_an_error_in_merged_settings_points_at_the_anchor(tmp_path: Path) -> None:
    body = (
        "profiles:\n"
        "  base: &base {sms_enabled: 'on'}\n"
        "numbers:\n"
        "  - provider: tx\n    number: '+1312*'\n"
        "    settings:\n      <<: *base\n      hd_voice_enabled: true\n"
    )
    errors = errors_of(write(tmp_path, PROVIDERS + body))
    assert any(
        e.startswith(f"{tmp_path / 'config.yaml'}:9: ") and "sms_enabled" in e for e in errors
    )


def test_equal_settings_are_validated_once_but_reported_on_each_line(tmp_path: Path) -> None:
    entry = "  - {provider: wx, number: '+1313555010%d', settings: {transcription_threshold: -1}}\n"
    body = "numbers:\n" + "".join(entry % i for i in range(3))
    errors = errors_of(write(tmp_path, PROVIDERS + body))
    assert [e.split(": ", 1)[0].rsplit(":", 1)[1] for e in errors] == ["9", "10", "11"]
    assert all("transcription_threshold" in e for e in errors)


def test_a_broken_profile_is_reported_once_however_many_entries_use_it(tmp_path: Path) -> None:
    entry = "  - {provider: wx, number: '+1313555010%d', profile: p}\n"
    body = "profiles:\n  p: {sms_enabled: maybe}\nnumbers:\n" + "".join(entry % i for i in range(5))
    error = only_error(write(tmp_path, PROVIDERS + body))
    assert error.startswith(f"{tmp_path / 'config.yaml'}:9: ")
    assert "profile 'p' (used by wx): sms_enabled" in error


def test_planner_does_not_import_the_yaml_loader() -> None:
    code = (
        "import sys, reconciler.planner; "
        "print('reconciler.loader' in sys.modules, 'yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------------------------
# The fast E.164 check agrees with models.check_e164


def _accepted(value: str) -> bool:
    try:
        check_e164(value)
    except ValueError:
        return False
    return True


def test_plain_e164_says_valid_only_for_numbers_check_e164_accepts() -> None:
    fast = PlainE164()
    examples = {
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in range(12)
        if (number := phonenumbers.example_number_for_type(region, kind)) is not None
    }
    said_valid = [e for e in sorted(examples) if fast.valid(e)]
    assert all(_accepted(e) for e in said_valid)
    assert len(said_valid) > 0.9 * len(examples)  # it is the fast path for nearly every number


@settings(max_examples=400, deadline=None)
@given(
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    national=st.text(alphabet="0123456789", min_size=1, max_size=16),
)
def test_plain_e164_never_accepts_what_check_e164_refuses(code: int, national: str) -> None:
    value = f"+{code}{national}"
    if PlainE164().valid(value):
        assert _accepted(value), value


def _library_verdict(value: str) -> bool | None:
    """phonenumbers' own ``is_valid_number`` on a number PlainE164 judges itself; None when it
    leaves the number to check_e164 (not its shape, or a national prefix: parsing strips it)."""
    if not re.fullmatch(r"\+[1-9][0-9]{2,19}", value):
        return None
    digits = value[1:]
    sizes = [n for n in (1, 2, 3) if int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    if not sizes:
        return None
    code, national = int(digits[: sizes[0]]), digits[sizes[0] :]
    if not 2 <= len(national) <= 17 or national[0] == "0":
        return None
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code)
    )
    prefix = meta.national_prefix_for_parsing if meta is not None else None
    if prefix and re.match(prefix, national):
        return None
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    return bool(phonenumbers.is_valid_number(number))


def _near(example: str, rnd: random.Random) -> str:
    """An example number with a digit changed, dropped or added: just inside or outside a
    pattern."""
    digits = list(example[1:])
    spot = rnd.randrange(1, len(digits))
    how = rnd.randrange(3)
    if how == 0:
        digits[spot] = str(rnd.randrange(10))
    elif how == 1 and len(digits) > 3:
        del digits[spot]
    else:
        digits.insert(spot, str(rnd.randrange(10)))
    return "+" + "".join(digits)


def test_plain_e164_is_exactly_is_valid_number_on_its_fast_path() -> None:
    """The compiled per-region patterns give phonenumbers' verdict, both ways: every region's and
    every non-geographic code's example numbers, and numbers one digit away from them (valid
    and invalid neighbours, other lengths, other regions of a shared calling code)."""
    examples = sorted(
        {
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            for region in phonenumbers.SUPPORTED_REGIONS
            for kind in range(12)
            if (number := phonenumbers.example_number_for_type(region, kind)) is not None
        }
        | {
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
            if (number := phonenumbers.example_number_for_non_geo_entity(code)) is not None
        }
    )
    rnd = random.Random(9)
    values = examples + [_near(rnd.choice(examples), rnd) for _ in range(20_000)]
    fast = PlainE164()
    checked = {True: 0, False: 0}
    for value in values:
        expected = _library_verdict(value)
        if expected is None:
            assert not fast.valid(value) or _accepted(value), value
            continue
        assert fast.valid(value) == expected, value
        checked[expected] += 1
    assert checked[True] > 1000 and checked[False] > 1000, checked


@settings(max_examples=400, deadline=None)
@given(
    code=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    national=st.text(alphabet="123456789", min_size=1, max_size=1).flatmap(
        lambda first: st.text(alphabet="0123456789", max_size=15).map(first.__add__)
    ),
)
def test_plain_e164_agrees_with_is_valid_number_on_random_digits(code: int, national: str) -> None:
    value = f"+{code}{national}"
    expected = _library_verdict(value)
    if expected is not None:
        assert PlainE164().valid(value) == expected, value


# --------------------------------------------------------------------------------------------
# Equal entries share one settings dict; merging a rule never changes another's settings


def test_entries_with_equal_settings_share_one_dict_and_merges_copy_it(tmp_path: Path) -> None:
    body = (
        "profiles:\n"
        "  p: {sms_enabled: true}\n"
        "numbers:\n"
        "  - {provider: wx, number: '+13135550100', profile: p,"
        " settings: {transcription_threshold: 7}}\n"
        "  - {provider: wx, number: '+13135550101', profile: p,"
        " settings: {transcription_threshold: 7}}\n"
        "  - {provider: wx, number: '+1212555*', profile: p,"
        " settings: {transcription_threshold: 7}}\n"
        "  - {provider: wx, number: '+1212555*', settings: {call_recording_enabled: true}}\n"
    )
    state = load(write(tmp_path, PROVIDERS + body), env={})
    rules = {r.selector: r for r in state.rules["wx"]}
    first, second = rules["+13135550100"], rules["+13135550101"]
    assert first.settings is second.settings
    assert first.settings == {"sms_enabled": True, "transcription_threshold": 7}
    merged = rules["+1212555*"]
    assert merged.settings == {**first.settings, "call_recording_enabled": True}
    assert merged.source_of("call_recording_enabled").endswith(":14")
    assert merged.source_of("sms_enabled").endswith(":13")
    assert first.source_of("sms_enabled").endswith(":11")
    resolver = state.resolver("wx")
    assert resolver.desired("+13135550100") is resolver.desired("+13135550101")
