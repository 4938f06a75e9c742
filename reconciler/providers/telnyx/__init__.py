"""Telnyx: the carrier's record (``carrier``), settings and provider (``update_phone_numbers``
jobs). The provider is imported when first asked for (``TelnyxProvider``), so loading the record
(the entry point) imports no HTTP client."""

from __future__ import annotations

import importlib
from typing import Any

from .carrier import CARRIER
from .settings import TelnyxSettings, canonical_tags


def __getattr__(name: str) -> Any:
    if name == "TelnyxProvider":
        return importlib.import_module(".provider", __name__).TelnyxProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CARRIER", "TelnyxProvider", "TelnyxSettings", "canonical_tags"]
