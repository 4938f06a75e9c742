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
from wavix_contract import wavix_spec

from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox
from reconciler.sandbox import wavix as sim

BASE = "http://sandbox.invalid/wavix"
SPEC = "wavix-numbers.openapi.json"
NUMBERS = "/v1/numbers"
DETROIT_MAIN = sim.FIRST_ID  # 47832123001: +13135550100, the first seeded number
SECOND = DETROIT_MAIN + 1  # +13135550101
LONE = 987_654_321_012  # a 12-digit id away from the dense seed
SIP = {"destination": "sip:new@pbx.example.com", "priority": 1, "transport": 1}

Client = Callable[..., httpx.Response]


@pytest.fixture
def contract(sandbox: Sandbox) -> ContractTransport:
    return ContractTransport(httpx.ASGITransport(app=sandbox.app), wavix_spec(), sim.MOUNT)


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
    assert [n["id"] for n in body["items"]] == list(range(DETROIT_MAIN, DETROIT_MAIN + 25))
    contract.assert_clean(min_exchanges=1)


def test_pages_cover_every_number_once_in_id_order(
    call: Client, contract: ContractTransport
) -> None:
    seen = []
    for page in (1, 2, 3, 4):
        body = call("GET", NUMBERS, params={"page": page, "per_page": 25}).json()
        assert body["pagination"]["current_page"] == page
        seen += [n["id"] for n in body["items"]]
    assert seen == list(range(DETROIT_MAIN, DETROIT_MAIN + 60))  # page 4 is empty
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
        ({"ids": [DETROIT_MAIN, str(SECOND)]}, "ids.1"),
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
        "ids": [DETROIT_MAIN, SECOND, DETROIT_MAIN],
        "call_recording_enabled": False,
        "destinations": [SIP],
        "sms_relay_url": "https://hooks.example.com/new",
    }
    response = call("PATCH", NUMBERS, json=patch)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [n["id"] for n in items] == [DETROIT_MAIN, SECOND]  # duplicates applied once
    # The response already shows the synchronous field, and still the old async ones.
    assert items[0]["call_recording_enabled"] is False
    assert items[0]["destination"] == old["destination"]
    assert items[0]["sms_relay_url"] == old["sms_relay_url"]

    clock.advance(0.5)
    assert get(call, DETROIT_MAIN)["destination"] == old["destination"]
    clock.advance(0.6)
    for id_ in (DETROIT_MAIN, SECOND):
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
    response = call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN, SECOND], "sms_enabled": True})
    assert response.json()["message"] == "Missing or invalid parameter ids"


# ---- the seed


def test_seed_is_the_documented_one() -> None:
    numbers = {n["number"]: n for n in sim.seed_numbers()}
    assert len(numbers) == 60
    assert [n["id"] for n in sim.seed_numbers()] == list(range(DETROIT_MAIN, DETROIT_MAIN + 60))
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
    assert (ids.start, ids.stop) == (DETROIT_MAIN + 60, DETROIT_MAIN + 310)
    body = call("GET", NUMBERS, params={"page": 4, "per_page": 100}).json()
    assert body["pagination"] == {
        "current_page": 4,
        "per_page": 100,
        "total": 310,
        "total_pages": 4,
    }
    items = body["items"]
    assert [n["id"] for n in items] == list(range(DETROIT_MAIN + 300, DETROIT_MAIN + 310))
    assert items[-1]["number"] == "12482000249"
    assert [n["sms_enabled"] for n in items] == [True] * 9 + [False]
    # a synthetic number's destinations are ordinary ones: they can be patched like any other
    assert (
        call("PATCH", f"{NUMBERS}/{DETROIT_MAIN + 99}", json={"sms_enabled": False}).status_code
        == 200
    )
    contract.assert_clean(min_exchanges=2)


