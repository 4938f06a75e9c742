"""Carrier data nobody here wrote (issue 15): absurd or inconsistent paging is a "carrier data"
error naming the account, the page and the field, in a bounded number of requests; two ids of
one E.164 do not crash export; a number held by a live job still counts as managed; a failed
account leaves no never-awaited coroutine behind; messages say what is actually wrong."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import run, sandbox_provider

from reconciler import rails
from reconciler.clock import FakeClock
from reconciler.errors import CarrierDataError, ProviderError
from reconciler.export import export_account, summary
from reconciler.export.account import choose_fields
from reconciler.loader import load
from reconciler.models import LiveNumber
from reconciler.planner import make_plan
from reconciler.runner import fetch_current, open_accounts

Handler = Callable[[httpx.Request], httpx.Response]


class Counting:
    """A mock carrier that counts requests and refuses past ``cap`` (so a client that would
    read forever fails the test instead of hanging it)."""

    def __init__(self, handle: Handler, cap: int = 300) -> None:
        self.handle, self.cap, self.n = handle, cap, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.n += 1
        if self.n > self.cap:
            return httpx.Response(400, json={"success": False, "message": "request cap"})
        return self.handle(request)


def wavix_item(i: int) -> dict[str, Any]:
    return {
        "id": 1000 + i,
        "number": f"1313555{i:04d}",
        "status": "active",
        "destination": [],
        "sms_enabled": False,
        "call_recording_enabled": False,
        "transcription_enabled": False,
        "transcription_threshold": 0,
        "sms_relay_url": None,
        "call_status_url": None,
    }


def wavix_pages(count: int, pagination: dict[str, Any], per_page: int = 100) -> Handler:
    items = [wavix_item(i) for i in range(count)]

    def handle(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        return httpx.Response(200, json={"items": chunk, "pagination": pagination})

    return handle


def telnyx_pages(
    count: int, meta: dict[str, Any] | None, size: int = 250, *, same_page: bool = False
) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        page = 1 if same_page else int(request.url.params.get("page[number]", "1"))
        ids = range((page - 1) * size, min(count, page * size))
        voice = request.url.path.endswith("/voice")
        data = [
            {"id": str(i)} if voice else {"id": str(i), "phone_number": f"+1415555{i:04d}"}
            for i in ids
        ]
        body: dict[str, Any] = {"data": data}
        if meta is not None:
            body["meta"] = meta
        return httpx.Response(200, json=body)

    return handle


def read(carrier: str, mock: Counting, **config: Any) -> list[LiveNumber]:
    async def go() -> list[LiveNumber]:
        provider = sandbox_provider(
            None,
            carrier,
            account="acct",
            transport=httpx.MockTransport(mock),
            clock=FakeClock(),
            **config,
        )
        try:
            return await provider.fetch_all()
        finally:
            await provider.aclose()

    return run(go())  # type: ignore[no-any-return]


# ---- item 1: total_pages trusted blindly


@pytest.mark.parametrize(
    "pagination,field",
    [
        ({"current_page": 1, "per_page": 100, "total": 3, "total_pages": 5000}, "total_pages"),
        ({"current_page": 1, "per_page": 100, "total": 3, "total_pages": 10**9}, "total_pages"),
        ({"current_page": 1, "per_page": -1, "total": 3, "total_pages": 1}, "per_page"),
        ({"current_page": 1, "per_page": 100, "total": -3, "total_pages": 1}, "total"),
        ({"current_page": 1, "per_page": 100, "total": 3, "total_pages": 1.5}, "total_pages"),
        ({"current_page": 1, "per_page": 1, "total": 10**9, "total_pages": 10**9}, "total_pages"),
    ],
)
def test_wavix_absurd_paging_is_a_carrier_data_error(
    pagination: dict[str, Any], field: str
) -> None:
    # Before: 5000 (or 1e9: memory until the process dies) coroutines at once, no error.
    mock = Counting(wavix_pages(3, pagination))
    with pytest.raises(CarrierDataError) as caught:
        read("wavix", mock)
    message = str(caught.value)
    assert "[acct]" in message and "carrier data" in message
    assert "page 1" in message and field in message
    assert mock.n <= 8


def test_wavix_pages_that_never_end_stop_at_an_empty_page() -> None:
    # The carrier announces 5000 pages (consistent with its total) but has 250 numbers.
    pagination = {"current_page": 1, "per_page": 100, "total": 500_000, "total_pages": 5000}
    mock = Counting(wavix_pages(250, pagination))
    numbers = read("wavix", mock)
    assert len(numbers) == 250
    assert mock.n <= 3 + 2 * 8  # three pages, an empty one, at most a window beyond


def test_wavix_a_listing_that_repeats_its_pages_is_a_carrier_data_error() -> None:
    pagination = {"current_page": 1, "per_page": 100, "total": 500_000, "total_pages": 5000}
    items = [wavix_item(i) for i in range(100)]
    mock = Counting(lambda r: httpx.Response(200, json={"items": items, "pagination": pagination}))
    with pytest.raises(CarrierDataError, match=r"page \d+: .*no number not already read"):
        read("wavix", mock)
    assert mock.n <= 3 * 8


@pytest.mark.parametrize(
    "meta,field",
    [
        ({"page_size": -1, "total_pages": 5000, "total_results": 3}, "page_size"),
        ({"page_size": 250, "total_pages": 5000, "total_results": 3}, "total_pages"),
        ({"page_size": 250, "total_pages": -2, "total_results": 3}, "total_pages"),
        ({"page_size": 250, "total_pages": 1, "total_results": "3"}, "total_results"),
        ({"page_size": 250, "total_pages": 10**9}, "total_pages"),
    ],
)
def test_telnyx_absurd_paging_is_a_carrier_data_error(meta: dict[str, Any], field: str) -> None:
    mock = Counting(telnyx_pages(3, meta))
    with pytest.raises(CarrierDataError) as caught:
        read("telnyx", mock)
    message = str(caught.value)
    assert "[acct]" in message and "carrier data" in message
    assert "page 1" in message and field in message
    assert mock.n <= 2 * 8


def test_telnyx_pages_that_never_end_are_a_carrier_data_error() -> None:
    # Full pages without meta, the same page whatever page[number] asks: before, read forever.
    mock = Counting(telnyx_pages(250, None, same_page=True))
    with pytest.raises(CarrierDataError, match="no number not already read"):
        read("telnyx", mock)
    assert mock.n <= 4 * 8


def test_telnyx_full_pages_beyond_the_total_are_a_carrier_data_error() -> None:
    # The totals move on every page (so total_pages never ends the read), about 300 numbers,
    # yet full pages keep coming. Before: read until the carrier's pages ran out (cap: 400).
    full = telnyx_pages(100_000, {})

    def handle(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page[number]", "1"))
        body = json.loads(full(request).content)
        body["meta"] = {"page_size": 250, "total_pages": 2, "total_results": 300 + page}
        return httpx.Response(200, json=body)

    mock = Counting(handle)
    with pytest.raises(CarrierDataError, match=r"page 3: .*total_results"):
        read("telnyx", mock)
    assert mock.n <= 6 * 8


def test_telnyx_without_total_pages_still_reads_to_a_short_page() -> None:
    mock = Counting(telnyx_pages(600, {"page_size": 250}))
    assert len(read("telnyx", mock)) == 600


# ---- item 2: two live ids share one E.164


def test_export_of_two_ids_sharing_one_number_names_both() -> None:
    same = {
        "sms_enabled": True,
        "destinations": [],
        "sms_relay_url": None,
        "call_recording_enabled": False,
        "transcription_enabled": False,
        "transcription_threshold": 0,
        "call_status_url": None,
    }
    other = {**same, "sms_enabled": False}
    live = [
        LiveNumber("11", "+13135550100", "active", same),
        LiveNumber("12", "+13135550100", "active", other),
        LiveNumber("13", "+13135550101", "active", same),
        LiveNumber("14", "+13135550102", "active", same),
    ]
    # Before: IndexError in factoring's trie (keys[i][n] past the end of an equal key).
    out = export_account("w", "wavix", {"type": "wavix", "sandbox": True}, live, [*same])
    assert out.duplicates == [("+13135550100", ("11", "12"))]
    lines = "\n".join(summary(out))
    assert "+13135550100" in lines and "11" in lines and "12" in lines
    # The fields both ids agree on are managed; sms_enabled (they differ) is not.
    assert "+13135550100" in out.text
    assert out.unwritable.get("sms_enabled") is None


# ---- item 3: a number held by a live job is a managed number


def test_held_numbers_count_as_managed(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n  w:\n    type: wavix\n    sandbox: true\n"
        "numbers:\n  - provider: w\n    number: '+13135550100'\n    settings:\n"
        "      sms_enabled: true\n"
    )
    state = load(config)
    settings = {"sms_enabled": False}
    live = {
        "w": [
            LiveNumber("1", "+13135550100", "active", settings),
            LiveNumber("2", "+13135550199", "active", settings),
        ]
    }
    plan = make_plan(state, live)
    assert len(plan.changes) == 1
    held = plan.without({("w", "1")})  # what pending.hold does for a number a live job covers
    # Before: 0 managed, and drift refused with "selectors match none of the account's numbers".
    assert rails.managed_counts(held) == {"w": 1}
    assert rails.plan_empty_warnings(held) == []


# ---- item 6: no coroutine left never awaited when one account fails


def test_a_failed_account_leaves_no_unawaited_coroutine(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "providers:\n"
        "  bad:\n    type: telnyx\n    sandbox: true\n    base_url: http://carrier.test\n"
        "  slow:\n    type: telnyx\n    sandbox: true\n    base_url: http://carrier.test\n"
        "    concurrency: 1\n"
        "numbers:\n"
        "  - {provider: bad, number: '+1415*', settings: {tags: [a]}}\n"
        "  - {provider: slow, number: '+1415*', settings: {tags: [a]}}\n"
    )
    state = load(config)

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return httpx.Response(200, json={"data": [], "meta": {"page_size": 250}})

    transports = {
        "bad": httpx.MockTransport(lambda r: httpx.Response(401, json={"errors": []})),
        "slow": httpx.MockTransport(slow),
    }

    async def go() -> None:
        async with open_accounts(state, transports=transports) as providers:
            await fetch_current(providers)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ProviderError):
            asyncio.run(go())
        gc.collect()
    never = [w for w in seen if "never awaited" in str(w.message)]
    assert never == []


# ---- item 7: wording


def test_wavix_negative_total_pages_is_not_called_missing() -> None:
    pagination = {"current_page": 1, "per_page": 100, "total": 3, "total_pages": -1}
    with pytest.raises(CarrierDataError) as caught:
        read("wavix", Counting(wavix_pages(3, pagination)))
    assert "has no" not in str(caught.value)
    assert "pagination.total_pages is -1" in str(caught.value)


def test_export_says_a_rejected_value_is_rejected_not_null() -> None:
    settings = {
        "sms_enabled": True,
        "destinations": [],
        "sms_relay_url": "not a url",
        "call_recording_enabled": False,
        "transcription_enabled": False,
        "transcription_threshold": -5,
        "call_status_url": None,
    }
    live = [LiveNumber("1", "+13135550100", "active", settings)]
    fields = choose_fields("wavix", None)
    out = export_account("w", "wavix", {"type": "wavix", "sandbox": True}, live, fields)
    text = "\n".join(summary(out))
    assert "transcription_threshold" in text and "sms_relay_url" in text
    null_line = next(line for line in text.splitlines() if "(null)" in line or "null" in line)
    assert "transcription_threshold" not in null_line  # -5 is not a null
    assert "call_status_url" in null_line
    assert "settings model refuses" in text


def test_export_writes_control_characters_as_escapes() -> None:
    # Found by tests/test_carrier_answers.py: a C1 control character (U+0083) was written raw,
    # and the YAML did not load ("export of acct: the YAML does not load (a bug)", exit 1).
    settings = {"tags": ["a\x83b", "c\x7f\u2028d"], "customer_reference": "\x86"}
    live = [LiveNumber("1", "+13135550100", "active", settings)]
    out = export_account("t", "telnyx", {"type": "telnyx", "sandbox": True}, live, [*settings])
    assert "\\u0083" in out.text and "\x83" not in out.text  # and it loaded back (verify=True)
