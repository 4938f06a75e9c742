"""The Telnyx listing join keeps equal values once: equal settings share one dict, a malformed
(unhashable) value is kept as it came, only not shared."""

from __future__ import annotations

from typing import Any

from reconciler.providers.telnyx.listing import SETTING_PATHS, Join


def number(id_: str, e164: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "phone_number": e164, "status": "active", "tags": ["b", "a", "b"], **extra}


def voice(id_: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "call_forwarding": {"forwards_to": "+13125550000"}, **extra}


def joined(numbers: list[dict[str, Any]], voices: list[dict[str, Any]]) -> dict[str, Any]:
    join = Join()
    join.numbers_page({"data": numbers})
    join.voice_page({"data": voices})
    return {n.e164: n for n in join.result()}


def test_equal_settings_share_one_dict_and_unequal_do_not() -> None:
    live = joined(
        [number("1", "+13125550001"), number("2", "+13125550002"), number("3", "+13125550003")],
        [voice("1"), voice("2"), voice("3", tech_prefix_enabled=True)],
    )
    one, two, three = (live[f"+1312555000{i}"].settings for i in (1, 2, 3))
    assert one is two
    assert three is not one
    assert list(one) == list(SETTING_PATHS)
    assert one["tags"] == ["a", "b"]  # a list in the settings (a tuple only while joining)
    assert three["voice.tech_prefix_enabled"] is True
    assert one["voice.tech_prefix_enabled"] is False


def test_an_unhashable_value_is_kept_not_shared() -> None:
    odd = {"unexpected": ["shape"]}
    live = joined(
        [
            number("1", "+13125550001", connection_id=odd),
            number("2", "+13125550002", connection_id={"unexpected": ["shape"]}),
            number("3", "+13125550003"),
        ],
        [voice("1"), voice("2"), voice("3")],
    )
    one, two, three = (live[f"+1312555000{i}"].settings for i in (1, 2, 3))
    assert one["connection_id"] == odd
    assert three["connection_id"] is None
    # Equal settings, but the unhashable value makes them unshareable: two dicts, not one.
    assert one == two and one is not two