def test_bulk_insert_takes_number_dicts(sandbox: Sandbox, call: Client) -> None:
    number = sim.make_number(LONE, "14155550199", label="lobby")
    assert sim.bulk_insert(sandbox.store, [number], city_id=4151) == 1
    assert get(call, LONE) == number
    # ids are no longer dense: listing falls back to offsets and still counts right
    body = call("GET", NUMBERS, params={"page": 1, "per_page": 100}).json()
    assert body["pagination"]["total"] == 61
    assert body["items"][-1]["id"] == LONE


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


# ---- carrier behaviours the kind defaults hide (issue 7, items 9-13)

UK = sim.FIRST_ID + 52  # +442079460100, London (GB)
INACTIVE = sim.FIRST_ID + 30  # +13135550130, status inactive


def test_sparse_items_drop_and_null_fields_in_every_number_response(
    call: Client, sandbox: Sandbox, contract: ContractTransport
) -> None:
    full = get(call, DETROIT_MAIN)
    sandbox.store.set_knob(
        "wavix.sparse_items",
        {
            "+13135550100": {"drop": ["destination.transport"], "null": ["sms_enabled"]},
            "*": {"null": ["transcription_threshold"]},
        },
    )
    listed = call("GET", NUMBERS, params={"per_page": 100}).json()["items"]
    for number in (listed[0], get(call, DETROIT_MAIN)):
        assert all("transport" not in d for d in number["destination"])
        assert number["sms_enabled"] is None and number["transcription_threshold"] is None
        assert number["destination"][0]["destination"] == full["destination"][0]["destination"]
    assert listed[1]["sms_enabled"] is True and listed[1]["destination"][0]["transport"] == 1
    assert all(n["transcription_threshold"] is None for n in listed)
    patched = call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN], "call_recording_enabled": False})
    assert patched.json()["items"][0]["sms_enabled"] is None
    # the responses break the published schema exactly there; the stored state is whole
    text = "\n".join(response_violations(contract))
    assert "transport" in text and "sms_enabled" in text
    sandbox.store.set_knob("wavix.sparse_items", None)
    assert get(call, DETROIT_MAIN) == {**full, "call_recording_enabled": False}


@pytest.mark.parametrize(
    ("knob", "body", "message"),
    [
        (
            "wavix.refuse_sms_outside_us_ca",
            {"sms_enabled": True},
            "Inbound SMS can only be activated on US and CA phone numbers",
        ),
        (
            "wavix.refuse_inactive",
            {"call_recording_enabled": True},
            "The phone number is not active",
        ),
    ],
)
def test_one_refused_number_fails_the_whole_bulk_patch_naming_none(
    call: Client, sandbox: Sandbox, clock: FakeClock, knob: str, body: dict[str, Any], message: str
) -> None:
    sandbox.store.set_knob(knob, True)
    ids = [DETROIT_MAIN, SECOND, UK, INACTIVE]
    before = [get(call, i) for i in ids]
    response = call("PATCH", NUMBERS, json={"ids": ids, **body, "destinations": [SIP]})
    assert (response.status_code, response.json()) == (400, {"success": False, "message": message})
    clock.advance(60)
    assert [get(call, i) for i in ids] == before  # nothing applied, nothing queued
    # without the refused number the same patch goes through
    refused = UK if "sms" in knob else INACTIVE
    rest = [i for i in ids if i != refused]
    assert call("PATCH", NUMBERS, json={"ids": rest, **body}).status_code == 200
    assert call("PATCH", f"{NUMBERS}/{refused}", json=body).status_code == 400


def test_refusals_by_number_with_the_legacy_422(call: Client, sandbox: Sandbox) -> None:
    sandbox.store.set_knob("wavix.refuse_numbers", ["+13135550101"])
    sandbox.store.set_knob("wavix.refusal_status", 422)
    response = call("PATCH", NUMBERS, json={"ids": [DETROIT_MAIN, SECOND], "sms_enabled": False})
    assert (response.status_code, response.json()) == (
        422,
        {"success": False, "message": "Missing or invalid parameter ids"},
    )
    # refusing SMS outside US/CA is about enabling it: disabling SMS on London is accepted
    sandbox.store.set_knob("wavix.refuse_sms_outside_us_ca", True)
    assert call("PATCH", NUMBERS, json={"ids": [UK], "sms_enabled": False}).status_code == 200


