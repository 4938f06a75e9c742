"""The carrier decoders' fast paths (issue 18) give what the careful paths give.

Wavix: ``decode.live_all`` decodes items of the exact documented shape inline and hands every
other item to ``live``; on generated pages (well-formed items and items with one field absent,
null or of another type) both give equal numbers, or the same ``BadData``. Telnyx: ``Join``
takes a numbers item's row from a memo of raw values seen before and joins each number as its
second half arrives; on generated listings (pages in any order, repeats, orphans) it gives the
numbers a plain join of ``number_values`` and ``voice_values`` gives.
"""

from __future__ import annotations

import copy
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.models import LiveNumber
from reconciler.providers.telnyx.listing import (
    SETTING_PATHS,
    Join,
    Unusable,
    number_values,
    voice_values,
)
from reconciler.providers.wavix.decode import BadData, Interned, live, live_all

# ---- Wavix

WAVIX: dict[str, Any] = {
    "id": 1,
    "number": "13135550100",
    "status": "active",
    "sms_enabled": True,
    "sms_relay_url": None,
    "call_recording_enabled": False,
    "transcription_enabled": False,
    "transcription_threshold": 30,
    "call_status_url": "https://example.com/s",
    "destination": [
        {"destination": "sip:a@example.com", "priority": 1, "transport": 1, "trunk_id": None}
    ],
}
ODD: st.SearchStrategy[Any] = st.sampled_from(
    [None, True, False, 0, 1, 1.0, -3, "", "7", "x", [], {}, [1]]
)
WAVIX_FIELDS = [k for k in WAVIX if k != "destination"]
DEST_FIELDS = ["destination", "priority", "transport", "trunk_id"]


@st.composite
def wavix_item(draw: st.DrawFn, n: int) -> dict[str, Any]:
    item = copy.deepcopy(WAVIX)
    item["id"] = n + 1
    item["number"] = f"1313555{n:04d}"
    item["sms_enabled"] = draw(st.booleans())
    item["transcription_threshold"] = draw(st.sampled_from([30, 31]))
    item["destination"][0]["priority"] = draw(st.sampled_from([1, 2]))
    for _ in range(draw(st.integers(0, 2))):  # a few fields odd: absent, null, other type
        where = draw(st.sampled_from(["item", "destination"]))
        node = item if where == "item" else item["destination"][0]
        key = draw(st.sampled_from(WAVIX_FIELDS if where == "item" else DEST_FIELDS))
        if draw(st.booleans()):
            node.pop(key, None)
        else:
            node[key] = draw(ODD)
    return item


def _careful(items: list[Any]) -> list[LiveNumber] | str:
    interned = Interned()
    try:
        return [live(item, interned) for item in items]
    except BadData as exc:
        return f"BadData: {exc}"


def _fast(items: list[Any]) -> list[LiveNumber] | str:
    try:
        return live_all(items, Interned())
    except BadData as exc:
        return f"BadData: {exc}"


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12).flatmap(lambda k: st.tuples(*(wavix_item(n) for n in range(k)))))
def test_wavix_fast_path_agrees_with_the_careful_path(items: tuple[dict[str, Any], ...]) -> None:
    pages = list(items) + [copy.deepcopy(i) for i in items]  # the second time: from the memo
    assert _fast(pages) == _careful(pages)


def test_wavix_fast_path_shares_settings_and_sends_odd_items_to_the_careful_path() -> None:
    a, b, c = (copy.deepcopy(WAVIX) for _ in range(3))
    b["id"], c["id"] = 2, 3
    c["sms_enabled"] = 1  # 1 == True: carrier data, never the shared settings of a
    out = live_all([a, b, c], Interned())
    assert out[0].settings is out[1].settings
    assert out[2].settings is not out[0].settings and not out[2].patchable
    assert out[2].status.startswith("carrier data: sms_enabled is 1")
    with pytest.raises(BadData, match="not an object"):
        live_all([a, "not an object"], Interned())


def test_wavix_destination_of_another_type_is_never_read_as_an_equal_list_seen_before() -> None:
    """Before: the destination memo was looked up before the types were checked, so a
    ``priority: true`` after a list with ``priority: 1`` read as that list (True == 1)."""
    interned = Interned()
    good = copy.deepcopy(WAVIX)
    odd = copy.deepcopy(WAVIX)
    odd["id"] = 2
    odd["destination"][0]["priority"] = True
    for decode in (lambda i: live(i, interned), lambda i: live_all([i], interned)[0]):
        assert decode(good).patchable
        got = decode(odd)
        assert not got.patchable and got.settings["destinations"] is None
        assert "destination 1 has a priority that is True" in got.status


# ---- Telnyx


def tnumber(id_: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "phone_number": f"+1312555{n:04d}",
        "status": "active",
        "tags": ["b", "a"],
        "connection_id": "c1",
        "customer_reference": None,
        "billing_group_id": None,
        "external_pin": None,
        "hd_voice_enabled": False,
        "deletion_lock_enabled": False,
        "caller_id_name_enabled": False,
        "messaging_profile_id": None,
        "emergency_enabled": False,
        "emergency_address_id": None,
        "emergency_status": "disabled",
        **extra,
    }


def tvoice(id_: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "call_forwarding": {"call_forwarding_enabled": True, "forwards_to": "+13125550000"},
        "call_recording": {"inbound_call_recording_enabled": False},
        "cnam_listing": {"cnam_listing_enabled": False},
        "media_features": {"rtp_auto_adjust_enabled": True},
        "inbound_call_screening": "disabled",
        "tech_prefix_enabled": False,
        "translated_number": "",
        "usage_payment_method": "pay-per-minute",
        **extra,
    }


