"""The Wavix carrier record (what the ``reconciler.carriers`` entry point ``wavix`` names).

Imports the settings models only: the provider and the simulator are named, loaded on first use.
"""

from __future__ import annotations

from ...carriers import Carrier
from .settings import (
    WavixConfig,
    WavixSettings,
    canonical_destinations,
    format_destination,
    written_destinations,
)

CARRIER = Carrier(
    name="wavix",
    settings_model=WavixSettings,
    config_model=WavixConfig,
    provider="reconciler.providers.wavix.provider:WavixProvider",
    default_base_url="https://api.wavix.com",
    key_env="WAVIX_API_KEY",
    call_label="PATCH /v1/numbers",
    default_max_batch=500,  # undocumented; ../shared/carriers/wavix.md
    hard_max_batch=10_000,
    canonical={"destinations": canonical_destinations},
    routing_fields=("destinations",),
    format_item=format_destination,
    simulator="reconciler.sandbox.wavix",
    sandbox_key="wvx_sandbox_full_0000",
    sandbox_mount="/wavix",
    written={"destinations": written_destinations},
    job_based=False,  # a bulk PATCH answers with its outcome; sending it again is harmless
    max_concurrent_calls=4,
    async_fields=frozenset({"destinations", "sms_relay_url"}),  # "applied asynchronously", S1
    order=0,  # listed first (the sandbox, `sandbox seed`'s default)
)

__all__ = ["CARRIER"]
