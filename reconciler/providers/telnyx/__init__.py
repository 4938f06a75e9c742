"""Telnyx: the carrier's description, settings and provider (``update_phone_numbers`` jobs)."""

from __future__ import annotations

from ...carriers import Carrier, register
from ...config import PollingConfig
from .provider import TelnyxProvider
from .settings import WHOLE_OBJECTS, TelnyxSettings, canonical_reference, canonical_tags

CARRIER = register(
    Carrier(
        name="telnyx",
        settings_model=TelnyxSettings,
        config_model=PollingConfig,
        provider=TelnyxProvider,
        default_base_url="https://api.telnyx.com/v2",
        key_env="TELNYX_API_KEY",
        call_label="POST /phone_numbers/jobs/update_phone_numbers",
        default_max_batch=1000,
        hard_max_batch=1000,  # documented job limit
        secret_fields=frozenset({"external_pin"}),
        canonical={"tags": canonical_tags, "customer_reference": canonical_reference},
        routing_fields=("connection_id", "voice.call_forwarding."),
        whole_objects=WHOLE_OBJECTS,
        simulator="reconciler.sandbox.telnyx",
    )
)

__all__ = ["CARRIER", "TelnyxProvider", "TelnyxSettings", "canonical_tags"]