NUMBER_CHANGES: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {},
        {"status": "port-pending"},
        {"status": None},
        {"tags": ["a", "b", "a"]},
        {"tags": "ab"},
        {"tags": []},
        {"customer_reference": "ref"},
        {"customer_reference": ""},
        {"hd_voice_enabled": True},
        {"hd_voice_enabled": 1},
        {"emergency_status": "provisioning"},
        {"messaging_profile_id": "UNAVAILABLE"},
        {"connection_id": {"odd": ["shape"]}},  # unhashable: kept as it came
    ]
)
DROPPABLE = ["status", "caller_id_name_enabled", "messaging_profile_id", "emergency_status"]


Pages = list[list[dict[str, Any]]]


@st.composite
def telnyx_account(draw: st.DrawFn) -> tuple[Pages, Pages]:
    size = draw(st.integers(1, 10))
    numbers, voices = [], []
    for n in range(size):
        item = tnumber(str(100 + n), n, **draw(NUMBER_CHANGES))
        for key in DROPPABLE:
            if draw(st.integers(0, 9)) == 0:
                item.pop(key, None)
        numbers.append(item)
        voices.append(tvoice(str(100 + n), tech_prefix_enabled=draw(st.booleans())))
    numbers += [copy.deepcopy(i) for i in draw(st.lists(st.sampled_from(numbers), max_size=3))]
    voices += [copy.deepcopy(i) for i in draw(st.lists(st.sampled_from(voices), max_size=3))]
    if draw(st.booleans()):
        numbers.pop(draw(st.integers(0, len(numbers) - 1)))  # an orphan voice row, maybe
    if draw(st.booleans()):
        voices.pop(draw(st.integers(0, len(voices) - 1)))  # an orphan number, maybe

    def paged(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        cut = draw(st.integers(1, 4))
        return [items[i : i + cut] for i in range(0, len(items), cut)]

    return paged(numbers), paged(voices)


def reference(numbers: list[dict[str, Any]], voices: list[dict[str, Any]]) -> list[Any]:
    """The join as plain code: the last item of each id wins, both halves required."""
    rows = {i["id"]: i for i in numbers}
    voice = {i["id"]: voice_values(i) for i in voices}
    out = []
    for id_, item in rows.items():
        if id_ not in voice:
            continue
        *values, emergency = [*number_values(item)[:-1], item.get("emergency_status")]
        settings = dict(
            zip(
                SETTING_PATHS,
                [*values[:7], *voice[id_][:6], values[7], *voice[id_][6:], *values[8:]],
                strict=True,
            )
        )
        settings["tags"] = list(settings["tags"])
        if emergency not in ("active", "disabled", None):
            settings["emergency_status"] = emergency
        status = item.get("status")
        status = status if type(status) is str else ""
        out.append((item["phone_number"], id_, status, status == "active", settings))
    return sorted(out, key=lambda t: t[0])


@settings(max_examples=300, deadline=None)
@given(telnyx_account(), st.randoms(use_true_random=False))
def test_telnyx_join_agrees_with_a_plain_join(account: Any, random: Any) -> None:
    numbers, voices = account
    pages = [("n", p) for p in numbers] + [("v", p) for p in voices]
    random.shuffle(pages)  # pages arrive in any order, each listing's in any order too
    join = Join()
    for kind, page in pages:
        (join.numbers_page if kind == "n" else join.voice_page)({"data": copy.deepcopy(page)})
    flat_numbers = [i for kind, p in pages if kind == "n" for i in p]
    flat_voices = [i for kind, p in pages if kind == "v" for i in p]
    no_voice, no_number = join.orphans()
    assert set(no_voice) == {i["id"] for i in flat_numbers} - {i["id"] for i in flat_voices}
    assert set(no_number) == {i["id"] for i in flat_voices} - {i["id"] for i in flat_numbers}
    got = [(n.e164, n.id, n.status, n.patchable, n.settings) for n in join.result()]
    assert got == reference(flat_numbers, flat_voices)


def test_telnyx_an_unusable_phone_number_is_carrier_data_at_its_page() -> None:
    join = Join()
    with pytest.raises(Unusable, match="the item with id '1' has phone_number '13125550001'"):
        join.numbers_page({"data": [tnumber("1", 1, phone_number="13125550001")]})
    with pytest.raises(Unusable, match="item 1 has id 5"):
        Join().numbers_page({"data": [{"id": 5, "phone_number": "+13125550001", "tags": 5}]})


def test_telnyx_a_joined_number_is_held_once() -> None:
    """Before: until the end of the read each number was held as a tuple of its numbers half
    and, under a second id string, its voice row; now as its ``LiveNumber`` alone."""
    size = 3000
    numbers = [tnumber(f"12933842610757{n:05d}", n) for n in range(size)]
    voices = [tvoice(f"12933842610757{n:05d}") for n in range(size)]
    join = Join()
    tracemalloc.start()
    try:
        for start in range(0, size, 250):
            join.numbers_page({"data": copy.deepcopy(numbers[start : start + 250])})
            join.voice_page({"data": copy.deepcopy(voices[start : start + 250])})
        held, _ = tracemalloc.get_traced_memory()
        before_result = held
        out = join.result()
    finally:
        tracemalloc.stop()
    assert len(out) == size and not join.voice
    assert all(type(e) is LiveNumber for e in join.numbers.values())
    # per number: the id, the e164, the LiveNumber and the dict entry (~260 bytes); the old
    # join held ~390 (a second id string, the tuple of the numbers half, a second dict entry)
    assert before_result / size < 320, before_result / size
