"""Injected faults: the ``<carrier>.fail_next`` knob both simulators read.

The knob holds a queue; every request pops one entry before anything else happens and fails with
it. An entry is an HTTP status, or an object ``{"status": s, ...}`` whose other fields are the
carrier's: Wavix reads ``retry_after`` (seconds for the ``Retry-After`` header), Telnyx reads
``processed`` (the request is carried out, then its response is replaced by the failure). When
the queue is empty the knob is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .store import SandboxStore

FAULT_FIELDS = {"status", "retry_after", "processed"}


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


def check_queue(value: Any) -> list[Any]:
    """Validator of a ``fail_next`` knob value (see ``knobs.py``): a list of HTTP error statuses
    or ``{"status": s, "retry_after": secs, "processed": bool}`` objects."""
    if not isinstance(value, list):
        value = [value]  # one fault is a queue of one
    for i, entry in enumerate(value):
        status = entry.get("status") if isinstance(entry, dict) else entry
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"item {i}: expected an HTTP error status (400-599) or an object")
        if isinstance(entry, dict):
            unknown = set(entry) - FAULT_FIELDS
            if unknown:
                raise ValueError(f"item {i}: unknown field(s) {', '.join(sorted(unknown))}")
            after = entry.get("retry_after")
            if after is not None and (
                isinstance(after, bool) or not isinstance(after, int | float) or after < 0
            ):
                raise ValueError(f"item {i}: retry_after must be a number of seconds >= 0")
            if not isinstance(entry.get("processed", False), bool):
                raise ValueError(f"item {i}: processed must be true or false")
    return value
