"""The read path (issue 18): Wavix settings shared by value within one read, as Telnyx's are."""

from __future__ import annotations

import copy
from typing import Any

from reconciler.providers.wavix.decode import Interned, live

ITEM: dict[str, Any] = {
    "id": 1,
    "number": "13135550100",
    "status": "active",
    "sms_enabled": True,
    "sms_relay_url": None,
    "call_recording_enabled": False,
    "transcription_enabled": False,
    "transcription_threshold": 30,
    "call_status_url": "https://example.com/s",
    "destination": [{"destination": "sip:a@example.com", "priority": 1, "transport": 1}],
}


def _item(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(ITEM)
    item.update(changes)
    return item


def test_wavix_numbers_configured_alike_share_one_settings_dict() -> None:
    interned = Interned()
    a = live(_item(id=1, number="13135550100"), interned)
    b = live(_item(id=2, number="13135550101"), interned)
    assert a.settings is b.settings  # before: one dict per number (1M dicts at 1M numbers)
    assert a.settings == {
        "sms_enabled": True,
        "destinations": a.settings["destinations"],
        "sms_relay_url": None,
        "call_recording_enabled": False,
        "transcription_enabled": False,
        "transcription_threshold": 30,
        "call_status_url": "https://example.com/s",
    }
    c = live(_item(id=3, number="13135550102", transcription_threshold=31), interned)
    assert c.settings is not a.settings and c.settings["transcription_threshold"] == 31
    empty1 = live(_item(id=4, number="13135550103", destination=[]), interned)
    empty2 = live(_item(id=5, number="13135550104", destination=[]), interned)
    assert empty1.settings is empty2.settings and empty1.settings["destinations"] == []


def test_wavix_sharing_tells_types_apart_and_never_shares_unreadable_items() -> None:
    interned = Interned()
    good = live(_item(id=1), interned)
    # 1 == True in Python; a threshold of True is carrier data, never the same settings
    odd = live(_item(id=2, transcription_threshold=True), interned)
    assert odd.settings is not good.settings and not odd.patchable
    again = live(_item(id=3, transcription_threshold=True), interned)
    assert again.settings is not odd.settings  # unreadable: built per number, marked
    assert again.settings["transcription_threshold"] is None
    assert good.settings["transcription_threshold"] == 30  # untouched by the others
