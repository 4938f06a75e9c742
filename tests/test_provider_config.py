"""Account configuration: no silent key fallbacks, keys and URLs checked with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main

NUMBERS = "numbers:\n  - {provider: acct, number: '+1313555*', settings: {sms_enabled: true}}\n"


def run_cli(tmp_path: Path, provider: str, *args: str, env: dict[str, str] | None = None) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(f"providers:\n  acct: {provider}\n" + NUMBERS)
    env = {"RECONCILER_SANDBOX_DB": str(tmp_path / "sb.sqlite3"), **(env or {})}
    result = CliRunner().invoke(main, [*args, str(path)], env=env)
    assert "Traceback" not in result.output
    return f"{result.exit_code}|{result.output}"


def test_a_real_account_without_api_key_is_refused_offline(tmp_path: Path) -> None:
    out = run_cli(tmp_path, "{type: wavix}", "validate")
    assert out.startswith("1|") and "c.yaml:2" in out and "WAVIX_API_KEY" in out


def test_the_sandbox_key_is_used_only_with_sandbox_true(tmp_path: Path) -> None:
    # A loopback base_url is not a sandbox by itself: no key → refused, nothing sent.
    out = run_cli(tmp_path, "{type: wavix, base_url: 'http://127.0.0.1:9/wavix'}", "validate")
    assert out.startswith("1|") and "WAVIX_API_KEY" in out
    served = "{type: wavix, sandbox: true, base_url: 'http://127.0.0.1:9/wavix'}"
    assert run_cli(tmp_path, served, "validate").startswith("0|")


def test_the_missing_variable_named_is_the_one_the_config_uses(tmp_path: Path) -> None:
    out = run_cli(tmp_path, "{type: wavix, api_key: '${MY_WAVIX_KEY}'}", "plan", env={})
    assert out.startswith("1|") and "c.yaml:2" in out and "MY_WAVIX_KEY" in out


@pytest.mark.parametrize(
    "url",
    ["http://[::1/wavix", "http://127.0.0.1:99999/wavix", "ftp://127.0.0.1/wavix", "not a url"],
)
def test_a_malformed_base_url_is_a_config_error(tmp_path: Path, url: str) -> None:
    provider = f"{{type: wavix, sandbox: true, base_url: '{url}'}}"
    out = run_cli(tmp_path, provider, "plan")
    assert out.startswith("1|") and "c.yaml:2" in out and "base_url" in out


@pytest.mark.parametrize("key", ["k\\x07ey", "kéy", "two words"])
def test_an_unsendable_key_is_refused_without_echo(tmp_path: Path, key: str) -> None:
    out = run_cli(
        tmp_path, "{type: wavix, api_key: '${K}'}", "plan", env={"K": key.replace("\\x07", "\x07")}
    )
    assert out.startswith("1|") and "c.yaml:2" in out
    assert key not in out and "kéy" not in out
