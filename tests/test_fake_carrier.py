"""A third carrier needs no core change: a minimal fake carrier (settings model + provider + an
in-test transport) registered here goes through validate, plan and apply of the public core."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from pydantic import StrictBool, StrictStr

from reconciler import carriers
from reconciler.cli import main
from reconciler.config import ProviderConfig
from reconciler.loader import load
from reconciler.models import LiveNumber, StrictSettings
from reconciler.plan import BulkCall
from reconciler.providers import AccountFatal, CallResult, CallStatus, Provider
from reconciler.providers.http import Counter
from reconciler.runner import apply, open_accounts, plan_accounts


class FakeSettings(StrictSettings):
    forward: StrictStr | None = None
    recording: StrictBool | None = None


class FakeProvider(Provider):
    """A carrier with ``GET /numbers`` (one page) and ``POST /bulk`` ({ids, patch})."""

    async def fetch_all(self) -> list[LiveNumber]:
        body = (await self.http.request("GET", "/numbers")).json()
        return sorted((_live(item) for item in body["numbers"]), key=lambda n: n.e164)

    async def fetch(self, ids: Sequence[str]) -> list[LiveNumber]:
        wanted = set(ids)
        return [n for n in await self.fetch_all() if n.id in wanted]

    async def apply(self, call: BulkCall) -> CallResult:
        sent = Counter()
        try:
            await self.http.request(
                "POST", "/bulk", json={"ids": list(call.ids), "patch": call.patch}, counter=sent
            )
        except AccountFatal:
            raise
        except Exception as exc:
            return CallResult(call, CallStatus.FAILED, error=str(exc), requests=sent.n)
        return CallResult(call, CallStatus.OK, requests=sent.n)


def _live(item: dict[str, Any]) -> LiveNumber:
    return LiveNumber(
        item["id"], item["e164"], "active", {"forward": item["forward"], "recording": item["rec"]}
    )


class FakeCarrierApi:
    """The in-test carrier: numbers in a dict, a request log."""

    def __init__(self) -> None:
        self.numbers = {
            str(i): {"id": str(i), "e164": f"+1313555010{i}", "forward": "a", "rec": False}
            for i in range(5)
        }
        self.log: list[tuple[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.log.append((request.method, request.url.path))
        if request.headers.get("authorization") != "Bearer fake-key-123":
            return httpx.Response(401, text="bad key")
        if request.method == "GET":
            return httpx.Response(200, json={"numbers": list(self.numbers.values())})
        body = json.loads(request.content)
        names = {"forward": "forward", "recording": "rec"}
        for id_ in body["ids"]:
            for field, value in body["patch"].items():
                self.numbers[id_][names[field]] = value
        return httpx.Response(200, json={"ok": True})


@pytest.fixture
def fake_carrier() -> Iterator[None]:
    fake = carriers.Carrier(
        name="fake",
        settings_model=FakeSettings,
        config_model=ProviderConfig,
        provider=FakeProvider,
        default_base_url="https://api.fake.invalid",
        key_env="FAKE_API_KEY",
        call_label="POST /bulk",
        default_max_batch=2,
        hard_max_batch=10,
        routing_fields=("forward",),
    )
    with carriers.using(*carriers.registry().values(), fake):
        yield


CONFIG = """\
providers:
  fake-main:
    type: fake
    api_key: ${FAKE_API_KEY}
profiles:
  standard: {forward: b, recording: true}
numbers:
  - {provider: fake-main, number: "+1313555010*", profile: standard}
  - {provider: fake-main, number: "+13135550104", settings: {recording: false}}
"""


async def test_a_registered_carrier_validates_plans_and_applies(
    fake_carrier: None, tmp_path: Path
) -> None:
    path = tmp_path / "fake.yaml"
    path.write_text(CONFIG)
    result = CliRunner().invoke(main, ["validate", str(path)], env={"FAKE_API_KEY": "x"})
    assert result.exit_code == 0, result.output
    state = load(path, env={"FAKE_API_KEY": "fake-key-123"})
    api = FakeCarrierApi()
    transports = {"fake-main": httpx.MockTransport(api.handle)}
    async with open_accounts(state, transports=transports) as providers:
        plan = await plan_accounts(state, providers)
        report = await apply(plan, providers)
        again = await plan_accounts(state, providers)
    assert plan.changed == 5
    # Cover grouping works on any carrier: 4 numbers want {forward, recording}, one only forward;
    # batch limit 2 → 3 calls.
    assert len(plan.calls) == 3 and all(len(c.ids) <= 2 for c in plan.calls)
    assert report.exit_code == 0 and report.verified == 5
    assert not again.has_changes
    assert api.numbers["4"] == {"id": "4", "e164": "+13135550104", "forward": "b", "rec": False}
    assert ("POST", "/bulk") in api.log


def test_a_fake_carrier_key_error_names_its_variable(fake_carrier: None, tmp_path: Path) -> None:
    path = tmp_path / "fake.yaml"
    path.write_text(CONFIG)
    result = CliRunner().invoke(main, ["plan", str(path)], env={"FAKE_API_KEY": ""})
    assert result.exit_code == 1
    assert "fake.yaml:2" in result.output and "FAKE_API_KEY" in result.output
    assert "Traceback" not in result.output


def test_the_schema_lists_a_registered_carrier(fake_carrier: None) -> None:
    from reconciler.schema import config_schema

    schema = json.dumps(config_schema())
    assert '"const": "fake"' in schema and "FakeSettings" in schema


async def test_an_account_fatal_error_stops_only_that_account(
    fake_carrier: None, tmp_path: Path
) -> None:
    """A key without write scope (403 on every write) stops its account's remaining calls; the
    other account's calls still run (the contract in providers/base.py)."""
    path = tmp_path / "two.yaml"
    two = CONFIG.replace("fake-main", "fake-a").replace(
        "providers:\n", "providers:\n  fake-b:\n    type: fake\n    api_key: ${FAKE_API_KEY}\n"
    )
    path.write_text(two + "  - {provider: fake-b, number: '+1313555010*', profile: standard}\n")
    state = load(path, env={"FAKE_API_KEY": "fake-key-123"})
    read_only, writable = FakeCarrierApi(), FakeCarrierApi()

    def refuse_writes(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            read_only.log.append(("POST", "refused"))
            return httpx.Response(403, text="key lacks write scope")
        return read_only.handle(request)

    transports = {
        "fake-a": httpx.MockTransport(refuse_writes),
        "fake-b": httpx.MockTransport(writable.handle),
    }
    async with open_accounts(state, transports=transports) as providers:
        plan = await plan_accounts(state, providers)
        report = await apply(plan, providers)
    calls_a = [c for c in plan.calls if c.account == "fake-a"]
    assert len(calls_a) == 3
    assert list(report.stopped) == ["fake-a"] and "403" in report.stopped["fake-a"]
    assert report.exit_code == 1
    # fake-a: one refused write, then its other calls were not sent (default 4 in flight may
    # have started a few before the refusal was known; none after).
    assert read_only.log.count(("POST", "refused")) + len(report.not_attempted) == 3
    # fake-b: every number applied and verified.
    assert all(n["forward"] == "b" for n in writable.numbers.values())
    assert report.verified == 5
