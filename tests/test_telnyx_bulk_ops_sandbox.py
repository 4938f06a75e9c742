"""The Telnyx simulator's messaging-profile orders and emergency jobs (issue 17), in process, every
exchange checked against the vendored spec it belongs to; then the official SDK on the served
sandbox, responses parsed strictly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import telnyx
from conftest import spec_path
from contract import ContractTransport

from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox, requestlog
from reconciler.sandbox import knobs as registry
from reconciler.sandbox import telnyx as sim
from reconciler.sandbox.serve import served
from reconciler.sandbox.telnyx.account import EMERGENCY_ADDRESSES, MESSAGING_PROFILES

BASE = "http://sandbox.invalid/telnyx/v2"
ORDERS = "/messaging_numbers_bulk_updates"
EMERGENCY = "/phone_numbers/jobs/update_emergency_settings"
SALES, SUPPORT, ALERTS = MESSAGING_PROFILES
CHI, DEN, PA = EMERGENCY_ADDRESSES
UNASSIGNED, BOTH, NO_E911 = "+13127367203", "+13127367215", "+13127367218"
ON_ALERTS = WRONG_E911 = BOTH  # alerts-sms and Denver's address on one number
IN_SYNC, PORT_PENDING = "+13127367201", "+13127367227"

Client = Callable[..., httpx.Response]


class Contracts:
    """Two contract transports over one sandbox: the bulk operations are checked against their
    own spec, everything else against the phone-numbers spec."""

    def __init__(self, sandbox: Sandbox) -> None:
        inner = httpx.ASGITransport(app=sandbox.app)
        self.bulk = ContractTransport(
            inner, spec_path("telnyx-bulk-messaging-emergency.openapi.json"), sim.MOUNT
        )
        self.numbers = ContractTransport(
            inner, spec_path("telnyx-phone-numbers.openapi.json"), sim.MOUNT
        )

    def for_path(self, path: str) -> ContractTransport:
        return self.bulk if path.startswith((ORDERS, EMERGENCY)) else self.numbers

    def assert_clean(self, bulk: int = 1, *, requests: bool = True) -> None:
        """No violation (responses only, with ``requests=False``: a refused request breaks the
        spec on purpose), and at least ``bulk`` exchanges checked against the bulk spec."""
        seen = [
            str(v)
            for t in (self.bulk, self.numbers)
            for v in t.violations
            if requests or v.side == "response"
        ]
        assert not seen, "contract violations:\n" + "\n".join(seen)
        assert self.bulk.exchanges >= bulk


@pytest.fixture
def contracts(sandbox: Sandbox) -> Contracts:
    return Contracts(sandbox)


@pytest.fixture
def call(contracts: Contracts) -> Iterator[Client]:
    """``call(method, path, **httpx kwargs)`` → response, through the path's contract."""

    async def send(method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {sim.DEFAULT_KEY}"}
        transport = contracts.for_path(path)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers) as c:
            return await c.request(method, path, **kw)

    yield lambda method, path, **kw: asyncio.run(send(method, path, **kw))


def listing(call: Client) -> dict[str, dict[str, Any]]:
    """e164 → its ``GET /phone_numbers`` item (the whole seed: one page of 250)."""
    data = call("GET", "/phone_numbers", params={"page[size]": 250}).json()["data"]
    return {n["phone_number"]: n for n in data}


def messaging(item: dict[str, Any]) -> tuple[Any, Any]:
    return item.get("messaging_profile_id"), item.get("messaging_profile_name")


def emergency(item: dict[str, Any]) -> tuple[Any, Any, Any]:
    return item["emergency_enabled"], item["emergency_address_id"], item["emergency_status"]


def order(call: Client, numbers: list[str], profile: str = SUPPORT, **extra: Any) -> httpx.Response:
    body = {"messaging_profile_id": profile, "numbers": numbers, "assign_only": True, **extra}
    return call("POST", ORDERS, json=body)


def ids(call: Client, *numbers: str) -> list[str]:
    by = listing(call)
    return [by[n]["id"] for n in numbers]


