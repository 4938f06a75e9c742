"""Secret settings (Telnyx external_pin) may be ${VAR} references: the value comes from the
environment at load time, never from the YAML; an unset variable is a config error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ConfigError
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
def test_an_unset_secret_variable_is_an_error_with_file_and_line(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG)
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "c.yaml", env=env)
    text = str(info.value)
    assert "c.yaml:7" in text and "TX_PIN_1" in text and "external_pin" in text


def test_a_reference_in_a_non_secret_field_stays_literal(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG.replace("tags: [a]", "customer_reference: ${X}"))
    state = load(tmp_path / "c.yaml", env={"TX_PIN_1": "1", "X": "expanded"})
    assert state.resolver("tx").desired("+13035559100")["customer_reference"] == "${X}"
