"""Injected faults: the ``<carrier>.fail_next`` queue and the ``<carrier>.write_faults`` odds.

The knob holds a queue; every request pops one entry before anything else happens and fails with
it. An entry is an HTTP status, or an object ``{"status": s, ...}`` whose other fields are the
carrier's: Wavix reads ``retry_after`` (seconds for the ``Retry-After`` header), Telnyx reads
``processed`` (the request is carried out, then its response is replaced by the failure). When
the queue is empty the knob is removed.

The queue hits the next request, whatever it is, so a plan's reads consume it before any write.
Chaos runs want faults on *writes* only, at random but reproducibly: knob
``<carrier>.write_faults`` = ``{"p_5xx": 0.2, "p_429": 0.1, "p_timeout_after_commit": 0.05,
"seed": 7}`` makes each write (Wavix ``PATCH``, Telnyx ``POST``/``PATCH``) fail before anything
is done (a 5xx, a 429) or be carried out and then answered 504 ("timeout after commit": the
client sees no answer and cannot tell whether the write landed). ``WriteFaults`` draws from one
``random.Random(seed)`` per knob value, so the same requests in the same order meet the same
faults; ``chance`` is a draw keyed by names (a job and a number), independent of order.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from typing import Any

from .store import SandboxStore

FAULT_FIELDS = {"status", "retry_after", "processed"}
WRITE_ODDS = ("p_5xx", "p_429", "p_timeout_after_commit")
"""The outcomes a write may be given, in the order the draw tries them."""
SERVER_ERRORS = (500, 502, 503)
TIMEOUT_STATUS = 504


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


# ---- random faults on writes (knob ``<carrier>.write_faults``)


@dataclass(frozen=True)
class WriteFault:
    """What a write gets: ``kind`` (one of ``WRITE_ODDS``) answered with ``status``."""

    kind: str
    status: int

    @property
    def after_commit(self) -> bool:
        """Carried out first, then answered with ``status`` (the answer is "lost")."""
        return self.kind == "p_timeout_after_commit"


class WriteFaults:
    """The draws of one simulator app: a ``random.Random(seed)`` per knob value, restarted when
    the value changes, so a run with the same knob meets the same faults in the same order."""

    def __init__(self) -> None:
        self._rng = random.Random(0)
        self._for: str | None = None

    def draw(self, odds: dict[str, Any] | None) -> WriteFault | None:
        """The fault for the next write under ``odds`` (a checked knob value), or None."""
        if not odds:
            return None
        key = json.dumps(odds, sort_keys=True)
        if key != self._for:
            self._rng, self._for = random.Random(odds.get("seed", 0)), key
        x = self._rng.random()
        for kind in WRITE_ODDS:
            p = float(odds.get(kind, 0))
            if x < p:
                if kind == "p_5xx":
                    return WriteFault(kind, self._rng.choice(SERVER_ERRORS))
                return WriteFault(kind, 429 if kind == "p_429" else TIMEOUT_STATUS)
            x -= p
        return None


def _probability(value: Any, what: str) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError(f"{what}: expected a probability between 0 and 1")
    return float(value)


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("seed: expected an integer of at least 0")
    return value


def check_write_odds(value: Any) -> dict[str, Any]:
    """Validator of ``<carrier>.write_faults``: ``{"p_5xx", "p_429", "p_timeout_after_commit":
    probabilities summing to at most 1, "seed": integer}`` (each key optional)."""
    if not isinstance(value, dict):
        raise ValueError(
            'expected {"p_5xx": p, "p_429": p, "p_timeout_after_commit": p, "seed": n}'
        )
    unknown = sorted(set(value) - {*WRITE_ODDS, "seed"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; expected {', '.join(WRITE_ODDS)}, seed")
    out: dict[str, Any] = {k: _probability(value[k], k) for k in WRITE_ODDS if k in value}
    if sum(out.values()) > 1 + 1e-9:
        raise ValueError("the probabilities add up to more than 1")
    out["seed"] = _seed(value.get("seed", 0))
    return out


def check_ratio(value: Any) -> dict[str, Any]:
    """Validator of a per-item ratio knob: ``{"p": probability, "seed": integer}``."""
    if not isinstance(value, dict) or "p" not in value or set(value) - {"p", "seed"}:
        raise ValueError('expected {"p": probability, "seed": n}')
    return {"p": _probability(value["p"], "p"), "seed": _seed(value.get("seed", 0))}


def chance(ratio: dict[str, Any] | None, *names: str) -> bool:
    """A draw that depends only on ``ratio``'s seed and ``names`` (e.g. a job id and a number
    id), true with probability ``ratio["p"]``: the same job fails the same numbers whenever it
    runs, a new job draws afresh."""
    if not ratio or ratio["p"] <= 0:
        return False
    text = "\x1f".join((str(ratio["seed"]), *names)).encode()
    x = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2**64
    return x < ratio["p"]
