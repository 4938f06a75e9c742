"""Verify: re-read the numbers the calls touched until their changed fields show the new values.

Each number waits as long as its slowest changed field may take: ``verify_timeout_s``, or longer
when a field the carrier applies asynchronously changed (``Provider.verify_wait_s``; Wavix:
``async_verify_timeout_s`` for destinations and the SMS URL). Such a field still missing then is
reported "not visible yet", apart from numbers the carrier refused. A number given up on with
every changed field still at its old value is ``unchanged`` (nothing of its call landed on it:
``followup.after_verify`` may send it again). Accounts are verified concurrently; the reads of
one account are sequential, every ``poll_interval_s`` on the injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..errors import ProviderError
from ..models import LiveNumber
from ..plan import NumberChange
from ..seam import Provider
from .report import Key, Unconverged


@dataclass(frozen=True)
class Check:
    """What verify re-reads, and what was already known about those numbers."""

    changes: tuple[NumberChange, ...]
    known: Mapping[Key, Unconverged] = field(default_factory=dict)
    """Reasons recorded before verify: a number verify gives up on keeps its earlier reason
    first ("earlier; what verify saw")."""


@dataclass(frozen=True)
class Verification:
    """What verify saw."""

    verified: int = 0
    landed: frozenset[Key] = frozenset()
    """Numbers seen in their desired state (a call whose answer was lost counts as applied)."""
    failed: Mapping[Key, Unconverged] = field(default_factory=dict)
    """Numbers not seen in their desired state, and why (their complete reason)."""
    unchanged: frozenset[Key] = frozenset()
    """Numbers given up on with every changed field still at its old value."""

    def merged(self, known: Mapping[Key, Unconverged]) -> dict[Key, Unconverged]:
        """``known`` failures updated with what verify saw."""
        out = {k: v for k, v in known.items() if k not in self.landed}
        out.update(self.failed)
        return out


def selection(
    changes: Iterable[NumberChange],
    stopped: Collection[str],
    known: Mapping[Key, Unconverged],
    unknown: Collection[Key],
) -> tuple[NumberChange, ...]:
    """The changes worth re-reading: not those of a stopped account, nor numbers known failed
    (unless their call's outcome is unknown: the change may have landed)."""
    return tuple(
        c
        for c in changes
        if c.account not in stopped
        and ((c.account, c.id) not in known or (c.account, c.id) in unknown)
    )


async def verify(check: Check, providers: Mapping[str, Provider], clock: Clock) -> Verification:
    """Re-read ``check.changes`` until they show their new values or their wait runs out."""
    by_account: dict[str, list[NumberChange]] = {}
    for change in check.changes:
        by_account.setdefault(change.account, []).append(change)
    seen = await asyncio.gather(
        *(_Watch(providers[a], changes, clock).run() for a, changes in by_account.items())
    )
    failed: dict[Key, Unconverged] = {}
    for watch in seen:
        for id_, why in watch.reasons().items():
            earlier = check.known.get((watch.account, id_))
            reason = f"{earlier.reason}; {why}" if earlier else why
            failed[(watch.account, id_)] = Unconverged(watch.e164[id_], reason)
        for id_ in watch.unread:
            failed[(watch.account, id_)] = Unconverged(watch.e164[id_], watch.unread_reason)
    return Verification(
        verified=sum(len(w.landed) for w in seen),
        landed=frozenset((w.account, i) for w in seen for i in w.landed),
        failed=failed,
        unchanged=frozenset((w.account, i) for w in seen for i in w.unchanged()),
    )


@dataclass(frozen=True)
class _Off:
    """The last read of a number not (yet) in its desired state."""

    reason: str
    fields: tuple[str, ...] = ()
    """Changed fields still differing (empty: the number was not found)."""
    untouched: bool = False
    """Every changed field still at its old value."""


class _Watch:
    """One account's numbers, re-read until each lands or its wait runs out."""

    def __init__(self, provider: Provider, changes: Sequence[NumberChange], clock: Clock) -> None:
        self.provider, self.clock, self.account = provider, clock, provider.account
        self.want = {c.id: {f.field: f.new for f in c.changes} for c in changes}
        self.old = {c.id: {f.field: f.old for f in c.changes} for c in changes}
        self.e164 = {c.id: c.e164 for c in changes}
        self.wait = {i: provider.verify_wait_s(fields) for i, fields in self.want.items()}
        self.landed: list[str] = []
        self.last: dict[str, _Off] = {}
        self.gave_up: list[str] = []
        self.unread: list[str] = []
        """Numbers still waiting when a read failed (``unread_reason`` says why)."""
        self.unread_reason = ""

    async def run(self) -> _Watch:
        start = self.clock.now()
        pending = list(self.want)
        while pending:
            try:
                live = await self.provider.fetch(sorted(pending))
            except ProviderError as exc:
                self.unread, self.unread_reason = pending, f"could not verify: {exc}"
                break
            pending = self._look(pending, {n.id: n for n in live})
            expired = [i for i in pending if self.clock.now() >= start + self.wait[i]]
            self.gave_up += expired
            pending = [i for i in pending if i not in expired]
            if pending:
                deadline = min(start + self.wait[i] for i in pending)
                left = max(0.0, deadline - self.clock.now())
                await self.clock.sleep(min(self.provider.config.poll_interval_s, left))
        return self

    def _look(self, pending: list[str], live: Mapping[str, LiveNumber]) -> list[str]:
        """One read → the ids still not in their desired state."""
        still = []
        for id_ in pending:
            number = live.get(id_)
            if number is None:
                self.last[id_] = _Off("not found when re-read")
                still.append(id_)
                continue
            off = _differing(self.want[id_], number.settings)
            if not off:
                settling = self.provider.unsettled(number, self.want[id_])
                if settling is None:
                    self.landed.append(id_)
                    continue
                reason, failed = settling
                self.last[id_] = _Off(reason, tuple(self.want[id_]))
                if failed:  # final: stop waiting for it
                    self.gave_up.append(id_)
                    continue
                still.append(id_)
                continue
            old = self.old[id_]
            untouched = all(number.settings.get(k) == old.get(k) for k in self.want[id_])
            self.last[id_] = _Off("still differs after apply: " + ", ".join(off), off, untouched)
            still.append(id_)
        return still

    def unchanged(self) -> list[str]:
        return [i for i in self.gave_up if i in self.last and self.last[i].untouched]

    def reasons(self) -> dict[str, str]:
        """Why each number given up on is not seen in its desired state."""
        return {i: self._gave_up_reason(i) for i in self.gave_up}

    def _gave_up_reason(self, id_: str) -> str:
        off, wait = self.last.get(id_), self.wait[id_]
        if off is not None and off.fields and self.provider.async_fields.issuperset(off.fields):
            # Accepted, and the carrier applies these later: not (yet) a refusal.
            return (
                f"not visible yet after {wait:g}s: {', '.join(off.fields)} (accepted; the "
                "carrier applies them asynchronously, the next plan shows whether they landed)"
            )
        return f"{off.reason if off else 'not verified'} (waited {wait:g}s)"


def _differing(want: Mapping[str, Any], settings: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(k for k, v in want.items() if settings.get(k) != v)
