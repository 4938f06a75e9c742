"""A third party ships a carrier as its own installable package, and the core needs no edit.

The package is built on a temporary path as pip would leave it: ``acme_numbers/`` (a ``carrier``
module with the ``Carrier`` record and the settings models, a ``provider`` module whose HTTP goes
through an in-process fake carrier over ``httpx.MockTransport``) and an ``acme_numbers-1.0.
dist-info`` directory whose ``entry_points.txt`` declares ``acme`` in the
``reconciler.carriers`` group. The test puts the path on ``sys.path``, re-reads the registry
through the public seam (``carriers.using()``) and drives ``validate``, ``plan``, ``apply`` and
``schema`` through the CLI. A second distribution whose carrier module raises on import shows
how a broken plugin is reported: a configuration error for its own account, naming the entry
point and the exception, no traceback, every other account still validated.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler import carriers
from reconciler.cli import main

CARRIER_MODULE = """
from pydantic import StrictBool, StrictStr

from reconciler.carriers import Carrier
from reconciler.config import ProviderConfig
from reconciler.models import StrictSettings


class AcmeSettings(StrictSettings):
    forward_to: StrictStr | None = None
    record: StrictBool | None = None


class AcmeConfig(ProviderConfig):
    region: StrictStr = "eu"


CARRIER = Carrier(
    name="acme",
    settings_model=AcmeSettings,
    config_model=AcmeConfig,
    provider="acme_numbers.provider:AcmeProvider",
    default_base_url="https://api.acme.invalid",
    key_env="ACME_API_KEY",
    call_label="POST /bulk",
    default_max_batch=2,
    hard_max_batch=10,
    routing_fields=("forward_to",),
)
"""

PROVIDER_MODULE = '''
import json
import subprocess

import httpx

from reconciler.errors import ProviderError
from reconciler.providers.base import HttpProvider
from reconciler.providers.http import Counter
from reconciler.providers.open import open_provider
from reconciler.seam import AccountFatal, CallResult, CallStatus, LiveNumber


class FakeAcme:
    """The carrier, in process: numbers in a dict, every request logged."""

    def __init__(self):
        self.numbers = {
            str(i): {"id": str(i), "e164": f"+4930555010{i}", "forward_to": "a", "record": False}
            for i in range(4)
        }
        self.log = []

    def handle(self, request):
        self.log.append((request.method, request.url.path))
        if request.headers.get("authorization") != "Bearer acme-key-0001":
            return httpx.Response(401, text="bad key")
        if request.method == "GET":
            return httpx.Response(200, json={"numbers": list(self.numbers.values())})
        body = json.loads(request.content)
        for id_ in body["ids"]:
            self.numbers[id_].update(body["patch"])
        return httpx.Response(200, json={"ok": True})


API = FakeAcme()


class AcmeProvider(HttpProvider):
    @classmethod
    def open(cls, name, config, source, *, sandbox=None, transport=None, clock=None, budgets=None):
        key = config.api_key.get_secret_value()
        return open_provider(
            name, config, api_key=key, transport=httpx.MockTransport(API.handle), clock=clock
        )

    async def fetch_all(self):
        body = (await self.http.request("GET", "/numbers")).json()
        return sorted((self._live(item) for item in body["numbers"]), key=lambda n: n.e164)

    async def fetch(self, ids):
        wanted = set(ids)
        return [n for n in await self.fetch_all() if n.id in wanted]

    async def apply(self, call):
        sent = Counter()
        try:
            await self.http.request(
                "POST", "/bulk", json={"ids": list(call.ids), "patch": call.patch}, counter=sent
            )
        except AccountFatal:
            raise
        except ProviderError as exc:
            return CallResult(call, CallStatus.FAILED, error=str(exc), requests=sent.n)
        return CallResult(call, CallStatus.OK, requests=sent.n)

    @staticmethod
    def _live(item):
        settings = {"forward_to": item["forward_to"], "record": item["record"]}
        return LiveNumber(item["id"], item["e164"], "active", settings)
'''

CONFIG = """\
providers:
  acme-main:
    type: acme
    api_key: ${ACME_API_KEY}
    region: us
profiles:
  standard: {forward_to: b, record: true}
numbers:
  - {provider: acme-main, number: "+4930555010*", profile: standard}
  - {provider: acme-main, number: "+49305550103", settings: {record: false}}
