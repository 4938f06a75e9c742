"""Hostile requests to both simulators (issue 15, items 8-13 and 15): each is answered with the
carrier's documented status and error body, never a 500 or plain text, and every answer to a
documented operation is checked against the vendored official spec (``ContractTransport``)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import spec_path
from contract import ContractTransport
from helpers import cli
from wavix_contract import wavix_spec

from reconciler.errors import ConfigError
from reconciler.sandbox import Sandbox, SandboxStore, telnyx, wavix

ORIGIN = "http://sandbox.invalid"
WAVIX_ID = wavix.FIRST_ID
TELNYX_ID = telnyx.number_id(1)
DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000

Call = Callable[..., httpx.Response]


@pytest.fixture
def contracts(sandbox: Sandbox) -> dict[str, ContractTransport]:
    inner = httpx.ASGITransport(app=sandbox.app)
    return {
        "wavix": ContractTransport(inner, wavix_spec(), wavix.MOUNT),
        "telnyx": ContractTransport(
            inner, spec_path("telnyx-phone-numbers.openapi.json"), telnyx.MOUNT
        ),
    }


@pytest.fixture
def call(sandbox: Sandbox, contracts: dict[str, ContractTransport]) -> Iterator[Call]:
    """``call(carrier, method, path, checked=True, **httpx kwargs)``: a request with the
        carrier's full-access key; ``checked`` requests go through that carrier's contract check,
        whose response side must stay clean (paths and methods outside the spec, and bodies too deep
    for openapi-core's own parser, are sent unchecked)."""

    def run(carrier: str, method: str, path: str, checked: bool = True, **kw: Any) -> Any:
        sim = {"wavix": wavix, "telnyx": telnyx}[carrier]
        transport = contracts[carrier] if checked else httpx.ASGITransport(app=sandbox.app)
        headers = {"Authorization": f"Bearer {sim.DEFAULT_KEY}"}

        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=transport, base_url=ORIGIN + sim.MOUNT, headers=headers
            ) as client:
                return await client.request(method, path, **kw)

        return asyncio.run(send())

    yield run
    # Requests here are invalid on purpose: only what the sandbox answers must match the spec.
    answers = [v for c in contracts.values() for v in c.violations if v.side == "response"]
    assert not answers, "\n".join(map(str, answers))


def wavix_message(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False
    return str(body["message"])


def telnyx_error(response: httpx.Response) -> dict[str, Any]:
    (error,) = response.json()["errors"]
    return dict(error)


# ---- 8. deeply nested JSON on every write endpoint: a malformed body, not a RecursionError


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("path", ["/v1/numbers", f"/v1/numbers/{WAVIX_ID}"])
def test_wavix_deeply_nested_body_is_a_400(call: Call, path: str, body: str) -> None:
    response = call("wavix", "PATCH", path, checked=False, content=body)
    assert response.status_code == 400
    assert wavix_message(response) == "Missing or invalid parameter body"


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/phone_numbers/jobs/update_phone_numbers"),
        ("PATCH", f"/phone_numbers/{TELNYX_ID}"),
        ("PATCH", f"/phone_numbers/{TELNYX_ID}/voice"),
    ],
)
def test_telnyx_deeply_nested_body_is_a_400(call: Call, method: str, path: str, body: str) -> None:
    response = call("telnyx", method, path, checked=False, content=body)
    assert response.status_code == 400
    error = telnyx_error(response)
    assert (error["code"], error["source"]) == ("10015", {"pointer": "/base"})
    assert error["detail"] == "The request body is not valid JSON."


# ---- 9. a page number past anything SQLite holds: an empty page on every listing


