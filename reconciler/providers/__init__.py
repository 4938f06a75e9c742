"""Carrier providers: one package per carrier (``wavix/``, ``telnyx/``), each with a ``carrier``
module holding its ``Carrier`` record (what the ``reconciler.carriers`` entry point names; it
imports no HTTP client) and the provider behind it, plus the shared HTTP side (``base``,
``http``, ``open``).

Importing this package imports nothing else: the names below (``open_account``,
``open_provider``, ``HttpProvider``/``Provider``, the seam types) are loaded when first used, so
an entry point ``reconciler.providers.wavix.carrier:CARRIER`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SANDBOX_ORIGIN": ".open",
    "open_account": ".open",
    "open_provider": ".open",
    "HttpProvider": ".base",
    "Provider": ".base",
    "AccountFatal": ".base",
    "CallResult": ".base",
    "CallStatus": ".base",
    "PendingJob": ".base",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
