"""The Wavix simulator, over HTTP (in-process ASGI), every exchange checked against the spec."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import spec_path
from contract import ContractTransport

from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox
from reconciler.sandbox import wavix as sim

BASE = "http://sandbox.invalid/wavix"
SPEC = "wavix-numbers.openapi.json"
NUMBERS = "/v1/numbers"
DETROIT_MAIN = 400001  # +13135550100, the first seeded number
SIP = {"destination": "sip:new@pbx.example.com", "priority": 1, "transport": 1}

Client = Callable[..., httpx.Response]


@pytest.fixture
def contract(sandbox: Sandbox) -> ContractTransport:
    return ContractTransport(httpx.ASGITransport(app=sandbox.app), spec_path(SPEC), sim.MOUNT)


@pytest.fixture
def call(contract: ContractTransport) -> Iterator[Client]:
    """``call(method, path, key=DEFAULT_KEY, **httpx kwargs)`` → response, run to completion."""

    async def send(
        method: str, path: str, key: str | None = sim.DEFAULT_KEY, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        async with httpx.AsyncClient(transport=contract, base_url=BASE, headers=headers) as client:
            return await client.request(method, path, **kw)

    def run(method: str, path: str, **kw: Any) -> httpx.Response:
        return asyncio.run(send(method, path, **kw))

    yield run  # type: ignore[misc]


def response_violations(contract: ContractTransport) -> list[str]:
    return [str(v) for v in contract.violations if v.side == "response"]


def get(call: Client, id_: int) -> dict[str, Any]:
    response = call("GET", f"{NUMBERS}/{id_}")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


# ---- listing


def test_list_default_page_envelope(call: Client, contract: ContractTransport) -> None:
    body = call("GET", NUMBERS).json()
    assert set(body) == {"items", "doc_types", "pagination"}
    assert body["pagination"] == {"current_page": 1, "per_page": 25, "total": 60, "total_pages": 3}
    assert [n["id"] for n in body["items"]] == list(range(400001, 400026))
    contract.assert_clean(min_exchanges=1)


def test_pages_cover_every_number_once_in_id_order(
    call: Client, contract: ContractTransport
) -> None:
    seen = []
    for page in (1, 2, 3, 4):
        body = call("GET", NUMBERS, params={"page": page, "per_page": 25}).json()
        assert body["pagination"]["current_page"] == page
        seen += [n["id"] for n in body["items"]]
    assert seen == list(range(400001, 400061))  # page 4 is empty
    contract.assert_clean(min_exchanges=4)


def test_per_page_100_and_over_100_is_a_400(call: Client, contract: ContractTransport) -> None:
    assert len(call("GET", NUMBERS, params={"per_page": 100}).json()["items"]) == 60
    bad = call("GET", NUMBERS, params={"per_page": 101})
    assert bad.status_code == 400
    assert bad.json() == {"success": False, "message": "Missing or invalid parameter per_page"}
    assert call("GET", NUMBERS, params={"page": 0}).status_code == 400
    contract.assert_clean(min_exchanges=3)


def test_filters_search_label_and_label_present(call: Client, contract: ContractTransport) -> None:
    def numbers(**params: Any) -> list[str]:
        body = call("GET", NUMBERS, params={"per_page": 100, **params}).json()
        assert body["pagination"]["total"] == len(body["items"])
        return [n["number"] for n in body["items"]]

    assert len(numbers(search="1212555")) == 12
    assert numbers(search="+13135550100") == ["13135550100"]
    assert numbers(label="UK support") == ["442079460100", "442079460101"]
    assert set(numbers(label_present=True)) == {
        "13135550100",
        "12125550100",
        "442079460100",
        "442079460101",
    }
    assert len(numbers(label_present=False)) == 56
    assert len(numbers(city_id=4420)) == 4
    contract.assert_clean(min_exchanges=6)


def test_get_one_and_unknown_id(call: Client, contract: ContractTransport) -> None:
    number = get(call, DETROIT_MAIN)
    assert (number["number"], number["label"]) == ("13135550100", "Detroit main line")
    missing = call("GET", f"{NUMBERS}/999")
    assert (missing.status_code, missing.json()) == (
        404,
        {"success": False, "message": "Record not found"},
    )
    contract.assert_clean(min_exchanges=2)


# ---- auth and scopes


@pytest.mark.parametrize("key", [None, "wvx_not_a_key"])
def test_missing_or_unknown_key_is_401(
    call: Client, contract: ContractTransport, key: str | None
) -> None:
    response = call("GET", NUMBERS, key=key)
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": True, "message": "Unauthorized"}
    assert response_violations(contract) == []


def test_read_only_key_reads_but_cannot_patch(call: Client, contract: ContractTransport) -> None:
    assert call("GET", NUMBERS, key=sim.READONLY_KEY).status_code == 200
    response = call(
        "PATCH", NUMBERS, key=sim.READONLY_KEY, json={"ids": [DETROIT_MAIN], "sms_enabled": False}
    )
    assert response.status_code == 403
    assert response.json()["success"] is False
    assert "numbers:write" in response.json()["message"]
    assert (
        call("PATCH", f"{NUMBERS}/{DETROIT_MAIN}", key=sim.READONLY_KEY, json={}).status_code == 403
    )
    assert get(call, DETROIT_MAIN)["sms_enabled"] is True
    contract.assert_clean(min_exchanges=4)


# ---- validation


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"ids": [DETROIT_MAIN], "label": "x"}, "label"),
        (
            {"ids": [DETROIT_MAIN], "destinations": [{**SIP, "transport": 2}]},
            "destinations.0.transport",
        ),
        (
            {"ids": [DETROIT_MAIN], "destinations": [{**SIP, "transport": True}]},
            "destinations.0.transport",
        ),
        ({"ids": [DETROIT_MAIN], "sms_relay_url": "not a url"}, "sms_relay_url"),
        ({"ids": [DETROIT_MAIN], "call_status_url": "ftp://x.example"}, "call_status_url"),
        ({"ids": [DETROIT_MAIN], "sms_relay_url": None}, "sms_relay_url"),
        ({"ids": [DETROIT_MAIN], "sms_enabled": "yes"}, "sms_enabled"),
        ({"ids": [DETROIT_MAIN], "transcription_threshold": 30.5}, "transcription_threshold"),
        ({"sms_enabled": True}, "ids"),
        ({"ids": [DETROIT_MAIN, "400002"]}, "ids.1"),
        ({"ids": []}, "ids"),
        (
            {"ids": [DETROIT_MAIN], "destinations": [{**SIP, "transport": 5}]},
            "destinations.0.trunk_id",
        ),
        (
            {"ids": [DETROIT_MAIN], "destinations": [{**SIP, "trunk_id": 3107}]},
            "destinations.0.trunk_id",
        ),
    ],
)
def test_invalid_bulk_patch_is_400_naming_the_parameter(
    call: Client, contract: ContractTransport, body: dict[str, Any], param: str
) -> None:
    before = get(call, DETROIT_MAIN)
    response = call("PATCH", NUMBERS, json=body)
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": f"Missing or invalid parameter {param}"}
    assert get(call, DETROIT_MAIN) == before
    assert response_violations(contract) == []


def test_body_that_is_not_json_is_400(call: Client) -> None:
    response = call(
        "PATCH", NUMBERS, content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Missing or invalid parameter body"


# ---- bulk PATCH semantics


def test_unknown_id_refuses_the_whole_request(
    call: Client, contract: ContractTransport, clock: FakeClock
) -> None:
    before = get(call, DETROIT_MAIN)
    response = call(
        "PATCH",
        NUMBERS,
        json={"ids": [DETROIT_MAIN, 999], "sms_enabled": False, "destinations": [SIP]},
    )
    assert (response.status_code, response.json()) == (
        404,
        {"success": False, "message": "Record not found"},
    )
    clock.advance(10)
    assert get(call, DETROIT_MAIN) == before
    contract.assert_clean(min_exchanges=3)


def test_sync_fields_apply_at_once_async_fields_after_the_delay(
    call: Client, contract: ContractTransport, clock: FakeClock
) -> None:
    old = get(call, DETROIT_MAIN)
    patch = {
        "ids": [DETROIT_MAIN, 400002, DETROIT_MAIN],
        "call_recording_enabled": False,
        "destinations": [SIP],
        "sms_relay_url": "https://hooks.example.com/new",
    }
    response = call("PATCH", NUMBERS, json=patch)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [n["id"] for n in items] == [DETROIT_MAIN, 400002]  # duplicates applied once
    # The response already shows the synchronous field, and still the old async ones.
    assert items[0]["call_recording_enabled"] is False
    assert items[0]["destination"] == old["destination"]
    assert items[0]["sms_relay_url"] == old["sms_relay_url"]

    clock.advance(0.5)
    assert get(call, DETROIT_MAIN)["destination"] == old["destination"]
    clock.advance(0.6)
    for id_ in (DETROIT_MAIN, 400002):
        now = get(call, id_)
        assert now["sms_relay_url"] == "https://hooks.example.com/new"
        assert [
            (d["destination"], d["priority"], d["transport"], d["trunk_id"], d["trunk_label"])
            for d in now["destination"]
        ] == [("sip:new@pbx.example.com", 1, 1, None, None)]
    contract.assert_clean(min_exchanges=5)


def test_async_delay_knob(call: Client, sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.store.set_knob("wavix.async_delay_s", 5)
    call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN], "destinations": []})
    clock.advance(4.9)
    assert get(call, DETROIT_MAIN)["destination"] != []
    clock.advance(0.2)
    assert get(call, DETROIT_MAIN)["destination"] == []  # [] replaces all: no destinations

    sandbox.store.set_knob("wavix.async_delay_s", 0)
    response = call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN], "destinations": [SIP]})
    assert response.json()["items"][0]["destination"][0]["destination"] == SIP["destination"]


def test_destinations_replace_all_and_keep_ids_of_kept_entries(
    call: Client, sandbox: Sandbox
) -> None:
    sandbox.store.set_knob("wavix.async_delay_s", 0)
    old = get(call, DETROIT_MAIN)["destination"]
    kept = {k: old[1][k] for k in ("destination", "priority", "transport")}
    trunk = {"destination": "32882", "priority": 2, "transport": 5, "trunk_id": 3107}
    call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN], "destinations": [kept, trunk]})
    new = get(call, DETROIT_MAIN)["destination"]
    assert [d["destination"] for d in new] == ["+13135550199", "32882"]
    assert new[0]["id"] == old[1]["id"]
    assert new[1]["id"] not in {d["id"] for d in old}
    assert (new[1]["trunk_id"], new[1]["trunk_label"]) == (3107, "Detroit PBX trunk")


def test_single_patch_applies_everything_at_once(call: Client, contract: ContractTransport) -> None:
    response = call(
        "PATCH",
        f"{NUMBERS}/{DETROIT_MAIN}",
        json={"destinations": [SIP], "sms_relay_url": "https://h.example.com/s"},
    )
    assert response.status_code == 200
    assert response.json()["sms_relay_url"] == "https://h.example.com/s"
    assert get(call, DETROIT_MAIN)["destination"][0]["destination"] == SIP["destination"]
    assert call("PATCH", f"{NUMBERS}/999", json={}).status_code == 404
    assert call("PATCH", f"{NUMBERS}/{DETROIT_MAIN}", json={"ids": [1]}).status_code == 400
    assert response_violations(contract) == []


def test_single_patch_supersedes_a_pending_bulk_change(call: Client, clock: FakeClock) -> None:
    call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN], "sms_relay_url": "https://a.example.com/"})
    call("PATCH", f"{NUMBERS}/{DETROIT_MAIN}", json={"sms_relay_url": "https://b.example.com/"})
    clock.advance(5)
    assert get(call, DETROIT_MAIN)["sms_relay_url"] == "https://b.example.com/"


def test_release_is_not_routed(call: Client) -> None:
    assert call("DELETE", NUMBERS, params={"ids": DETROIT_MAIN}).status_code == 405


# ---- knobs


def test_fail_next_pops_one_status_per_request(call: Client, sandbox: Sandbox) -> None:
    sandbox.store.set_knob("wavix.fail_next", [503, {"status": 429, "retry_after": 2}])
    first, second, third = (call("GET", NUMBERS) for _ in range(3))
    assert (first.status_code, first.headers["retry-after"]) == (503, "1")
    assert (second.status_code, second.headers["retry-after"]) == (429, "2")
    assert second.json()["success"] is False
    assert third.status_code == 200
    assert sandbox.store.knob("wavix.fail_next") is None


def test_max_ids_knob(call: Client, sandbox: Sandbox) -> None:
    sandbox.store.set_knob("wavix.max_ids", 1)
    response = call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN, 400002], "sms_enabled": True})
    assert response.json()["message"] == "Missing or invalid parameter ids"


# ---- the seed


def test_seed_is_the_documented_one() -> None:
    numbers = {n["number"]: n for n in sim.seed_numbers()}
    assert len(numbers) == 60
    assert [n["id"] for n in sim.seed_numbers()] == list(range(400001, 400061))
    assert sum(k.startswith("1313555") for k in numbers) == 40
    assert sum(k.startswith("1212555") for k in numbers) == 12
    assert numbers["13135550130"]["status"] == "inactive"
    assert numbers["13135550100"]["transcription_threshold"] == 45
    assert numbers == {n["number"]: n for n in sim.seed_numbers()}  # deterministic


def test_seed_synthetic_loads_dense_pages(
    sandbox: Sandbox, call: Client, contract: ContractTransport
) -> None:
    ids = sim.seed_synthetic(
        sandbox.store,
        250,
        settings={"sms_enabled": True},
        drift={"sms_enabled": False},
        drift_every=10,
    )
    assert (ids.start, ids.stop) == (400061, 400311)
    body = call("GET", NUMBERS, params={"page": 4, "per_page": 100}).json()
    assert body["pagination"] == {
        "current_page": 4,
        "per_page": 100,
        "total": 310,
        "total_pages": 4,
    }
    items = body["items"]
    assert [n["id"] for n in items] == list(range(400301, 400311))
    assert items[-1]["number"] == "12482000249"
    assert [n["sms_enabled"] for n in items] == [True] * 9 + [False]
    # a synthetic number's destinations are ordinary ones: they can be patched like any other
    assert call("PATCH", f"{NUMBERS}/400100", json={"sms_enabled": False}).status_code == 200
    contract.assert_clean(min_exchanges=2)


def test_bulk_insert_takes_number_dicts(sandbox: Sandbox, call: Client) -> None:
    number = sim.make_number(500000, "14155550199", label="lobby")
    assert sim.bulk_insert(sandbox.store, [number], city_id=4151) == 1
    assert get(call, 500000) == number
    # ids are no longer dense: listing falls back to offsets and still counts right
    body = call("GET", NUMBERS, params={"page": 1, "per_page": 100}).json()
    assert body["pagination"]["total"] == 61
    assert body["items"][-1]["id"] == 500000


# ---- the contract checker itself must be able to fail


def test_contract_checker_flags_an_invalid_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        bad = {**sim.seed_numbers()[0], "surprise": 1, "seconds": 7}
        return httpx.Response(
            200, content=json.dumps(bad), headers={"content-type": "application/json"}
        )

    contract = ContractTransport(httpx.MockTransport(handler), spec_path(SPEC), sim.MOUNT)

    async def go() -> None:
        async with httpx.AsyncClient(
            transport=contract, base_url=BASE, headers={"Authorization": "Bearer k"}
        ) as client:
            await client.get(f"{NUMBERS}/1")

    asyncio.run(go())
    text = "\n".join(map(str, contract.violations))
    assert "surprise" in text and "seconds" in text
    with pytest.raises(AssertionError):
        contract.assert_clean()
    empty = ContractTransport(httpx.MockTransport(handler), spec_path(SPEC), sim.MOUNT)
    with pytest.raises(AssertionError, match="only 0 exchange"):
        empty.assert_clean(min_exchanges=1)