@pytest.mark.parametrize("path", ["/phone_numbers", "/phone_numbers/voice", "/phone_numbers/jobs"])
@pytest.mark.parametrize("number", [2**62, 2**63, 10**30])
@pytest.mark.parametrize("sort", [None, "phone_number"])
def test_telnyx_huge_page_number_is_an_empty_page(
    call: Call, path: str, number: int, sort: str | None
) -> None:
    if sort is not None and path.endswith("jobs"):
        sort = "created_at"
    params: dict[str, Any] = {"page[number]": number} | ({"sort": sort} if sort else {})
    response = call("telnyx", "GET", path, params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == []
    assert body["meta"]["page_number"] == number


def test_telnyx_page_past_the_end_keeps_the_totals(call: Call) -> None:
    first = call("telnyx", "GET", "/phone_numbers").json()["meta"]
    far = call("telnyx", "GET", "/phone_numbers", params={"page[number]": 10**30}).json()["meta"]
    assert far["total_results"] == first["total_results"] > 0


# ---- 10. a trailing newline is refused like a trailing space (CNAM details may hold spaces)


@pytest.mark.parametrize(
    ("group", "field", "value", "code", "tail"),
    [
        ("call_forwarding", "forwards_to", "+13125550100", "10016", " "),
        *(
            (group, field, value, code, tail)
            for tail in ("\n", "\r\n", "\n\n", "\r")
            for group, field, value, code in (
                ("call_forwarding", "forwards_to", "+13125550100", "10016"),
                ("cnam_listing", "cnam_listing_details", "ACME", "10015"),
            )
        ),
    ],
)
def test_telnyx_trailing_newline_is_refused(
    call: Call, group: str, field: str, value: str, code: str, tail: str
) -> None:
    patch = call(
        "telnyx", "PATCH", f"/phone_numbers/{TELNYX_ID}/voice", json={group: {field: value + tail}}
    )
    assert patch.status_code == 422
    assert telnyx_error(patch)["code"] == code
    assert telnyx_error(patch)["source"] == {"pointer": f"/{group}/{field}"}
    job = call(
        "telnyx",
        "POST",
        "/phone_numbers/jobs/update_phone_numbers",
        json={"phone_numbers": [TELNYX_ID], "voice": {group: {field: value + tail}}},
    )
    assert job.status_code == 422
    assert telnyx_error(job)["source"] == {"pointer": f"/voice/{group}/{field}"}
    ok = call("telnyx", "PATCH", f"/phone_numbers/{TELNYX_ID}/voice", json={group: {field: value}})
    assert ok.status_code == 200  # the same value without the tail is fine


# ---- 11. integer parameters are ASCII digits, one parser for both simulators

NOT_ASCII_INTEGERS = ["1_0", " 3 ", "+3", "-3", "3.0", "３", "٣", "", "0x10", "1" * 200]


@pytest.mark.parametrize("raw", NOT_ASCII_INTEGERS)
@pytest.mark.parametrize("name", ["page", "per_page"])
def test_wavix_integer_parameters_are_ascii_digits(call: Call, name: str, raw: str) -> None:
    response = call("wavix", "GET", "/v1/numbers", params={name: raw})
    assert response.status_code == 400
    assert wavix_message(response) == f"Missing or invalid parameter {name}"


@pytest.mark.parametrize("raw", NOT_ASCII_INTEGERS)
@pytest.mark.parametrize("name", ["size", "number"])
@pytest.mark.parametrize("path", ["/phone_numbers", "/phone_numbers/voice", "/phone_numbers/jobs"])
def test_telnyx_page_parameters_are_ascii_digits(
    call: Call, path: str, name: str, raw: str
) -> None:
    response = call("telnyx", "GET", path, params={f"page[{name}]": raw})
    assert response.status_code == 422
    error = telnyx_error(response)
    assert (error["title"], error["source"]) == ("Invalid pagination", {"pointer": f"page/{name}"})


def test_integer_parameters_still_take_plain_digits(call: Call) -> None:
    wavix_page = call("wavix", "GET", "/v1/numbers", params={"page": "2", "per_page": "03"})
    assert wavix_page.status_code == 200
    assert wavix_page.json()["pagination"]["per_page"] == 3
    telnyx_page = call("telnyx", "GET", "/phone_numbers", params={"page[size]": "007"})
    assert telnyx_page.status_code == 200
    assert len(telnyx_page.json()["data"]) == 7


@pytest.mark.parametrize("raw", ["1" * 5000, "４７８３２１２３００１", "+47832123001"])
def test_wavix_path_id_is_ascii_digits(call: Call, raw: str) -> None:
    response = call("wavix", "GET", f"/v1/numbers/{raw}")
    assert response.status_code == 400
    assert wavix_message(response) == "Missing or invalid parameter id"


# ---- 12. every 404 and 405 is the carrier's JSON body; every 405 has a correct Allow


@pytest.mark.parametrize(
    ("carrier", "method", "path", "allow"),
    [
        ("wavix", "DELETE", "/v1/numbers", "GET, HEAD, PATCH"),
        ("wavix", "POST", "/v1/numbers", "GET, HEAD, PATCH"),
        ("wavix", "PUT", f"/v1/numbers/{WAVIX_ID}", "GET, HEAD, PATCH"),
        ("wavix", "DELETE", f"/v1/numbers/{WAVIX_ID}", "GET, HEAD, PATCH"),
        ("telnyx", "DELETE", "/phone_numbers", "GET, HEAD"),
        ("telnyx", "POST", "/phone_numbers/voice", "GET, HEAD"),
        ("telnyx", "PUT", f"/phone_numbers/{TELNYX_ID}", "GET, HEAD, PATCH"),
        ("telnyx", "DELETE", f"/phone_numbers/{TELNYX_ID}/voice", "GET, HEAD, PATCH"),
        ("telnyx", "POST", "/phone_numbers/jobs", "GET, HEAD"),
        ("telnyx", "GET", "/phone_numbers/jobs/update_phone_numbers", "POST"),
        ("telnyx", "PATCH", "/phone_numbers/jobs/x", "GET, HEAD"),
        ("telnyx", "OPTIONS", "/phone_numbers", "GET, HEAD"),
    ],
)
def test_method_not_allowed_is_the_carriers_body_with_allow(
    call: Call, carrier: str, method: str, path: str, allow: str
) -> None:
    response = call(carrier, method, path, checked=False)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/json"
    if carrier == "wavix":
        assert wavix_message(response) == "Method not allowed"
    else:
        assert telnyx_error(response)["code"] == "10015"


def test_every_allowed_method_is_served(call: Call) -> None:
    """What Allow lists is true: HEAD answers as GET does, without failing."""
    assert call("wavix", "HEAD", "/v1/numbers", checked=False).status_code == 200
    assert call("telnyx", "HEAD", "/phone_numbers/jobs", checked=False).status_code == 200


@pytest.mark.parametrize(
    "path", ["/v1/numbers%0A", "/v1/numbers/%0A", "/v1/%0Anumbers", "/v2/numbers", "/v1"]
)
def test_wavix_unknown_paths_are_its_json_404(call: Call, path: str) -> None:
    response = call("wavix", "GET", path, checked=False)
    assert response.status_code in (400, 404)  # "/v1/numbers/\n" is a bad id: 400 "id"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["success"] is False


@pytest.mark.parametrize(
    "path",
    ["/phone_numbers%0A", "/phone_numbers/%0A", "/phone_numbers/1%0A2/voice", "/%0A", "/nothing"],
)
def test_telnyx_unknown_paths_are_its_json_404(call: Call, path: str) -> None:
    response = call("telnyx", "GET", path, checked=False)
    assert response.status_code == 404
    assert telnyx_error(response)["code"] == "10005"


def test_a_newline_after_a_route_is_not_that_route(call: Call) -> None:
    """Starlette's ``$`` matches before a final newline: ``/v1/numbers%0A`` was the listing."""
    response = call("wavix", "GET", "/v1/numbers%0A", checked=False)
    assert response.status_code == 404
    assert wavix_message(response) == "Record not found"


@pytest.mark.parametrize("path", ["/", "/nothing", "/wavix", "/telnyx%0A/v2/phone_numbers"])
def test_paths_under_no_simulator_are_a_json_404(sandbox: Sandbox, path: str) -> None:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            return await client.get(path)

    response = asyncio.run(send())
    assert response.status_code == 404
    assert "/wavix and /telnyx/v2" in response.json()["message"]


# ---- 13. every Telnyx listing filter and parameter checked against the spec


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        ("/phone_numbers", "filter[status]=bogus", "filter[status]"),
        ("/phone_numbers", "filter[source]=bogus", "filter[source]"),
        ("/phone_numbers", "filter[number_type][foo]=local", "filter[number_type][foo]"),
        ("/phone_numbers", "filter[number_type]=local", "filter[number_type]"),
        ("/phone_numbers", "filter[number_type][eq]=landline", "filter[number_type][eq]"),
        ("/phone_numbers", "filter[tag][x]=y", "filter[tag][x]"),
        ("/phone_numbers", "filter[status][]=active", "filter[status][]"),
        ("/phone_numbers", "filter[voice.usage_payment_method]=free", None),
        ("/phone_numbers", "filter[voice.connection_name]=abc", None),
        ("/phone_numbers", "filter[voice.connection_name][like]=abc", None),
        ("/phone_numbers", "filter[voice.connection_name][contains]=ab", None),
        ("/phone_numbers", "filter[without_tags]=maybe", "filter[without_tags]"),
        ("/phone_numbers", "filter[bogus]=1", "filter[bogus]"),
        ("/phone_numbers", "handle_messaging_profile_error=maybe", None),
        ("/phone_numbers/voice", "filter[tag]=support", "filter[tag]"),
        ("/phone_numbers/voice", "filter[connection_name][eq]=abc", None),
        ("/phone_numbers/voice", "filter[connection_name][contains]=ab", None),
        ("/phone_numbers/voice", "filter[voice.usage_payment_method]=free", None),
    ],
)
def test_telnyx_listing_filters_are_checked(
    call: Call, path: str, query: str, parameter: str | None
) -> None:
    response = call("telnyx", "GET", f"{path}?{query}", checked=False)
    assert response.status_code == 422
    error = telnyx_error(response)
    assert error["code"] == "10015"
    assert error["source"] == {"parameter": parameter or query.split("=")[0]}


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/phone_numbers", "filter[source]=ported", 1),
        ("/phone_numbers", "filter[number_type][eq]=local", 46),
        ("/phone_numbers", "filter[number_type][eq]=mobile", 0),
        ("/phone_numbers", "filter[voice.connection_name][eq]=denver-fax-t38", 10),
        ("/phone_numbers", "filter[voice.connection_name][contains]=fax", 10),
        ("/phone_numbers", "filter[country_iso_alpha2]=US,CA", 46),
        ("/phone_numbers", "filter[country_iso_alpha2]=CA&filter[country_iso_alpha2]=US", 46),
        ("/phone_numbers", "filter[without_tags]=true", 2),
        ("/phone_numbers", "handle_messaging_profile_error=false", 46),
        ("/phone_numbers/voice", "filter[connection_name][contains]=fax", 10),
        ("/phone_numbers/voice", "filter[voice.usage_payment_method]=channel", 9),
    ],
)
def test_telnyx_listing_filters_still_select(
    call: Call, path: str, query: str, expected: int
) -> None:
    response = call("telnyx", "GET", f"{path}?{query}")
    assert response.status_code == 200
    assert response.json()["meta"]["total_results"] == expected


