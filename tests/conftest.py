from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox
from reconciler.sandbox.store import SandboxStore

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "desired-state"
SPECS = REPO / "tests" / "contracts"  # vendored: a plain clone is whole (README there)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's apply journal and locks in its own directory, never the working tree's."""
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[Sandbox]:
    """A freshly seeded in-memory sandbox on the fake clock."""
    sb = Sandbox(SandboxStore(":memory:", clock=clock))
    yield sb
    sb.close()


def spec_path(name: str) -> Path:
    """A vendored carrier spec (tests/contracts/); fails (not skips) when it is missing."""
    path = SPECS / name
    if not path.is_file():
        pytest.fail(f"carrier spec {path} is missing from tests/contracts/")
    return path