def test_async_fields_can_take_longer_than_a_30s_verify(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("wavix.async_delay_s", {"destinations": 45, "sms_relay_url": 90})
    url = "https://hooks.example.com/slow"
    call(
        "PATCH", NUMBERS, json={"ids": [DETROIT_MAIN], "destinations": [SIP], "sms_relay_url": url}
    )
    clock.advance(30)
    now = get(call, DETROIT_MAIN)
    assert (
        now["destination"][0]["destination"] != SIP["destination"] and now["sms_relay_url"] != url
    )
    clock.advance(15)
    now = get(call, DETROIT_MAIN)
    assert (
        now["destination"][0]["destination"] == SIP["destination"] and now["sms_relay_url"] != url
    )
    clock.advance(45)
    assert get(call, DETROIT_MAIN)["sms_relay_url"] == url


def test_ids_are_64_bit_end_to_end(
    call: Client, sandbox: Sandbox, contract: ContractTransport
) -> None:
    assert DETROIT_MAIN > 2**32 and len(str(DETROIT_MAIN)) == 11
    big = 2**63 - 1  # SQLite's and JSON-in-Python's largest; Wavix's are 11-12 digits
    sim.bulk_insert(sandbox.store, [sim.make_number(big, "14155550198")])
    patched = call("PATCH", NUMBERS, json={"ids": [big, DETROIT_MAIN], "sms_enabled": True})
    assert [n["id"] for n in patched.json()["items"]] == [big, DETROIT_MAIN]
    assert call("PATCH", f"{NUMBERS}/{big}", json={"call_recording_enabled": True}).is_success
    assert (get(call, big)["sms_enabled"], get(call, big)["call_recording_enabled"]) == (True, True)
    destination_ids = [d["id"] for d in get(call, DETROIT_MAIN)["destination"]]
    assert all(i > 2**32 for i in destination_ids)
    assert call("GET", f"{NUMBERS}/{2**63}").status_code == 400
    over = call("PATCH", NUMBERS, json={"ids": [2**63], "sms_enabled": True})
    assert over.json()["message"] == "Missing or invalid parameter ids.0"
    assert call("GET", f"{NUMBERS}/0").status_code == 400
    # only the spec's int32 ``format`` on ids is relaxed (wavix_contract); the rest holds
    assert response_violations(contract) == []


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["retry-after"], {"retry-after": "2"}),
        (["retry-after-date"], {"retry-after": "Mon, 21 Sep 2026 14:13:23 GMT"}),
        (["x-ratelimit-reset"], {"x-ratelimit-reset": "1790000003"}),
        ([], {}),
    ],
)
def test_rate_limit_per_key_with_or_without_retry_after(
    call: Client,
    sandbox: Sandbox,
    clock: FakeClock,
    kinds: list[str],
    expected: dict[str, str],
) -> None:
    sandbox.store.set_knob("wavix.rate_limit", 2)
    sandbox.store.set_knob("wavix.rate_window_s", 2)
    sandbox.store.set_knob("wavix.rate_limit_headers", kinds)
    clock.advance(0.5)
    assert [call("GET", NUMBERS).status_code for _ in range(2)] == [200, 200]
    # another key has its own window
    assert call("GET", NUMBERS, key=sim.READONLY_KEY).status_code == 200
    limited = call("GET", NUMBERS)
    assert (limited.status_code, limited.json()) == (
        429,
        {"success": False, "message": "Too many requests"},
    )
    said = {k: v for k, v in limited.headers.items() if k in ("retry-after", "x-ratelimit-reset")}
    assert said == expected
    clock.advance(1.9)
    assert call("GET", NUMBERS).status_code == 429
    clock.advance(0.1)  # the window opened by the first request ends 2 s after it
    assert call("GET", NUMBERS).status_code == 200