def test_telnyx_job_filters_are_checked_like_the_listing_filters(call: Call) -> None:
    response = call(
        "telnyx",
        "POST",
        "/phone_numbers/jobs/update_phone_numbers?filter[tag][x]=fax",
        json={"phone_numbers": [], "tags": ["x"]},
    )
    assert response.status_code == 422
    assert telnyx_error(response)["source"] == {"parameter": "filter[tag][x]"}


# ---- 15. a --sandbox-db that is not a sandbox database


def _not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "notes.sqlite3"
    path.write_text("these are my notes, not a database\n" * 50)
    return path


def _other_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    return path


@pytest.mark.parametrize("make", [_not_sqlite, _other_sqlite], ids=["text", "other-sqlite"])
def test_store_refuses_a_file_that_is_not_a_sandbox_database(
    tmp_path: Path, make: Callable[[Path], Path]
) -> None:
    path = make(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as raised:
        SandboxStore(path)
    (issue,) = raised.value.issues
    assert issue.file == str(path)
    assert issue.message.startswith("not a sandbox database: remove it or choose another path")
    assert path.read_bytes() == before  # nothing written into someone else's file


def test_store_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open a sandbox database here"):
        SandboxStore(tmp_path)


def test_store_opens_new_and_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    for path in (empty, tmp_path / "new" / "sandbox.sqlite3"):
        sandbox = Sandbox.open(path)
        assert sandbox.store.get_meta("seeded") is not None
        sandbox.close()
        Sandbox.open(path).close()  # and reopens as its own


@pytest.mark.parametrize("via", ["option", "env"])
def test_cli_names_the_path_that_is_not_a_sandbox_database(tmp_path: Path, via: str) -> None:
    path = _not_sqlite(tmp_path)
    if via == "option":
        result = cli(tmp_path / "unused.sqlite3", "sandbox", "reset", "--sandbox-db", path)
    else:
        result = cli(path, "sandbox", "knob")
    assert result.exit_code == 1
    assert f"{path}: not a sandbox database: remove it or choose another path" in result.output
    assert "Traceback" not in result.output
