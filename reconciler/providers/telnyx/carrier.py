"""The Telnyx carrier record (what the ``reconciler.carriers`` entry point ``telnyx`` names).

Imports the settings models only: the provider and the simulator are named, loaded on first use.
"""

from __future__ import annotations

from ...carriers import Carrier, Operation
from .settings import (
    EMERGENCY_ADDRESS,
    EMERGENCY_ENABLED,
    MESSAGING_PROFILE,
    UNAVAILABLE,
    WHOLE_OBJECTS,
    TelnyxConfig,
    TelnyxSettings,
    canonical_optional_id,
    canonical_reference,
    canonical_tags,
    check_emergency,
)

UPDATE = Operation(
    "update_phone_numbers",
    "POST /phone_numbers/jobs/update_phone_numbers",
    default_max_batch=1000,
    hard_max_batch=1000,  # documented job limit
    job_based=True,
)
MESSAGING = Operation(
    "messaging_bulk_update",
    "POST /messaging_numbers_bulk_updates",
    default_max_batch=1000,  # no limit documented: conservative, like the job endpoint
    hard_max_batch=10_000,
    fields=(MESSAGING_PROFILE,),
    batch_option="messaging_max_batch",
    adoptable=False,  # no listing of orders: the journal is the only guard
)
EMERGENCY = Operation(
    "update_emergency_settings",
    "POST /phone_numbers/jobs/update_emergency_settings",
    default_max_batch=1000,
    hard_max_batch=1000,  # "at most 1000 numbers" (the spec's description)
    fields=(EMERGENCY_ENABLED, EMERGENCY_ADDRESS),
    job_based=True,
    always_sent=(EMERGENCY_ENABLED,),  # the body requires it
)

CARRIER = Carrier(
    name="telnyx",
    settings_model=TelnyxSettings,
    config_model=TelnyxConfig,
    provider="reconciler.providers.telnyx.provider:TelnyxProvider",
    default_base_url="https://api.telnyx.com/v2",
    key_env="TELNYX_API_KEY",
    call_label="POST /phone_numbers/jobs/update_phone_numbers",
    default_max_batch=1000,
    hard_max_batch=1000,  # documented job limit
    secret_fields=frozenset({"external_pin"}),
    canonical={
        "tags": canonical_tags,
        "customer_reference": canonical_reference,
        MESSAGING_PROFILE: canonical_optional_id,
        EMERGENCY_ADDRESS: canonical_optional_id,
    },
    # an emergency address is a legal matter, a messaging profile moves a number's SMS: both
    # count against max_routing_changes like a routing change
    routing_fields=(
        "connection_id",
        "voice.call_forwarding.",
        MESSAGING_PROFILE,
        EMERGENCY_ADDRESS,
    ),
    whole_objects=WHOLE_OBJECTS,
    simulator="reconciler.sandbox.telnyx",
    sandbox_key="KEYsandbox_telnyx_0000",
    sandbox_mount="/telnyx/v2",
    job_based=True,  # update_phone_numbers jobs: created, then polled
    max_concurrent_calls=20,  # the account's cap on pending/in-progress jobs
    order=1,  # listed second (the sandbox, `sandbox seed`'s default)
    operations=(UPDATE, MESSAGING, EMERGENCY),
    unreadable={MESSAGING_PROFILE: UNAVAILABLE},
    check=check_emergency,
)

__all__ = ["CARRIER", "EMERGENCY", "MESSAGING", "UPDATE"]
