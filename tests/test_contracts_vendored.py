"""The vendored carrier contracts are whole and named with their provenance (tests/contracts/)."""

from __future__ import annotations

import hashlib
import json

from conftest import SPECS


def test_every_vendored_contract_is_listed_with_its_digest_and_source() -> None:
    readme = (SPECS / "README.md").read_text()
    files = sorted(SPECS.glob("*.json"))
    assert len(files) >= 3
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        row = next((line for line in readme.splitlines() if f"`{path.name}`" in line), None)
        assert row is not None, f"{path.name} has no row in tests/contracts/README.md"
        assert f"`{digest}`" in row, f"{path.name}: digest {digest} not in its README row"
        assert "https://github.com/" in row
        info = json.loads(path.read_text())["info"]
        assert info.get("x-source") or "Source: GitHub repository" in info["description"]
