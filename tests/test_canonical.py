"""One canonical form per value: what a provider decodes from the wire equals what the settings
model makes of the same values in YAML (property test, random values, both carriers)."""

from __future__ import annotations

from typing import Any

import httpx
from helpers import run, sandbox_provider
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import carriers
from reconciler.clock import FakeClock
from reconciler.models import flatten
from reconciler.providers.wavix.settings import TRANSPORTS

NAMES = {code: name for name, code in TRANSPORTS.items()}
text = st.text(alphabet="abcdefghij:@.-0123456789", min_size=1, max_size=12)


@st.composite
def destinations(draw: Any) -> list[dict[str, Any]]:
    priorities = draw(st.lists(st.integers(0, 9), unique=True, max_size=4))
    out = []
    for priority in priorities:
        code = draw(st.sampled_from([1, 4, 5]))
        item = {"destination": draw(text), "priority": priority, "transport": code}
        if code == 5:
            item["trunk_id"] = draw(st.integers(1, 10**6))
        out.append(item)
    return out


def serve(body: dict[str, Any]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json=body))


def read_one(carrier: str, transport: httpx.MockTransport) -> dict[str, Any]:
    """Sync on purpose: hypothesis examples cannot be coroutines, so each example runs this
    once on its own event loop (the provider is built and closed on that loop)."""

    async def read() -> dict[str, Any]:
        provider = sandbox_provider(None, carrier, transport=transport, clock=FakeClock())
        try:
            (number,) = await provider.fetch_all()
        finally:
            await provider.aclose()
        return number.settings

    return run(read())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=destinations(), names=st.booleans())
def test_wavix_destinations_decode_like_the_model(items: list[dict[str, Any]], names: bool) -> None:
    wire = {
        "id": 7,
        "number": "13135550177",
        "status": "active",
        "destination": items,
        "sms_enabled": True,
    }
    body = {
        "items": [wire],
        "pagination": {"current_page": 1, "per_page": 100, "total": 1, "total_pages": 1},
    }
    live = read_one("wavix", serve(body))
    declared = [{**d, "transport": NAMES[d["transport"]]} if names else d for d in reversed(items)]
    wavix = carriers.get("wavix")
    model = wavix.settings_model.model_validate({"destinations": declared})
    assert flatten(model, wavix)["destinations"] == live["destinations"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tags=st.lists(st.text(alphabet="abcxyz-_", min_size=1, max_size=6), max_size=6),
    forwarding=st.sampled_from(["always", "on-failure"]),
    cnam=st.booleans(),
)
def test_telnyx_values_decode_like_the_model(tags: list[str], forwarding: str, cnam: bool) -> None:
    number = {
        "id": "1",
        "phone_number": "+13135550177",
        "status": "active",
        "tags": tags,
        "connection_id": "c1",
    }
    voice = {
        "id": "1",
        "call_forwarding": {"forwarding_type": forwarding, "call_forwarding_enabled": True},
        "cnam_listing": {"cnam_listing_enabled": cnam},
    }

    def handle(request: httpx.Request) -> httpx.Response:
        meta = {"total_pages": 1, "total_results": 1, "page_number": 1, "page_size": 250}
        page = request.url.params.get("page[number]", "1")
        data = [voice if request.url.path.endswith("/voice") else number] if page == "1" else []
        return httpx.Response(200, json={"data": data, "meta": meta})

    live = read_one("telnyx", httpx.MockTransport(handle))
    telnyx = carriers.get("telnyx")
    model = telnyx.settings_model.model_validate(
        {
            "tags": list(reversed(tags)),
            "connection_id": "c1",
            "voice": {
                "call_forwarding": {"forwarding_type": forwarding, "call_forwarding_enabled": True},
                "cnam_listing": {"cnam_listing_enabled": cnam},
            },
        }
    )
    for path, value in flatten(model, telnyx).items():
        assert live[path] == value, path
