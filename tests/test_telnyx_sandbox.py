"""The Telnyx simulator over HTTP (in-process ASGI), every exchange checked against the spec."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import spec_path
from contract import ContractTransport

from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox
from reconciler.sandbox import telnyx as sim

BASE = "http://sandbox.invalid/telnyx/v2"
SPEC = "telnyx-phone-numbers.openapi.json"
JOB = "/phone_numbers/jobs/update_phone_numbers"
VIP, DENVER_FIRST, PORT_PENDING = "+13127367200", "+13035559100", "+13127367227"
MIXED = "You must specify either all phone numbers in the e164 format or all as phone number ids"

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

    yield run


def response_violations(
    contract: ContractTransport, *, undeclared: frozenset[int] = frozenset()
) -> list[str]:
    """Response-side violations, except for statuses the spec does not declare (429, faults)."""
    return [
        str(v) for v in contract.violations if v.side == "response" and v.status not in undeclared
    ]


def ids_of(call: Client, **filters: str) -> dict[str, str]:
    """e164 → id of the numbers matching ``filter[...]``."""
    params = {f"filter[{k}]": v for k, v in filters.items()} | {"page[size]": 250}
    return {
        n["phone_number"]: n["id"]
        for n in call("GET", "/phone_numbers", params=params).json()["data"]
    }


def number(call: Client, id_: str) -> dict[str, Any]:
    return call("GET", f"/phone_numbers/{id_}").json()["data"]  # type: ignore[no-any-return]


def voice(call: Client, id_: str) -> dict[str, Any]:
    return call("GET", f"/phone_numbers/{id_}/voice").json()["data"]  # type: ignore[no-any-return]


def jobs(call: Client) -> list[dict[str, Any]]:
    return call("GET", "/phone_numbers/jobs").json()["data"]  # type: ignore[no-any-return]


def error(response: httpx.Response) -> tuple[str, str, str]:
    item = response.json()["errors"][0]
    return item["code"], item["detail"], item.get("source", {}).get("pointer", "")


# ---- listings


def test_both_listings_page_the_seed_with_meta(call: Client, contract: ContractTransport) -> None:
    first = call("GET", "/phone_numbers").json()
    assert first["meta"] == {
        "page_number": 1,
        "page_size": 20,
        "total_pages": 3,
        "total_results": 46,
    }
    assert first["data"][0]["phone_number"] == VIP  # newest first: created_at descending
    created = [n["created_at"] for n in first["data"]]
    assert created == sorted(created, reverse=True)

    pages = [
        call("GET", "/phone_numbers/voice", params={"page[number]": p, "page[size]": 20}).json()
        for p in (1, 2, 3, 4)
    ]
    assert [len(p["data"]) for p in pages] == [20, 20, 6, 0]
    assert pages[2]["meta"] == {
        "page_number": 3,
        "page_size": 20,
        "total_pages": 3,
        "total_results": 46,
    }
    voice_ids = [v["id"] for p in pages for v in p["data"]]
    numbers = call("GET", "/phone_numbers", params={"page[size]": 250}).json()["data"]
    assert voice_ids == [n["id"] for n in numbers] and len(set(voice_ids)) == 46
    assert all(len(i) == 19 and i.isdigit() for i in voice_ids)
    assert all(v["record_type"] == "voice_settings" for p in pages for v in p["data"])
    assert not any("caller_id_name_enabled" in v for p in pages for v in p["data"])
    assert not response_violations(contract)


def test_seed_matches_the_example_profiles(call: Client) -> None:
    by = {
        n["phone_number"]: n
        for n in call("GET", "/phone_numbers", params={"page[size]": 250}).json()["data"]
    }
    assert len([e for e in by if e.startswith("+1312736")]) == 30
    assert len([e for e in by if e.startswith("+1303555")]) == 10
    assert len([e for e in by if e.startswith("+1650555")]) == 6
    vip = by[VIP]
    assert (vip["tags"], vip["connection_id"], vip["hd_voice_enabled"]) == (
        ["support", "chicago", "vip"],
        "1684641123236054244",
        True,
    )
    assert voice(call, vip["id"])["cnam_listing"] == {
        "cnam_listing_enabled": True,
        "cnam_listing_details": "ACME Help Line",
    }
    assert by[PORT_PENDING]["status"] == "port-pending"
    assert by[DENVER_FIRST]["deletion_lock_enabled"] is True
    assert voice(call, by[DENVER_FIRST]["id"])["usage_payment_method"] == "channel"


def test_pagination_defaults_and_invalid_values(call: Client, contract: ContractTransport) -> None:
    for params, pointer in [
        ({"page[size]": 251}, "page/size"),
        ({"page[size]": 0}, "page/size"),
        ({"page[size]": "ten"}, "page/size"),
        ({"page[number]": 0}, "page/number"),
        ({"page[bogus]": 1}, "page/bogus"),
    ]:
        response = call("GET", "/phone_numbers", params=params)
        assert response.status_code == 422, params
        body = response.json()["errors"][0]
        assert (body["code"], body["title"], body["source"]["pointer"]) == (
            "10015",
            "Invalid pagination",
            pointer,
        )
    sorted_ = call("GET", "/phone_numbers", params={"sort": "phone_number", "page[size]": 3})
    assert [n["phone_number"] for n in sorted_.json()["data"]] == [
        "+13035559100",
        "+13035559101",
        "+13035559102",
    ]
    assert error(call("GET", "/phone_numbers", params={"sort": "-created_at"}))[2] == "/sort"
    assert not response_violations(contract)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filter[tag]": "fax"}, 10),
        ({"filter[tag]": "chicago", "filter[phone_number]": "1312736720"}, 9),  # 7203 lacks it
        ({"filter[status]": "port-pending"}, 1),
        ({"filter[phone_number]": "+1650555"}, 6),
        ({"filter[phone_number]": "555abc"}, 0),  # non-digits match nothing (documented)
        ({"filter[without_tags]": "true"}, 2),
        ({"filter[billing_group_id]": "null"}, 4),
        ({"filter[voice.usage_payment_method]": "channel"}, 9),
        ({"filter[voice.connection_name][starts_with]": "denver"}, 10),
        ({"filter[connection_id]": "1684641123236054299"}, 1),
    ],
)
def test_number_filters(
    call: Client, contract: ContractTransport, params: dict[str, str], expected: int
) -> None:
    body = call("GET", "/phone_numbers", params=params).json()
    assert body["meta"]["total_results"] == len(body["data"]) == expected
    assert not response_violations(contract)


def test_voice_listing_filters_and_filter_errors(call: Client, contract: ContractTransport) -> None:
    body = call("GET", "/phone_numbers/voice", params={"filter[phone_number]": "3035559"}).json()
    assert {v["phone_number"] for v in body["data"]} == {f"+1303555910{i}" for i in range(10)}
    assert error(call("GET", "/phone_numbers/voice", params={"filter[tag]": "fax"}))[0] == "10015"
    assert call("GET", "/phone_numbers", params={"filter[phone_number]": "12"}).status_code == 422
    assert call("GET", "/phone_numbers", params={"filter[status]": "on"}).status_code == 422
    assert call("GET", "/phone_numbers", params={"filter[nope]": "x"}).status_code == 422
    assert not response_violations(contract)


# ---- one number


def test_get_and_patch_one_number(call: Client, contract: ContractTransport) -> None:
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    assert number(call, id_)["phone_number"] == VIP
    missing = call("GET", "/phone_numbers/1000000000000000000")
    assert (missing.status_code, *error(missing)) == (
        404,
        "10005",
        "The requested resource or URL could not be found.",
        "/base",
    )

    patched = call("PATCH", f"/phone_numbers/{id_}", json={"tags": ["a"], "address_id": "1"})
    assert patched.status_code == 200 and patched.json()["data"]["tags"] == ["a"]
    patched = call(
        "PATCH",
        f"/phone_numbers/{id_}/voice",
        json={"call_forwarding": {"forwards_to": "+13125550111"}, "caller_id_name_enabled": False},
    )
    assert patched.json()["data"]["call_forwarding"] == {  # merged per subfield
        "call_forwarding_enabled": True,
        "forwarding_type": "on-failure",
        "forwards_to": "+13125550111",
    }
    assert number(call, id_)["caller_id_name_enabled"] is False

    refused = call("PATCH", f"/phone_numbers/{id_}", json={"deletion_lock_enabled": True})
    assert (refused.status_code, *error(refused)) == (
        422,
        "10015",
        "is not a permitted field",
        "/deletion_lock_enabled",
    )
    port = ids_of(call, status="port-pending")[PORT_PENDING]
    assert call("PATCH", f"/phone_numbers/{port}", json={"tags": []}).status_code == 422
    assert not response_violations(contract)


def test_unknown_or_missing_key_is_401(call: Client, contract: ContractTransport) -> None:
    for key in (None, "KEYnot_a_real_key"):
        response = call("GET", "/phone_numbers", key=key)
        assert response.status_code == 401
        assert error(response)[:2] == ("10009", "Could not understand the provided credentials.")
        assert "x-ratelimit-limit" not in response.headers
    assert call("POST", JOB, key="nope", json={}).status_code == 401
    assert not response_violations(contract)


# ---- job creation: whole-request rejections


@pytest.mark.parametrize(
    ("body", "status", "detail", "pointer"),
    [
        (
            {"phone_numbers": [str(i) for i in range(1001)], "tags": ["x"]},
            422,
            "1000 numbers is the maximum allowed.",
            "/phone_numbers",
        ),
        (
            {"phone_numbers": [], "tags": ["x"]},
            422,
            "You must provide at least 1 phone number.",
            "/phone_numbers",
        ),
        ({"tags": ["x"]}, 422, "must be present", "/phone_numbers"),
        (
            {"phone_numbers": ["{id}"]},
            422,
            "You must provide at least 1 updateable field.",
            "/updateable_fields",
        ),
        (
            {"phone_numbers": ["{id}"], "voice": {"call_forwarding": {}}},
            422,
            "You must provide at least 1 updateable field.",
            "/updateable_fields",
        ),
        ({"phone_numbers": ["{id}", VIP], "tags": ["x"]}, 422, MIXED, "/phone_numbers"),
        (
            {"phone_numbers": ["{id}", "1000000000000000000"], "tags": ["x"]},
            422,
            "You must own every number in the bulk request",
            "/phone_numbers",
        ),
        (
            {"phone_numbers": ["+19995550100"], "tags": ["x"]},
            422,
            "You must own every number in the bulk request",
            "/phone_numbers",
        ),
        (
            {"phone_numbers": ["{id}"], "tags": ["x"], "label": "y"},
            422,
            "is not a permitted field",
            "/label",
        ),
        (
            {"phone_numbers": ["{id}"], "hd_voice_enabled": "yes"},
            422,
            "must be a boolean",
            "/hd_voice_enabled",
        ),
        (
            {"phone_numbers": ["{id}"], "voice": {"usage_payment_method": "free"}},
            422,
            "must be one of: pay-per-minute, channel",
            "/voice/usage_payment_method",
        ),
        (
            {"phone_numbers": ["{id}"], "voice": {"cnam_listing": {"cnam_listing_details": "x!"}}},
            422,
            "must be alphanumeric characters or spaces with a maximum length of 15",
            "/voice/cnam_listing/cnam_listing_details",
        ),
        (
            {"phone_numbers": ["{id}"], "connection_id": None},
            422,
            "must be a string",
            "/connection_id",
        ),
        (
            {"phone_numbers": ["{id}"], "tags": ["x"], "billing_group_id": "not-ours"},
            403,
            "The specified billing group either does not exist or is not part of your account",
            "/billing_group_id",
        ),
    ],
)
def test_job_rejections_create_nothing(
    call: Client,
    contract: ContractTransport,
    body: dict[str, Any],
    status: int,
    detail: str,
    pointer: str,
) -> None:
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    if "phone_numbers" in body:
        body = {**body, "phone_numbers": [p.replace("{id}", id_) for p in body["phone_numbers"]]}
    response = call("POST", JOB, json=body)
    assert (response.status_code, *error(response)[1:]) == (status, detail, pointer)
    assert jobs(call) == []
    assert number(call, id_)["tags"] == ["support", "chicago", "vip"]
    assert not response_violations(contract)


def test_twenty_first_pending_job_is_refused(
    call: Client, contract: ContractTransport, clock: FakeClock
) -> None:
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    for _ in range(20):
        assert call("POST", JOB, json={"phone_numbers": [id_], "tags": ["x"]}).status_code == 202
    refused = call("POST", JOB, json={"phone_numbers": [id_], "tags": ["x"]})
    assert (refused.status_code, *error(refused)) == (
        422,
        "10015",
        "You can have at most 20 pending or in progress jobs",
        "/base",
    )
    assert len(jobs(call)) == 20
    clock.advance(1.0)  # all 20 complete
    assert call("POST", JOB, json={"phone_numbers": [id_], "tags": ["x"]}).status_code == 202
    assert not response_violations(contract)


# ---- job lifecycle


def test_job_runs_pending_in_progress_completed_on_the_clock(
    call: Client, contract: ContractTransport, clock: FakeClock
) -> None:
    ids = ids_of(call, phone_number="131273672")
    targets = [ids["+13127367201"], ids["+13127367212"]]
    body = {
        "phone_numbers": targets,
        "tags": ["support", "new"],
        "voice": {
            "call_forwarding": {"forwards_to": "+13125550111"},
            "call_recording": {"inbound_call_recording_enabled": False},
            "caller_id_name_enabled": False,
        },
    }
    created = call("POST", JOB, json=body)
    assert created.status_code == 202
    job = created.json()["data"]
    assert (job["status"], job["type"], job["record_type"]) == (
        "pending",
        "update_phone_numbers",
        "phone_numbers_job",
    )
    assert job["phone_numbers"] == [{"id": i} for i in targets]
    assert [op["id"] for op in job["pending_operations"]] == targets
    assert (job["created_at"], job["etc"]) == (
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T00:00:01.000Z",
    )
    get = f"/phone_numbers/jobs/{job['id']}"

    clock.advance(0.5)
    running = call("GET", get).json()["data"]
    assert running["status"] == "in_progress" and len(running["pending_operations"]) == 2
    assert number(call, targets[0])["tags"] == ["support", "chicago"]  # nothing applied yet

    clock.advance(0.5)
    done = call("GET", get).json()["data"]
    assert done["status"] == "completed"
    assert [op["id"] for op in done["successful_operations"]] == targets
    assert done["pending_operations"] == [] and done["failed_operations"] == []
    assert done["updated_at"] == "2026-01-01T00:00:01.000Z"
    for id_ in targets:
        detailed, settings = number(call, id_), voice(call, id_)
        assert detailed["tags"] == ["support", "new"]  # replaced
        assert detailed["caller_id_name_enabled"] is False
        assert detailed["call_recording_enabled"] is False  # summary follows voice
        assert settings["call_forwarding"] == {  # merged: only forwards_to changed
            "call_forwarding_enabled": True,
            "forwarding_type": "on-failure",
            "forwards_to": "+13125550111",
        }
        assert settings["call_recording"]["inbound_call_recording_format"] == "mp3"
    untouched = number(call, ids["+13127367202"])
    assert untouched["tags"] == ["support", "chicago"]
    assert not response_violations(contract)


def test_job_timings_follow_the_knobs(call: Client, sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.store.set_knob("telnyx.job_pending_s", 10)
    sandbox.store.set_knob("telnyx.job_run_s", 20)
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    job = call("POST", JOB, json={"phone_numbers": [id_], "hd_voice_enabled": False}).json()["data"]
    assert job["etc"] == "2026-01-01T00:00:30.000Z"
    get = f"/phone_numbers/jobs/{job['id']}"
    for step, status in [
        (9.9, "pending"),
        (0.1, "in_progress"),
        (19.9, "in_progress"),
        (0.1, "completed"),
    ]:
        clock.advance(step)
        assert call("GET", get).json()["data"]["status"] == status


def test_jobs_by_e164_and_by_filter(
    call: Client, contract: ContractTransport, clock: FakeClock
) -> None:
    by_e164 = call("POST", JOB, json={"phone_numbers": [VIP], "tags": ["x"]}).json()["data"]
    assert by_e164["phone_numbers"] == [{"phone_number": VIP}]
    by_filter = call(
        "POST",
        JOB,
        params={"filter[tag]": "fax"},
        json={"phone_numbers": [], "customer_reference": "fax-2"},
    )
    assert by_filter.status_code == 202
    assert len(by_filter.json()["data"]["phone_numbers"]) == 10
    both = call(
        "POST",
        JOB,
        params={"filter[tag]": "fax"},
        json={"phone_numbers": [VIP], "customer_reference": "x"},
    )
    assert both.status_code == 422
    clock.advance(1.0)
    fax = ids_of(call, tag="fax")
    assert {number(call, i)["customer_reference"] for i in fax.values()} == {"fax-2"}
    assert number(call, ids_of(call, phone_number="13127367200")[VIP])["tags"] == ["x"]
    assert not response_violations(contract)


def test_fail_numbers_knob_fails_those_numbers_only(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    ids = ids_of(call, tag="fax")
    sandbox.store.set_knob("telnyx.fail_numbers", [DENVER_FIRST])
    job = call("POST", JOB, json={"phone_numbers": list(ids.values()), "tags": ["fax", "t"]})
    clock.advance(1.0)
    done = call("GET", f"/phone_numbers/jobs/{job.json()['data']['id']}").json()["data"]
    assert done["status"] == "completed"
    assert len(done["successful_operations"]) == 9
    [failed] = done["failed_operations"]
    assert (failed["id"], failed["phone_number"]) == (ids[DENVER_FIRST], DENVER_FIRST)
    assert failed["errors"] == [sim.NUMBER_FAILURE]
    assert number(call, ids[DENVER_FIRST])["tags"] == ["fax"]  # not changed
    assert number(call, ids["+13035559101"])["tags"] == ["fax", "t"]
    assert not response_violations(contract)


def test_numbers_that_are_not_active_fail_inside_the_job(call: Client, clock: FakeClock) -> None:
    port = ids_of(call, status="port-pending")[PORT_PENDING]
    job = call("POST", JOB, json={"phone_numbers": [port], "tags": ["x"]}).json()["data"]
    clock.advance(1.0)
    done = call("GET", f"/phone_numbers/jobs/{job['id']}").json()["data"]
    assert done["status"] == "completed" and done["successful_operations"] == []
    assert "port-pending" in done["failed_operations"][0]["errors"][0]["detail"]


def test_expire_knob_expires_jobs_without_applying(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.expire_jobs", True)
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    job = call("POST", JOB, json={"phone_numbers": [id_], "tags": ["x"]}).json()["data"]
    clock.advance(5.0)
    done = call("GET", f"/phone_numbers/jobs/{job['id']}").json()["data"]
    assert done["status"] == "expired"
    assert done["updated_at"] == "2026-01-01T00:00:00.500Z"
    assert done["pending_operations"] == done["successful_operations"] == []
    assert number(call, id_)["tags"] == ["support", "chicago", "vip"]
    assert not response_violations(contract)


def test_jobs_list_filters_and_unknown_job(
    call: Client, contract: ContractTransport, clock: FakeClock
) -> None:
    first = call("POST", JOB, json={"phone_numbers": [VIP], "tags": ["a"]}).json()["data"]
    clock.advance(1.0)
    second = call("POST", JOB, json={"phone_numbers": [DENVER_FIRST], "tags": ["b"]}).json()["data"]
    listed = call("GET", "/phone_numbers/jobs", params={"filter[type]": "update_phone_numbers"})
    assert [j["id"] for j in listed.json()["data"]] == [second["id"], first["id"]]  # newest first
    oldest_first = call("GET", "/phone_numbers/jobs", params={"sort": "created_at"}).json()
    assert [j["id"] for j in oldest_first["data"]] == [first["id"], second["id"]]
    assert (
        call("GET", "/phone_numbers/jobs", params={"filter[type]": "delete_phone_numbers"}).json()[
            "data"
        ]
        == []
    )
    pending = call("GET", "/phone_numbers/jobs", params={"filter[status][]": "pending"}).json()
    assert [j["id"] for j in pending["data"]] == [second["id"]]
    paged = call("GET", "/phone_numbers/jobs", params={"page[size]": 1, "page[number]": 2}).json()
    assert paged["meta"] == {"page_number": 2, "page_size": 1, "total_pages": 2, "total_results": 2}
    missing = call("GET", "/phone_numbers/jobs/6f1c3c8e-0000-4000-8000-000000000000")
    assert (missing.status_code, *error(missing)) == (
        404,
        "10005",
        "The requested resource or URL could not be found.",
        "/base",
    )
    assert not response_violations(contract)


# ---- rate limit and injected faults


def test_rate_limit_headers_and_429(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.rate_limit", 3)
    seen = [call("GET", "/phone_numbers/jobs") for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in seen] == ["2", "1", "0", "0"]
    assert {r.headers["x-ratelimit-limit"] for r in seen} == {"3"}
    assert seen[0].headers["x-ratelimit-reset"] == "60"
    assert error(seen[3])[:2] == (
        "10011",
        "You have exceeded the maximum number of allowed requests.",
    )
    clock.advance(45)
    assert call("GET", "/phone_numbers/jobs").headers["x-ratelimit-reset"] == "15"
    clock.advance(15)  # a new window
    fresh = call("GET", "/phone_numbers/jobs")
    assert (fresh.status_code, fresh.headers["x-ratelimit-remaining"]) == (200, "2")
    assert not response_violations(contract, undeclared=frozenset({429}))  # the spec lists no 429


def test_fail_next_knob_injects_statuses_in_order(
    call: Client, contract: ContractTransport, sandbox: Sandbox
) -> None:
    sandbox.store.set_knob("telnyx.fail_next", [503, {"status": 502, "processed": True}])
    assert call("GET", "/phone_numbers").status_code == 503
    lost = call("POST", JOB, json={"phone_numbers": [VIP], "tags": ["x"]})
    assert (lost.status_code, error(lost)[0]) == (502, "10007")
    assert len(jobs(call)) == 1  # processed: the job exists though the answer was lost
    assert sandbox.store.knob("telnyx.fail_next") is None
    assert not response_violations(contract, undeclared=frozenset({502, 503}))


def test_every_valid_exchange_validates_against_the_spec(
    call: Client, contract: ContractTransport, clock: FakeClock
) -> None:
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    call("GET", "/phone_numbers", params={"page[size]": 250, "filter[status]": "active"})
    call("GET", "/phone_numbers/voice", params={"page[size]": 250, "sort": "phone_number"})
    call("GET", f"/phone_numbers/{id_}")
    call("GET", f"/phone_numbers/{id_}/voice")
    call("PATCH", f"/phone_numbers/{id_}", json={"customer_reference": "c"})
    call(
        "PATCH",
        f"/phone_numbers/{id_}/voice",
        json={"media_features": {"accept_any_rtp_packets_enabled": True}},
    )
    job = call(
        "POST",
        JOB,
        json={
            "phone_numbers": [id_],
            "external_pin": "1234",
            "voice": {"translated_number": "+13125550000"},
        },
    ).json()["data"]
    clock.advance(1.0)
    call("GET", f"/phone_numbers/jobs/{job['id']}")
    call("GET", "/phone_numbers/jobs", params={"filter[type]": "update_phone_numbers"})
    contract.assert_clean(min_exchanges=10)


# ---- bulk seeding for benchmarks


def test_seed_synthetic_appends_numbers_fast(call: Client, sandbox: Sandbox) -> None:
    fax = {"tags": ["fax"], "voice": {"media_features": {"t38_fax_gateway_enabled": True}}}
    assert sim.seed_synthetic(sandbox.store, 600, settings=sim.CHICAGO_SUPPORT) == range(47, 647)
    added = sim.seed_synthetic(
        sandbox.store, 10_000, prefix="1720", settings=fax, drift={"tags": ["x"]}, drift_every=4
    )
    assert added == range(647, 10_647)
    last = call("GET", "/phone_numbers", params={"page[size]": 250, "page[number]": 43}).json()
    assert last["meta"] == {
        "page_number": 43,
        "page_size": 250,
        "total_pages": 43,
        "total_results": 10_646,
    }
    assert [n["phone_number"] for n in last["data"][-2:]] == ["+17202009998", "+17202009999"]
    assert [n["tags"] for n in last["data"][-4:]] == [["fax"], ["fax"], ["fax"], ["x"]]
    first_clone = ids_of(call, phone_number="14152000000")["+14152000000"]
    assert number(call, first_clone)["tags"] == ["support", "chicago"]
    assert number(call, first_clone)["created_at"] < number(call, sim.number_id(1))["created_at"]
    assert voice(call, first_clone)["call_forwarding"]["forwards_to"] == "+13125550100"
    clone_voice = voice(call, last["data"][-1]["id"])
    assert clone_voice["media_features"]["t38_fax_gateway_enabled"] is True
    assert clone_voice["phone_number"] == "+17202009999"
    distinct = sandbox.store.conn.execute(
        "SELECT count(DISTINCT id), count(DISTINCT phone_number), max(ordinal) FROM telnyx_numbers"
    ).fetchone()
    assert distinct == (10_646, 10_646, 10_646)  # unique, and ordinals dense (rowid paging)
    with pytest.raises(ValueError, match="already exist"):
        sim.seed_synthetic(sandbox.store, 1, prefix="1720")


# ---- harsher-carrier knobs (issue 7: each reproduces a behaviour the real carrier may show)


def listing(call: Client, path: str = "/phone_numbers", **params: Any) -> dict[str, Any]:
    return call("GET", path, params=params).json()  # type: ignore[no-any-return]


def test_shift_listing_knob_buys_numbers_between_page_reads(
    call: Client, contract: ContractTransport, sandbox: Sandbox
) -> None:
    before = [n["id"] for n in listing(call, **{"page[size]": 250})["data"]]
    sandbox.store.set_knob("telnyx.shift_listing", {"buy": 1})
    first = listing(call, **{"page[size]": 20})
    second = listing(call, **{"page[size]": 20, "page[number]": 2})
    assert [n["id"] for n in first["data"]] == before[:20]
    # one number bought after page 1 was served: page 2 repeats page 1's last number
    assert second["data"][0]["id"] == first["data"][-1]["id"] == before[19]
    assert (first["meta"]["total_results"], second["meta"]["total_results"]) == (46, 47)
    sandbox.store.set_knob("telnyx.shift_listing", None)
    now = listing(call, **{"page[size]": 250})["data"]
    assert [n["phone_number"] for n in now[:2]] == ["+18722000002", "+18722000001"]  # newest first
    assert [n["id"] for n in now[2:]] == before
    assert now[0]["created_at"] > now[1]["created_at"] > now[2]["created_at"]
    assert voice(call, now[0]["id"])["phone_number"] == "+18722000002"
    assert not response_violations(contract)


def test_shift_listing_knob_releases_numbers_between_page_reads(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    before = [n["id"] for n in listing(call, **{"page[size]": 250})["data"]]
    job = call("POST", JOB, json={"phone_numbers": before[:2], "tags": ["x"]}).json()["data"]
    sandbox.store.set_knob("telnyx.shift_listing", {"release": 2})
    first = listing(call, "/phone_numbers/voice", **{"page[size]": 20})
    second = listing(call, "/phone_numbers/voice", **{"page[size]": 20, "page[number]": 2})
    assert [n["id"] for n in first["data"]] == before[:20]
    assert [n["id"] for n in second["data"]] == before[22:42]  # two numbers never seen
    assert call("GET", f"/phone_numbers/{before[0]}").status_code == 404  # released
    clock.advance(1.0)
    done = call("GET", f"/phone_numbers/jobs/{job['id']}").json()["data"]
    assert [op["errors"][0]["code"] for op in done["failed_operations"]] == ["10005", "10005"]


def test_voice_listing_omits_knob_hides_numbers_from_the_voice_listing_only(
    call: Client, contract: ContractTransport, sandbox: Sandbox
) -> None:
    vip = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    sandbox.store.set_knob("telnyx.voice_listing_omits", [vip, DENVER_FIRST])
    voices = listing(call, "/phone_numbers/voice", **{"page[size]": 250})
    numbers = listing(call, **{"page[size]": 250})
    assert len(numbers["data"]) == 46 and voices["meta"]["total_results"] == 44
    assert {v["phone_number"] for v in voices["data"]} & {VIP, DENVER_FIRST} == set()
    assert voice(call, vip)["phone_number"] == VIP  # one number's view still answers
    assert not response_violations(contract)


def test_messaging_profile_error_knob_fails_pages_without_the_flag(
    call: Client, contract: ContractTransport, sandbox: Sandbox
) -> None:
    assert call("GET", "/phone_numbers").status_code == 200
    sandbox.store.set_knob("telnyx.messaging_profile_error", True)
    failed = call("GET", "/phone_numbers", params={"page[size]": 250})
    assert (failed.status_code, error(failed)[0]) == (503, "10007")
    assert call("GET", "/phone_numbers/voice").status_code == 200  # no messaging data there
    handled = call(
        "GET",
        "/phone_numbers",
        params={"page[size]": 250, "handle_messaging_profile_error": "true"},
    ).json()
    assert len(handled["data"]) == 46 and handled["errors"][0]["code"] == "10007"
    assert not any("messaging_profile_id" in n for n in handled["data"])
    assert not response_violations(contract, undeclared=frozenset({503}))


def test_omit_page_meta_knob_leaves_fields_out_of_every_page(
    call: Client, contract: ContractTransport, sandbox: Sandbox
) -> None:
    sandbox.store.set_knob("telnyx.omit_page_meta", ["total_pages", "total_results"])
    assert listing(call)["meta"] == {"page_number": 1, "page_size": 20}
    assert listing(call, "/phone_numbers/voice")["meta"] == {"page_number": 1, "page_size": 20}
    assert call("GET", "/phone_numbers/jobs").json()["meta"] == {"page_number": 1, "page_size": 20}
    assert not response_violations(contract)


def test_job_parameters_knob_normalises_what_a_job_saved(
    call: Client, contract: ContractTransport, sandbox: Sandbox
) -> None:
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    body = {
        "phone_numbers": [id_],
        "tags": ["b", "a", "b"],
        "voice": {"translated_number": "+13125550000"},
    }
    assert call("POST", JOB, json=body).json()["data"]["parameters"] == body  # kept verbatim
    sandbox.store.set_knob("telnyx.job_parameters", True)  # as the SDK's type suggests
    saved = call("POST", JOB, json=body).json()["data"]["parameters"]
    assert saved == {"phone_numbers": [id_], "tags": ["a", "b"]}  # voice left empty: dropped
    sandbox.store.set_knob("telnyx.job_parameters", {"drop": ["tags"]})
    assert "tags" not in call("POST", JOB, json=body).json()["data"]["parameters"]
    sandbox.store.set_knob("telnyx.job_parameters", {"empty": True})
    assert call("POST", JOB, json=body).json()["data"]["parameters"] == {}
    assert not response_violations(contract)


def test_foreign_billing_group_fails_that_job_only(call: Client, clock: FakeClock) -> None:
    id_ = ids_of(call, phone_number=VIP.removeprefix("+"))[VIP]
    body = {"phone_numbers": [id_], "billing_group_id": "not-ours"}
    refused = call("POST", JOB, json=body)
    assert (refused.status_code, error(refused)[0]) == (403, "10010")
    accepted = call("POST", JOB, json={"phone_numbers": [id_], "customer_reference": "r"})
    assert accepted.status_code == 202  # the key still works: only that request was refused
    clock.advance(1.0)
    assert number(call, id_)["customer_reference"] == "r"


def test_voice_replace_knob_resets_unsent_subfields_of_a_sent_object(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    ids = ids_of(call, phone_number="131273672")
    merged, replaced = ids["+13127367201"], ids["+13127367202"]
    body = {"voice": {"call_forwarding": {"forwards_to": "+13125550111"}}}
    call("POST", JOB, json={"phone_numbers": [merged], **body})
    clock.advance(1.0)
    sandbox.store.set_knob("telnyx.voice_replace", True)
    call("POST", JOB, json={"phone_numbers": [replaced], **body})
    clock.advance(1.0)
    assert voice(call, merged)["call_forwarding"] == {
        "call_forwarding_enabled": True,
        "forwarding_type": "on-failure",
        "forwards_to": "+13125550111",
    }
    assert voice(call, replaced)["call_forwarding"] == {  # forwarding_type: back to none
        "call_forwarding_enabled": True,
        "forwards_to": "+13125550111",
    }
    assert voice(call, replaced)["call_recording"]["inbound_call_recording_format"] == "mp3"
    patched = call("PATCH", f"/phone_numbers/{replaced}/voice", json={"call_recording": {}}).json()[
        "data"
    ]
    assert patched["call_recording"] == {
        "inbound_call_recording_enabled": False,
        "inbound_call_recording_channels": "single",
        "inbound_call_recording_format": "wav",
    }
    assert number(call, replaced)["call_recording_enabled"] is False  # the summary follows
    assert not response_violations(contract)


def test_job_read_lag_knob_hides_new_jobs_for_some_polls_or_seconds(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.job_read_lag", {"polls": 2})
    job = call("POST", JOB, json={"phone_numbers": [VIP], "tags": ["x"]}).json()["data"]
    get = f"/phone_numbers/jobs/{job['id']}"
    assert [call("GET", get).status_code for _ in range(3)] == [404, 404, 200]
    assert error(call("GET", "/phone_numbers/jobs/x" + job["id"][1:]))[0] == "10005"
    sandbox.store.set_knob("telnyx.job_read_lag", {"seconds": 2})
    later = call("POST", JOB, json={"phone_numbers": [VIP], "tags": ["y"]}).json()["data"]
    statuses = []
    for _ in range(3):
        statuses.append(call("GET", f"/phone_numbers/jobs/{later['id']}").status_code)
        clock.advance(1.0)
    assert statuses == [404, 404, 200]
    assert job["id"] in [j["id"] for j in jobs(call)]  # the list is not lagged (choice)
    assert not response_violations(contract)


def test_job_steps_knob_moves_numbers_while_the_job_is_in_progress(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.job_steps", 4)
    sandbox.store.set_knob("telnyx.job_run_s", 4)
    ids = list(ids_of(call, tag="fax").values())[:8]
    job = call("POST", JOB, json={"phone_numbers": ids, "tags": ["moved"]}).json()["data"]
    get = f"/phone_numbers/jobs/{job['id']}"
    clock.advance(0.5)  # pending time over: in_progress, nothing applied yet
    seen = []
    for _ in range(4):
        clock.advance(1.0)
        doc = call("GET", get).json()["data"]
        moved = [i for i in ids if number(call, i)["tags"] == ["moved"]]
        seen.append((doc["status"], len(doc["successful_operations"]), len(moved)))
    assert seen == [("in_progress", 2, 2), ("in_progress", 4, 4), ("in_progress", 6, 6)] + [
        ("completed", 8, 8)
    ]
    assert doc["updated_at"] == "2026-01-01T00:00:04.500Z"
    assert not response_violations(contract)


def test_fail_jobs_knob_ends_jobs_failed_with_numbers_left_pending(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.job_steps", 2)
    sandbox.store.set_knob("telnyx.fail_jobs", True)
    ids = list(ids_of(call, tag="fax").values())[:4]
    job = call("POST", JOB, json={"phone_numbers": ids, "tags": ["moved"]}).json()["data"]
    clock.advance(5.0)
    done = call("GET", f"/phone_numbers/jobs/{job['id']}").json()["data"]
    assert done["status"] == "failed"
    assert [op["id"] for op in done["successful_operations"]] == ids[:2]
    assert [op["id"] for op in done["pending_operations"]] == ids[2:]  # never processed
    assert [number(call, i)["tags"] for i in ids] == [["moved"], ["moved"], ["fax"], ["fax"]]
    assert done["updated_at"] == "2026-01-01T00:00:01.000Z"  # when the last step was due
    assert not response_violations(contract)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"filter[status][]": ["pending", "completed"]}, 200),
        ({"filter[status]": "pending"}, 422),  # scalar: not accepted
        ({"filter[status][]": "pending,completed"}, 422),  # comma list: not accepted
        ({"filter[status][]": "done"}, 422),
        ({"filter[type]": "update_numbers"}, 422),
        ({"filter[customer]": "x"}, 422),
    ],
)
def test_jobs_list_accepts_status_only_in_the_documented_form(
    call: Client, contract: ContractTransport, params: dict[str, Any], status: int
) -> None:
    call("POST", JOB, json={"phone_numbers": [VIP], "tags": ["x"]})
    response = call("GET", "/phone_numbers/jobs", params=params)
    assert response.status_code == status
    if status == 422:
        assert error(response)[0] == "10015"
        assert response.json()["errors"][0]["source"]["parameter"] in params
    else:
        assert len(response.json()["data"]) == 1
    assert not response_violations(contract)


def test_rate_window_knob_sets_the_window_length(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.rate_limit", 2)
    sandbox.store.set_knob("telnyx.rate_window_s", 5)
    seen = [call("GET", "/phone_numbers/jobs") for _ in range(3)]
    assert [r.status_code for r in seen] == [200, 200, 429]
    assert [r.headers["x-ratelimit-reset"] for r in seen] == ["5", "5", "5"]
    clock.advance(5)
    assert call("GET", "/phone_numbers/jobs").headers["x-ratelimit-remaining"] == "1"
    sandbox.store.set_knob("telnyx.rate_limit", 0)  # off: no limit and no headers
    assert "x-ratelimit-limit" not in call("GET", "/phone_numbers/jobs").headers


def test_empty_tags_and_blank_customer_reference_clear_the_values(
    call: Client, contract: ContractTransport, sandbox: Sandbox, clock: FakeClock
) -> None:
    ids = ids_of(call, phone_number="131273672")
    first, second = ids["+13127367201"], ids["+13127367202"]
    body = {"phone_numbers": [first], "tags": [], "customer_reference": ""}
    job = call("POST", JOB, json=body).json()["data"]
    assert job["parameters"] == body  # saved empty values are preserved
    clock.advance(1.0)
    assert (number(call, first)["tags"], number(call, first)["customer_reference"]) == ([], "")
    assert voice(call, first)["customer_reference"] == ""
    sandbox.store.set_knob("telnyx.blank_reference_as_null", True)
    call("POST", JOB, json={**body, "phone_numbers": [second]})
    clock.advance(1.0)
    assert number(call, second)["customer_reference"] is None
    assert "customer_reference" not in voice(call, second)
    assert not response_violations(contract)


def test_telnyx_knobs_are_validated_and_bad_values_are_ignored(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    from reconciler.sandbox import knobs as registry
    from reconciler.sandbox.telnyx import knobs

    assert registry.check("telnyx.shift_listing", {"buy": 2}) == {"buy": 2}
    assert registry.check("telnyx.omit_page_meta", ["total_pages"]) == ["total_pages"]
    for name, bad in [
        ("telnyx.shift_listing", {"buy": -1}),
        ("telnyx.shift_listing", {"sell": 1}),
        ("telnyx.job_read_lag", {"polls": "2"}),
        ("telnyx.job_parameters", {"drop": "voice"}),
        ("telnyx.omit_page_meta", ["next_page"]),
        ("telnyx.job_steps", 0),
        ("telnyx.rate_window_s", 0),
    ]:
        with pytest.raises(registry.KnobError, match=name):
            registry.check(name, bad)
    sandbox.store.set_knob("telnyx.job_steps", "four")  # past the CLI: the default, a warning
    assert knobs.value(sandbox.store, "telnyx.job_steps") == 1
    assert "telnyx.job_steps" in caplog.text
