"""Injected faults: the ``<carrier>.fail_next`` knob both simulators read.

The knob holds a queue; every request pops one entry before anything else happens and fails with
it. An entry is an HTTP status, or an object ``{"status": s, ...}`` whose other fields are the
carrier's: Wavix reads ``retry_after`` (seconds for the ``Retry-After`` header), Telnyx reads
``processed`` (the request is carried out, then its response is replaced by the failure). When
the queue is empty the knob is removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .store import SandboxStore


@dataclass(frozen=True)
class Fault:
    """One entry of a ``fail_next`` queue."""

    status: int
    retry_after: float | None = None
    processed: bool = False


def pop_fault(store: SandboxStore, knob: str) -> Fault | None:
    """Take the head of the queue in knob ``knob``; None when there is nothing to inject."""
    if not store.knob(knob):
        return None
    with store.lock:
        queue = store.knob(knob) or []
        if not queue:
            return None
        head, rest = queue[0], queue[1:]
        store.set_knob(knob, rest or None)
    if isinstance(head, dict):
        return Fault(
            int(head["status"]), head.get("retry_after"), bool(head.get("processed", False))
        )
    return Fault(int(head))