def count(sandbox: Sandbox, table: str) -> int:
    return int(sandbox.store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# ---- the seed


def test_seed_shows_profiles_and_emergency_settings(
    call: Client, contracts: Contracts, sandbox: Sandbox
) -> None:
    by = listing(call)
    assert messaging(by[IN_SYNC]) == (SUPPORT, "support-sms")
    assert messaging(by[UNASSIGNED]) == (None, None)
    assert messaging(by[ON_ALERTS]) == (ALERTS, "alerts-sms")
    assert messaging(by["+16505550100"]) == messaging(by["+16505550101"]) == (SALES, "sales-sms")
    assert messaging(by["+13035559100"]) == (None, None)
    assert emergency(by[IN_SYNC]) == (True, CHI, "active")
    assert emergency(by[NO_E911]) == (False, None, "disabled")
    assert emergency(by[WRONG_E911]) == (True, DEN, "active")
    assert emergency(by["+16505550103"]) == (True, PA, "active")
    assert emergency(by["+13035559100"]) == (False, None, "disabled")
    supported = {n for n, item in by.items() if item["messaging_profile_id"] == SUPPORT}
    assert len(supported) == 28  # Chicago but the unassigned and the alerts number
    voice = call("GET", f"/phone_numbers/{by[WRONG_E911]['id']}/voice").json()["data"]
    assert voice["emergency"] == {
        "emergency_enabled": True,
        "emergency_status": "active",
        "emergency_address_id": DEN,
    }
    filtered = call("GET", "/phone_numbers", params={"filter[emergency_address_id]": DEN}).json()
    assert [n["phone_number"] for n in filtered["data"]] == [WRONG_E911]
    contracts.assert_clean(bulk=0)


# ---- messaging profile orders


def test_an_order_is_pending_then_assigns_the_profile(
    call: Client, contracts: Contracts, clock: FakeClock
) -> None:
    before = listing(call)
    created = order(call, [UNASSIGNED, ON_ALERTS, UNASSIGNED])
    assert created.status_code == 200
    doc = created.json()["data"]
    assert doc["record_type"] == "messaging_numbers_bulk_update"
    assert (doc["success"], doc["pending"], doc["failed"]) == ([], [UNASSIGNED, ON_ALERTS], [])
    assert messaging(listing(call)[UNASSIGNED]) == (None, None)  # nothing yet
    assert call("GET", f"{ORDERS}/{doc['order_id']}").json()["data"] == doc

    clock.advance(sim.knobs.DEFAULT_MESSAGING_PENDING_S)
    done = call("GET", f"{ORDERS}/{doc['order_id']}").json()["data"]
    assert (done["success"], done["pending"], done["failed"]) == (
        [UNASSIGNED, ON_ALERTS],
        [],
        [],
    )
    after = listing(call)
    assert messaging(after[UNASSIGNED]) == messaging(after[ON_ALERTS]) == (SUPPORT, "support-sms")
    assert after[UNASSIGNED]["updated_at"] > before[UNASSIGNED]["updated_at"]
    unchanged = {n: i for n, i in after.items() if n not in (UNASSIGNED, ON_ALERTS)}
    assert unchanged == {n: i for n, i in before.items() if n not in (UNASSIGNED, ON_ALERTS)}
    contracts.assert_clean(bulk=3)


def test_an_empty_profile_unassigns_and_assign_only_false_changes_nothing_else(
    call: Client, contracts: Contracts, sandbox: Sandbox
) -> None:
    sandbox.store.set_knob("telnyx.messaging_order_pending_s", 0)
    before = listing(call)
    done = order(call, [IN_SYNC, "+16505550100"], profile="", assign_only=False).json()["data"]
    assert (done["success"], done["pending"]) == ([IN_SYNC, "+16505550100"], [])  # at once
    after = listing(call)
    assert messaging(after[IN_SYNC]) == messaging(after["+16505550100"]) == (None, None)
    for n in (IN_SYNC, "+16505550100"):
        rest = {k: v for k, v in after[n].items() if not k.startswith("messaging_")}
        assert rest == {
            k: v
            for k, v in before[n].items()
            if not k.startswith("messaging_") and k != "updated_at"
        } | {"updated_at": rest["updated_at"]}
    contracts.assert_clean()


def test_an_order_stays_pending_as_long_as_the_knob_says(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.messaging_order_pending_s", 30)
    order_id = order(call, [UNASSIGNED]).json()["data"]["order_id"]
    clock.advance(29.9)
    assert call("GET", f"{ORDERS}/{order_id}").json()["data"]["pending"] == [UNASSIGNED]
    assert messaging(listing(call)[UNASSIGNED]) == (None, None)
    clock.advance(0.1)
    assert call("GET", f"{ORDERS}/{order_id}").json()["data"]["success"] == [UNASSIGNED]


def test_numbers_fail_without_a_reason(call: Client, sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.store.set_knob("telnyx.fail_numbers", [UNASSIGNED])
    first = order(call, [UNASSIGNED, ON_ALERTS, PORT_PENDING]).json()["data"]
    clock.advance(1)
    done = call("GET", f"{ORDERS}/{first['order_id']}").json()["data"]
    assert done["success"] == [ON_ALERTS]
    assert done["failed"] == [UNASSIGNED, PORT_PENDING]  # listed, and nothing else said
    assert set(done) == {"record_type", "order_id", "success", "pending", "failed"}
    by = listing(call)
    assert messaging(by[UNASSIGNED]) == (None, None)
    assert messaging(by[PORT_PENDING]) == (SUPPORT, "support-sms")  # as seeded, untouched

    sandbox.store.set_knob("telnyx.fail_numbers", [])
    chicago = [f"+1312736{7200 + i}" for i in range(27)]
    sandbox.store.set_knob("telnyx.messaging_number_faults", {"p": 0.5, "seed": 3})
    second = order(call, chicago, profile=ALERTS).json()["data"]
    clock.advance(1)
    done = call("GET", f"{ORDERS}/{second['order_id']}").json()["data"]
    assert 0 < len(done["failed"]) < len(chicago)
    assert sorted(done["failed"] + done["success"]) == sorted(chicago)
    by = listing(call)
    assert all(by[n]["messaging_profile_id"] == ALERTS for n in done["success"])
    assert not any(by[n]["messaging_profile_id"] == ALERTS for n in done["failed"])
    sandbox.store.set_knob("telnyx.messaging_number_faults", {"p": 1.0})
    third = order(call, [UNASSIGNED]).json()["data"]
    clock.advance(1)
    assert call("GET", f"{ORDERS}/{third['order_id']}").json()["data"]["failed"] == [UNASSIGNED]


def test_a_lost_answer_still_created_the_order(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    """What the client cannot adopt: no endpoint lists orders, and the answer is gone."""
    [target] = ids(call, UNASSIGNED)
    sandbox.store.set_knob("request_log", True)
    sandbox.store.set_knob("telnyx.fail_next", [{"status": 502, "processed": True}])
    assert order(call, [UNASSIGNED]).status_code == 502
    [entry] = [e for e in requestlog.entries(sandbox.store) if e.method == "POST"]
    assert (entry.status, entry.ids, entry.fault) == (502, [target], "fail_next 502")  # ids
    assert entry.job is not None
    clock.advance(1)
    assert messaging(listing(call)[UNASSIGNED]) == (SUPPORT, "support-sms")
    assert count(sandbox, "telnyx_messaging_orders") == 1
    assert call("GET", f"{ORDERS}/{entry.job}").json()["data"]["success"] == [UNASSIGNED]


@pytest.mark.parametrize(
    ("body", "status", "pointer", "detail"),
    [
        (b"not json", 400, "/base", "The request body is not valid JSON."),
        ({"numbers": [UNASSIGNED]}, 422, "/messaging_profile_id", "must be present"),
        (
            {"messaging_profile_id": None, "numbers": [UNASSIGNED]},
            422,
            "/messaging_profile_id",
            "must be a string",
        ),
        (
            {"messaging_profile_id": "00000000-0000-0000-0000-000000000000", "numbers": [IN_SYNC]},
            422,
            "/messaging_profile_id",
            "The messaging profile does not exist or is not part of your account.",
        ),
        ({"messaging_profile_id": SUPPORT}, 422, "/numbers", "must be present"),
        (
            {"messaging_profile_id": SUPPORT, "numbers": []},
            422,
            "/numbers",
            "You must provide at least 1 phone number.",
        ),
        (
            {"messaging_profile_id": SUPPORT, "numbers": "+13127367202"},
            422,
            "/numbers",
            "must be an array of +E.164 phone numbers",
        ),
        (
            {"messaging_profile_id": SUPPORT, "numbers": [UNASSIGNED, "1293384261075707919"]},
            422,
            "/numbers/1",
            "must be a phone number in +E.164 format",
        ),
        (
            {"messaging_profile_id": SUPPORT, "numbers": [UNASSIGNED, "+19995550100"]},
            422,
            "/numbers/1",
            "The phone number +19995550100 is not in your account.",
        ),
        (
            {"messaging_profile_id": SUPPORT, "numbers": [UNASSIGNED], "assign_only": "yes"},
            422,
            "/assign_only",
            "must be a boolean",
        ),
        (
            {"messaging_profile_id": SUPPORT, "numbers": [UNASSIGNED], "profile": SALES},
            422,
            "/profile",
            "is not a permitted field",
        ),
    ],
)
def test_refused_orders_create_nothing(
    call: Client,
    contracts: Contracts,
    sandbox: Sandbox,
    body: Any,
    status: int,
    pointer: str,
    detail: str,
) -> None:
    kw = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = call("POST", ORDERS, **kw)
    assert response.status_code == status
    [item] = response.json()["errors"]
    assert (item["code"], item["title"], item["detail"], item["source"]["pointer"]) == (
        "10015",
        "Bad Request",
        detail,
        pointer,
    )
    assert count(sandbox, "telnyx_messaging_orders") == 0
    assert messaging(listing(call)[UNASSIGNED]) == (None, None)
    contracts.assert_clean(requests=False)


def test_an_unknown_order_is_404(call: Client, contracts: Contracts) -> None:
    wrong_method = call("GET", ORDERS)  # the spec declares no GET here, so no contract check
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    contracts.bulk.violations.clear()
    response = call("GET", f"{ORDERS}/6f1c3c8e-0000-4000-8000-000000000000")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "10005"
    contracts.assert_clean()


# ---- emergency jobs


def test_an_emergency_job_enables_then_provisions(
    call: Client, contracts: Contracts, clock: FakeClock
) -> None:
    targets = ids(call, NO_E911, WRONG_E911)
    created = call(
        "POST",
        EMERGENCY,
        json={"phone_numbers": targets, "emergency_enabled": True, "emergency_address_id": CHI},
    )
    assert created.status_code == 202
    job = created.json()["data"]
    assert (job["type"], job["status"], len(job["pending_operations"])) == (
        "update_emergency_settings",
        "pending",
        2,
    )
    assert job["parameters"] == {
        "emergency_enabled": True,
        "emergency_address_id": CHI,
        "phone_numbers": targets,
    }
    clock.advance(sim.DEFAULT_JOB_PENDING_S + sim.DEFAULT_JOB_RUN_S)
    done = call("GET", f"/phone_numbers/jobs/{job['id']}").json()["data"]
    assert done["status"] == "completed"
    assert {op["id"] for op in done["successful_operations"]} == set(targets)
    by = listing(call)
    assert emergency(by[NO_E911]) == emergency(by[WRONG_E911]) == (True, CHI, "provisioning")
    clock.advance(sim.knobs.DEFAULT_EMERGENCY_PROVISIONING_S)
    by = listing(call)
    assert emergency(by[NO_E911]) == emergency(by[WRONG_E911]) == (True, CHI, "active")
    voice = call("GET", f"/phone_numbers/{targets[0]}/voice").json()["data"]
    assert voice["emergency"] == {
        "emergency_enabled": True,
        "emergency_status": "active",
        "emergency_address_id": CHI,
    }
    typed = call(
        "GET", "/phone_numbers/jobs", params={"filter[type]": "update_emergency_settings"}
    ).json()["data"]
    assert [j["id"] for j in typed] == [job["id"]]
    other = call("GET", "/phone_numbers/jobs", params={"filter[type]": "update_phone_numbers"})
    assert other.json()["data"] == []
    contracts.assert_clean()


def test_disabling_deprovisions_and_the_same_state_is_left_alone(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.emergency_provisioning_s", 5)
    [on, same] = ids(call, IN_SYNC, "+13127367204")
    body = {"phone_numbers": [on], "emergency_enabled": False, "emergency_address_id": None}
    job = call("POST", EMERGENCY, json=body).json()["data"]
    assert job["parameters"] == body  # the null sent is saved, as the SDK says saved nulls are
    call(
        "POST",
        EMERGENCY,
        json={"phone_numbers": [same], "emergency_enabled": True, "emergency_address_id": CHI},
    )
    clock.advance(1)
    by = listing(call)
    assert emergency(by[IN_SYNC]) == (False, None, "deprovisioning")
    assert emergency(by["+13127367204"]) == (True, CHI, "active")  # nothing to provision
    clock.advance(5)
    by = listing(call)
    assert emergency(by[IN_SYNC]) == (False, None, "disabled")
    voice = call("GET", f"/phone_numbers/{on}/voice").json()["data"]
    assert voice["emergency"] == {"emergency_enabled": False, "emergency_status": "disabled"}


def test_provisioning_can_fail_or_be_immediate(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.emergency_provisioning_faults", {"p": 1.0})
    body = {"phone_numbers": [NO_E911], "emergency_enabled": True, "emergency_address_id": CHI}
    call("POST", EMERGENCY, json=body)
    clock.advance(1)
    assert emergency(listing(call)[NO_E911]) == (True, CHI, "provisioning")
    clock.advance(0.5)
    assert emergency(listing(call)[NO_E911]) == (True, CHI, "provisioning-failed")

    sandbox.store.set_knob("telnyx.emergency_provisioning_faults", None)
    sandbox.store.set_knob("telnyx.emergency_provisioning_s", 0)
    call("POST", EMERGENCY, json=body)  # provisioning-failed is not "active": provisioned again
    clock.advance(1)
    assert emergency(listing(call)[NO_E911]) == (True, CHI, "active")


def test_an_unknown_address_fails_every_number_inside_the_job(
    call: Client, contracts: Contracts, clock: FakeClock
) -> None:
    body = {"phone_numbers": [NO_E911], "emergency_enabled": True, "emergency_address_id": "1"}
    job = call("POST", EMERGENCY, json=body).json()["data"]
    clock.advance(1)
    done = call("GET", f"/phone_numbers/jobs/{job['id']}").json()["data"]
    assert done["status"] == "completed" and done["successful_operations"] == []
    [failed] = done["failed_operations"]
    assert failed["phone_number"] == NO_E911
    assert [(e["code"], e["detail"], e["source"]["pointer"]) for e in failed["errors"]] == [
        ("10015", "The field is invalid.", "/emergency_address_id")
    ]
    assert emergency(listing(call)[NO_E911]) == (False, None, "disabled")
    contracts.assert_clean()


def test_job_number_failures_apply_to_emergency_jobs(
    call: Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.store.set_knob("telnyx.fail_numbers", [NO_E911])
    body = {
        "phone_numbers": [NO_E911, PORT_PENDING],
        "emergency_enabled": True,
        "emergency_address_id": CHI,
    }
    job = call("POST", EMERGENCY, json=body).json()["data"]
    clock.advance(2)
    done = call("GET", f"/phone_numbers/jobs/{job['id']}").json()["data"]
    codes = {op["phone_number"]: op["errors"][0]["code"] for op in done["failed_operations"]}
    assert codes == {NO_E911: "10007", PORT_PENDING: "10015"}
    assert emergency(listing(call)[NO_E911]) == (False, None, "disabled")


@pytest.mark.parametrize(
    ("body", "pointer", "detail"),
    [
        (
            {"emergency_enabled": True, "emergency_address_id": CHI},
            "/phone_numbers",
            "must be present",
        ),
        (
            {"phone_numbers": [], "emergency_enabled": False},
            "/phone_numbers",
            "You must provide at least 1 phone number.",
        ),
        (
            {"phone_numbers": [str(i) for i in range(1001)], "emergency_enabled": False},
            "/phone_numbers",
            "1000 numbers is the maximum allowed.",
        ),
        ({"phone_numbers": [NO_E911]}, "/emergency_enabled", "must be present"),
        (
            {"phone_numbers": [NO_E911], "emergency_enabled": "true"},
            "/emergency_enabled",
            "must be a boolean",
        ),
        (
            {"phone_numbers": [NO_E911], "emergency_enabled": True},
            "/emergency_address_id",
            "is required when emergency_enabled is true",
        ),
        (
            {"phone_numbers": [NO_E911], "emergency_enabled": True, "emergency_address_id": None},
            "/emergency_address_id",
            "is required when emergency_enabled is true",
        ),
        (
            {"phone_numbers": [IN_SYNC], "emergency_enabled": False, "emergency_address_id": CHI},
            "/emergency_address_id",
            "must be null or omitted when emergency_enabled is false",
        ),
        (
            {"phone_numbers": [NO_E911], "emergency_enabled": True, "emergency_address_id": 7},
            "/emergency_address_id",
            "must be a string or null",
        ),
        (
            {"phone_numbers": [NO_E911], "emergency_enabled": False, "tags": ["x"]},
            "/tags",
            "is not a permitted field",
        ),
        (
            {"phone_numbers": [NO_E911, "1293384261075707919"], "emergency_enabled": False},
            "/phone_numbers",
            "You must specify either all phone numbers in the e164 format or all as phone "
            "number ids",
        ),
        (
            {"phone_numbers": [NO_E911, "+19995550100"], "emergency_enabled": False},
            "/phone_numbers",
            "You must own every number in the bulk request",
        ),
    ],
)
def test_refused_emergency_jobs_create_nothing(
    call: Client,
    contracts: Contracts,
    sandbox: Sandbox,
    body: dict[str, Any],
    pointer: str,
    detail: str,
) -> None:
    response = call("POST", EMERGENCY, json=body)
    assert response.status_code == 422
    item = response.json()["errors"][0]
    assert (item["code"], item["detail"], item["source"]["pointer"]) == ("10015", detail, pointer)
    assert count(sandbox, "telnyx_jobs") == 0
    contracts.assert_clean(requests=False)


def test_the_job_cap_is_shared_unless_the_knob_separates_it(call: Client, sandbox: Sandbox) -> None:
    sandbox.store.set_knob("telnyx.job_pending_s", 3600)
    [target] = ids(call, "+13035559100")
    for _ in range(sim.MAX_ACTIVE_JOBS):
        update = call(
            "POST",
            "/phone_numbers/jobs/update_phone_numbers",
            json={"phone_numbers": [target], "tags": ["x"]},
        )
        assert update.status_code == 202
    body = {"phone_numbers": [target], "emergency_enabled": False}
    refused = call("POST", EMERGENCY, json=body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["detail"] == (
        "You can have at most 20 pending or in progress jobs"
    )
    sandbox.store.set_knob("telnyx.emergency_job_cap_separate", True)
    for _ in range(sim.MAX_ACTIVE_JOBS):  # emergency jobs do not count against update jobs
        assert call("POST", EMERGENCY, json=body).status_code == 202
    again = call(
        "POST",
        "/phone_numbers/jobs/update_phone_numbers",
        json={"phone_numbers": [target], "tags": ["y"]},
    )
    assert again.status_code == 422  # update jobs still have their 20
    sandbox.store.set_knob("telnyx.emergency_job_cap_separate", False)
    assert call("POST", EMERGENCY, json=body).status_code == 422  # 40 active, shared cap of 20


# ---- the profile lookup failure


def test_an_unavailable_profile_lookup_reads_unavailable(call: Client, sandbox: Sandbox) -> None:
    sandbox.store.set_knob("telnyx.messaging_profile_error", "unavailable")
    page = call("GET", "/phone_numbers", params={"page[size]": 250}).json()
    assert "errors" not in page
    by = {n["phone_number"]: n for n in page["data"]}
    assert messaging(by[IN_SYNC]) == ("UNAVAILABLE", "UNAVAILABLE")
    assert messaging(by[UNASSIGNED]) == (None, None)  # no profile: nothing to look up
    sandbox.store.set_knob("telnyx.messaging_profile_error", True)
    handled = call(
        "GET",
        "/phone_numbers",
        params={"page[size]": 250, "handle_messaging_profile_error": "true"},
    ).json()
    assert "messaging_profile_id" not in handled["data"][0] and handled["errors"]


# ---- the knobs


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("telnyx.messaging_order_pending_s", 2.5, -1),
        ("telnyx.messaging_number_faults", {"p": 0.1, "seed": 2}, {"p": 2}),
        ("telnyx.emergency_provisioning_s", 0, "soon"),
        ("telnyx.emergency_provisioning_faults", {"p": 1.0, "seed": 0}, 0.5),
        ("telnyx.emergency_job_cap_separate", True, "yes"),
        ("telnyx.messaging_profile_error", "unavailable", "omitted"),
    ],
)
def test_new_knobs_are_registered_and_validated(name: str, good: Any, bad: Any) -> None:
    assert name in registry.registry()
    assert registry.check(name, good) == good
    with pytest.raises(registry.KnobError):
        registry.check(name, bad)


def test_every_telnyx_knob_is_documented() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "sandbox-telnyx.md").read_text()
    assert [k.name for k in sim.knobs.KNOBS if k.name not in docs] == []


# ---- the official SDK on the served sandbox


@pytest.fixture
def sdk(sandbox: Sandbox) -> Iterator[telnyx.Telnyx]:
    with (
        served(sandbox) as url,
        telnyx.Telnyx(
            api_key=sim.DEFAULT_KEY,
            base_url=url + sim.MOUNT,
            max_retries=0,
            _strict_response_validation=True,
        ) as client,
    ):
        yield client


def test_the_sdk_assigns_profiles_and_updates_emergency_settings(
    sdk: telnyx.Telnyx, clock: FakeClock
) -> None:
    created = sdk.messaging_numbers_bulk_updates.create(
        messaging_profile_id=SUPPORT, numbers=[UNASSIGNED, ON_ALERTS], assign_only=True
    ).data
    assert created is not None and created.order_id is not None
    assert (created.pending, created.success, created.failed) == ([UNASSIGNED, ON_ALERTS], [], [])
    clock.advance(1)
    done = sdk.messaging_numbers_bulk_updates.retrieve(created.order_id).data
    assert done is not None and (done.success, done.pending) == ([UNASSIGNED, ON_ALERTS], [])

    [number] = list(sdk.phone_numbers.list(filter={"phone_number": NO_E911[1:]}))
    assert (number.emergency_enabled, number.emergency_status) == (False, "disabled")
    job = sdk.phone_numbers.jobs.update_emergency_settings_batch(
        emergency_enabled=True, emergency_address_id=CHI, phone_numbers=[number.id or ""]
    ).data
    assert job is not None and job.id is not None
    assert (job.type, job.status) == ("update_emergency_settings", "pending")
    clock.advance(1)
    finished = sdk.phone_numbers.jobs.retrieve(job.id).data
    assert finished is not None and finished.status == "completed"
    clock.advance(1)
    after = sdk.phone_numbers.retrieve(number.id or "").data
    assert after is not None
    assert (after.emergency_enabled, after.emergency_address_id, after.emergency_status) == (
        True,
        CHI,
        "active",
    )
    [assigned] = list(sdk.phone_numbers.list(filter={"phone_number": UNASSIGNED[1:]}))
    assert (assigned.messaging_profile_id, assigned.messaging_profile_name) == (
        SUPPORT,
        "support-sms",
    )
    with pytest.raises(telnyx.UnprocessableEntityError, match="messaging profile does not exist"):
        sdk.messaging_numbers_bulk_updates.create(
            messaging_profile_id="00000000-0000-0000-0000-000000000000", numbers=[UNASSIGNED]
        )
    with pytest.raises(telnyx.UnprocessableEntityError, match="is required"):
        sdk.phone_numbers.jobs.update_emergency_settings_batch(
            emergency_enabled=True, phone_numbers=[number.id or ""]
        )
