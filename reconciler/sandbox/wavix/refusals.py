"""Numbers Wavix refuses to patch, and how: the whole request fails, naming no number.

The bulk PATCH applies one patch to every listed id, all or nothing (S1 documents no partial
result). Knobs make some numbers refuse: ``wavix.refuse_sms_outside_us_ca`` (enabling SMS on a
number outside US/CA, the legacy endpoint's documented 422 and its words),
``wavix.refuse_inactive`` (any change to an inactive number), ``wavix.refuse_numbers`` (listed
numbers). One refused number fails the request with ``wavix.refusal_status`` (400, as the new
PATCH endpoints document validation failures, or 422 as the legacy one did) and a message that
does not say which number it was: finding it is the client's job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..store import SandboxStore
from .errors import WavixError
from .knobs import value

SMS_OUTSIDE_US_CA = "Inbound SMS can only be activated on US and CA phone numbers"
"""The legacy ``PUT /v1/mydids/update-sms-enabled`` 422 message, verbatim (S1 @ 19a79f2)."""
INACTIVE = "The phone number is not active"
LISTED = "Missing or invalid parameter ids"


def refusal(
    store: SandboxStore, bodies: Mapping[int, str], changes: Mapping[str, Any]
) -> WavixError | None:
    """The error refusing a PATCH of ``changes`` to the numbers in ``bodies`` (id → stored
    ``Number`` JSON), or None when the knobs let it through. Checked before anything applies."""
    sms = value(store, "wavix.refuse_sms_outside_us_ca") and changes.get("sms_enabled") is True
    inactive = value(store, "wavix.refuse_inactive")
    listed = set(value(store, "wavix.refuse_numbers"))
    if not (sms or inactive or listed):
        return None  # the usual case: no decoding
    for number_id in sorted(bodies):
        number = json.loads(bodies[number_id])
        message = None
        if listed and "+" + number["number"] in listed:
            message = LISTED
        elif inactive and number.get("status") != "active":
            message = INACTIVE
        elif sms and number.get("country_short_name") not in ("US", "CA"):
            message = SMS_OUTSIDE_US_CA
        if message is not None:
            status = value(store, "wavix.refusal_status")
            return WavixError(status, {"success": False, "message": message})
    return None