"""


def _distribution(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> None:
    """What ``pip install`` leaves on a path: the modules and a ``*.dist-info`` directory."""
    package = site / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for module, text in modules.items():
        (package / f"{module}.py").write_text(textwrap.dedent(text))
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    (info / "RECORD").write_text("")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    carriers.registry()  # discovered (and cached) before the package is on the path
    site = tmp_path / "site"
    _distribution(
        site,
        "acme_numbers",
        "[reconciler.carriers]\nacme = acme_numbers.carrier:CARRIER\n",
        {"carrier": CARRIER_MODULE, "provider": PROVIDER_MODULE},
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in [m for m in sys.modules if m.split(".")[0] in ("acme_numbers", "busted")]:
        del sys.modules[module]


@pytest.fixture
def broken_site(site: Path) -> Path:
    _distribution(
        site,
        "busted",
        "[reconciler.carriers]\nbusted = busted.carrier:CARRIER\n",
        {"carrier": "raise RuntimeError('busted plugin: missing dependency frobnicate')\n"},
    )
    return site


def _cli(args: list[str], config: Path | None = None, **env: str) -> Result:
    paths = [str(config)] if config is not None else []
    return CliRunner().invoke(main, [*args, *paths], env={"ACME_API_KEY": "acme-key-0001", **env})


def test_an_installed_carrier_package_validates_plans_applies_and_has_a_schema(
    site: Path, tmp_path: Path
) -> None:
    config = tmp_path / "acme.yaml"
    config.write_text(CONFIG)
    with carriers.using() as found:
        assert "acme" in found and {"wavix", "telnyx"} <= set(found)
        assert "httpx" not in _imported_by(found["acme"])  # the record is light
        validated = _cli(["validate"], config)
        assert validated.exit_code == 0, validated.output

        planned = _cli(["plan", "--format", "json"], config)
        assert planned.exit_code == 0, planned.output
        plan = json.loads(planned.stdout)
        assert plan["accounts"][0]["carrier"] == "acme"
        # 3 numbers want {forward_to, record}, one only forward_to; at most 2 ids per call.
        assert [len(c["ids"]) for c in plan["calls"]] == [2, 1, 1]

        applied = _cli(["apply", "--auto-approve"], config)
        assert applied.exit_code == 0, applied.output
        api: Any = sys.modules["acme_numbers.provider"].API
        assert api.numbers["0"]["forward_to"] == "b" and api.numbers["0"]["record"] is True
        assert api.numbers["3"] == {
            "id": "3",
            "e164": "+49305550103",
            "forward_to": "b",
            "record": False,
        }
        assert ("POST", "/bulk") in api.log
        again = _cli(["plan", "--detailed-exitcode"], config)
        assert again.exit_code == 0, again.output  # converged: nothing left to change

        schema = _cli(["schema"])
        assert schema.exit_code == 0, schema.output
        text = schema.stdout
        assert "forward_to" in text and "region" in text and '"acme"' in text
    assert "acme" not in carriers.registry()  # the registry before the block is back


def test_a_plugin_that_fails_to_load_is_reported_for_its_account_only(
    broken_site: Path, tmp_path: Path
) -> None:
    config = tmp_path / "mixed.yaml"
    config.write_text(
        "providers:\n"
        "  odd:\n"
        "    type: busted\n"
        "    api_key: ${ACME_API_KEY}\n"
        "  acme-main:\n"
        "    type: acme\n"
        "    api_key: ${ACME_API_KEY}\n"
        "    region: [not, a, string]\n"
        "numbers: []\n"
    )
    with carriers.using() as found:
        assert "acme" in found and "busted" not in found
        assert "busted" in carriers.broken()
        result = _cli(["validate"], config)
    assert result.exit_code == 1, result.output
    out = result.output
    assert "Traceback" not in out
    # The broken carrier's account: where, the entry point, the exception.
    assert "mixed.yaml:3" in out
    assert "busted = 'busted.carrier:CARRIER'" in out
    assert "RuntimeError: busted plugin: missing dependency frobnicate" in out
    # The other account was still validated (its own mistake is reported too).
    assert "mixed.yaml:8: providers.acme-main: region: Input should be a valid string" in out


def _imported_by(carrier: carriers.Carrier) -> set[str]:
    """Top-level names of the modules the record's module holds (what it imported)."""
    module = sys.modules[carrier.settings_model.__module__]
    return {
        getattr(v, "__module__", None) or getattr(v, "__name__", "") for v in vars(module).values()
    }


def test_without_distribution_metadata_the_built_in_carriers_are_still_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A source tree run without installing has no entry points: the provider packages beside
    ``carriers.py`` are scanned for a ``carrier`` module instead, in the usual order."""
    monkeypatch.setattr(carriers, "entry_points", lambda group: [])
    with carriers.using() as found:
        assert list(found)[:2] == ["wavix", "telnyx"]
        assert not carriers.broken()


def test_the_built_in_entry_points_load_no_http_client() -> None:
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "loaded = [ep.load() for ep in entry_points(group='reconciler.carriers')]\n"
        "print(sorted(c.name for c in loaded))\n"
        "print('httpx' in sys.modules, any(m.endswith('.provider') for m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.splitlines() == ["['telnyx', 'wavix']", "False False"], done.stderr
