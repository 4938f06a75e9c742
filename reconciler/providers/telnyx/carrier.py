"""The Telnyx carrier record (what the ``reconciler.carriers`` entry point ``telnyx`` names).

Imports the settings models only: the provider and the simulator are named, loaded on first use.
"""

from __future__ import annotations

from ...carriers import Carrier
from ...config import PollingConfig
from .settings import WHOLE_OBJECTS, TelnyxSettings, canonical_reference, canonical_tags

CARRIER = Carrier(
    name="telnyx",
    settings_model=TelnyxSettings,
    config_model=PollingConfig,
    provider="reconciler.providers.telnyx.provider:TelnyxProvider",
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
    job_based=True,  # update_phone_numbers jobs: created, then polled
    max_concurrent_calls=20,  # the account's cap on pending/in-progress jobs
    order=1,  # listed second (the sandbox, `sandbox seed`'s default)
)

__all__ = ["CARRIER"]
