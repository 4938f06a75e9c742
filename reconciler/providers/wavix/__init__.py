"""Wavix: the carrier's record (``carrier``), its settings and its provider (bulk
``PATCH /v1/numbers``). The provider is imported when first asked for (``WavixProvider``), so
loading the record (the entry point) imports no HTTP client."""

from __future__ import annotations

import importlib
from typing import Any

from .carrier import CARRIER
from .settings import WavixConfig, WavixSettings, canonical_destinations


def __getattr__(name: str) -> Any:
    if name == "WavixProvider":
        return importlib.import_module(".provider", __name__).WavixProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CARRIER", "WavixConfig", "WavixProvider", "WavixSettings", "canonical_destinations"]
