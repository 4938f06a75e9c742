"""Wavix: the carrier's description, its settings and its provider (bulk ``PATCH /v1/numbers``)."""

from __future__ import annotations

from ...carriers import Carrier, register
from .provider import WavixProvider
from .settings import (
    WavixConfig,
    WavixSettings,
    canonical_destinations,
    format_destination,
    written_destinations,
)

CARRIER = register(
    Carrier(
        name="wavix",
        settings_model=WavixSettings,
        config_model=WavixConfig,
        provider=WavixProvider,
        default_base_url="https://api.wavix.com",
        key_env="WAVIX_API_KEY",
        call_label="PATCH /v1/numbers",
        default_max_batch=500,  # undocumented; ../shared/carriers/wavix.md
        hard_max_batch=10_000,
        canonical={"destinations": canonical_destinations},
        routing_fields=("destinations",),
        format_item=format_destination,
        simulator="reconciler.sandbox.wavix",
        written={"destinations": written_destinations},
    )
)

__all__ = ["CARRIER", "WavixConfig", "WavixProvider", "WavixSettings", "canonical_destinations"]
