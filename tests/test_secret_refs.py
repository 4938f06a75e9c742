"""Secret settings (Telnyx external_pin) may be ${VAR} references: the value comes from the
environment at load time, never from the YAML; an unset variable is a config error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.loader import load

CONFIG = """\
providers:
  tx: {type: telnyx, sandbox: true}
numbers:
  - provider: tx
    number: "+13035559100"
    settings:
      external_pin: ${TX_PIN_1}
      tags: [a]
"""


def test_a_secret_reference_is_expanded_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG)
    state = load(tmp_path / "c.yaml", env={"TX_PIN_1": "482913"})
    desired = state.resolver("tx").desired("+13035559100")
    assert desired == {"external_pin": "482913", "tags": ["a"]}


@pytest.mark.parametrize("env", [{}, {"TX_PIN_1": ""}])
def test_an_unset_secret_variable_warns_offline_and_stops_plan(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """validate runs where secrets are not (pre-commit, PR checks): a warning there; plan and
    apply refuse with file:line before any request."""
    (tmp_path / "c.yaml").write_text(CONFIG)
    env = {**env, "RECONCILER_SANDBOX_DB": str(tmp_path / "sb.sqlite3")}
    checked = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")], env=env)
    assert checked.exit_code == 0 and "TX_PIN_1" in checked.output
    planned = CliRunner().invoke(main, ["plan", str(tmp_path / "c.yaml")], env=env)
    assert planned.exit_code == 1 and "Traceback" not in planned.output
    assert "c.yaml:7" in planned.output and "TX_PIN_1" in planned.output
    assert not (tmp_path / "sb.sqlite3").exists()  # nothing was opened, nothing was read


def test_a_reference_in_a_non_secret_field_stays_literal(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG.replace("tags: [a]", "customer_reference: ${X}"))
    state = load(tmp_path / "c.yaml", env={"TX_PIN_1": "1", "X": "expanded"})
    assert state.resolver("tx").desired("+13035559100")["customer_reference"] == "${X}"
