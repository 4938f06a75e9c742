"""The loader split (issue 16 part D): accounts / entries / interning, empty files recorded in the
desired state, an offline load, and a prefix selector matched whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE

from reconciler import rails
from reconciler.desired import DesiredState, Rule
from reconciler.errors import ConfigError
from reconciler.intern import Pool, content_key
from reconciler.loader import load
from reconciler.loader.entries import is_prefix

PROVIDERS = "providers:\n  wx: {type: wavix, sandbox: true}\n"


def test_a_prefix_selector_is_matched_whole(tmp_path: Path) -> None:
    # The old pattern ended in "$" and was used with .match, so it accepted "+1313555*\n" (a
    # fuzzing find). Through YAML that string never reached it (only a selector ending in "*"
    # does), so the pattern is checked directly, and the loader's message through a file.
    assert is_prefix("+1313555*") and is_prefix("+1*")
    for bad in ("+1313555*\n", "+1313555**", "+1313555", "1313555*", "+*", "+1313555*\r"):
        assert not is_prefix(bad), bad
    config = tmp_path / "c.yaml"
    config.write_text(
        PROVIDERS + 'numbers:\n  - {provider: wx, number: "+13a*", settings: {sms_enabled: true}}\n'
    )
    with pytest.raises(ConfigError) as caught:
        load(config)
    (issue,) = caught.value.issues
    assert issue.line == 4 and "a prefix pattern is" in issue.message


def test_equal_settings_are_one_object_with_one_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        PROVIDERS
        + "profiles:\n  p: {sms_enabled: true}\n"
        + "numbers:\n"
        + "  - {provider: wx, number: '+1313555*', profile: p}\n"
        + "  - {provider: wx, number: '+13135550100', settings: {sms_enabled: true}}\n"
        + "  - {provider: wx, number: '+13135550101', profile: p, settings: {}}\n"
        + "  - {provider: wx, number: '+13135550102', profile: p, settings: {sms_enabled: false}}\n"
        + "  - {provider: wx, number: '+1212555*', settings: {sms_enabled: false}}\n"
        + "  - {provider: wx, number: '+1212555*', settings: {call_recording_enabled: true}}\n"
    )
    rules = load(config).rules["wx"]
    by = {r.selector: r for r in rules}
    same = [by["+1313555*"], by["+13135550100"], by["+13135550101"]]
    assert all(r.settings is same[0].settings and r.key == same[0].key for r in same)
    assert by["+13135550102"].settings is not same[0].settings
    assert by["+13135550102"].key != same[0].key
    merged = by["+1212555*"]  # two entries of one selector: merged into a copy, keyed again
    assert merged.settings == {"sms_enabled": False, "call_recording_enabled": True}
    assert merged.key is not None and merged.key not in (same[0].key, by["+13135550102"].key)
    assert len({r.key for r in rules}) == 3


def test_resolver_hands_out_one_object_per_content() -> None:
    # Rules built by hand get keys by content; merges of different rules with equal results
    # are one object (the planner and the packer memoise per object).
    rules = [
        Rule("wx", "+1313*", False, {"a": 1}, ["t:1"]),
        Rule("wx", "+13135550100", True, {"a": 1}, ["t:2"]),
        Rule("wx", "+1212*", False, {"a": True}, ["t:3"]),
    ]
    state = DesiredState({}, {"wx": rules}, ("t",))
    assert rules[0].key == rules[1].key != rules[2].key  # 1 and True are different settings
    resolver = state.resolver("wx")
    one, two = resolver.desired("+13135550199"), resolver.desired("+13135550100")
    assert one == two == {"a": 1} and one is two
    assert resolver.desired("+12125550100") == {"a": True}


def test_pool_keys_are_small_integers_by_content() -> None:
    pool = Pool()
    first = pool.share({"a": 1, "b": [1, 2]})
    again = pool.share({"b": [1, 2], "a": 1})  # field order does not matter
    other = pool.share({"a": 1.0, "b": [1, 2]})  # 1.0 is not 1
    assert first.key == again.key == 0 and first.settings is again.settings
    assert other.key == 1 and len(pool) == 2
    built = pool.share_built(("pair", 0, 1), lambda: {"a": 1, "b": [1, 2]})
    assert built.settings is first.settings
    assert pool.share_built(("pair", 0, 1), lambda: {"never": "built"}).key == 0
    assert content_key({"x": True}) != content_key({"x": 1})


def test_empty_files_are_recorded_and_the_rails_read_them(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        PROVIDERS + "numbers:\n  - {provider: wx, number: '+1313555*', settings: {}}\n"
    )
    (tmp_path / "b.yaml").write_text("# truncated\n\n")
    (tmp_path / "c.yaml").write_text("numbers:\n")
    (tmp_path / "d.yaml").write_text("---\n")  # a document, not a truncated file
    state = load(tmp_path)
    assert state.empty_files == (str(tmp_path / "b.yaml"),)
    assert state.empty_numbers == (str(tmp_path / "c.yaml"),)
    for name in "abcd":
        (tmp_path / f"{name}.yaml").unlink()  # the rails no longer read the files again
    messages = [w.message for w in rails.config_warnings(state)]
    assert messages == [
        f"{tmp_path / 'b.yaml'}: the file is empty (truncated?)",
        f"{tmp_path / 'c.yaml'}: numbers: has no entries (truncated?)",
    ]


def test_validate_imports_no_http_client() -> None:
    """``validate`` is offline: neither httpx nor a provider class is imported (a carrier's
    description and settings model are: validation needs them)."""
    code = (
        "import sys\n"
        "from reconciler.cli import main\n"
        f"main(['validate', {str(EXAMPLE)!r}], standalone_mode=False)\n"
        "bad = sorted(m for m in sys.modules if m == 'httpx' or m.startswith('httpx.')\n"
        "    or m == 'reconciler.providers.http' or m.endswith('.provider'))\n"
        "print('IMPORTED', bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Configuration is valid" in done.stdout, done.stderr
    assert "IMPORTED []" in done.stdout, done.stdout
