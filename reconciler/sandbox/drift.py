"""Out-of-band changes in the sandbox (``reconciler sandbox drift``): someone edits numbers in the
carrier's portal, so a new user can watch ``drift`` and stale saved plans at work.

Candidates are read from the simulators' tables (ids and numbers only); every change goes through
the simulator's own HTTP API in-process (a single-number PATCH, as a portal would do), so the
simulator's rules apply to it as to any client. Fields changed are ones every example profile
manages and that any value of can be flipped safely: a boolean, a URL, a reference, a tag. What
is edited, how, and where a number is read and patched is each simulator's ``DRIFT``
(``simulator.PortalEdits``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ReconcilerError
from ..loader import DesiredState
from . import Sandbox, simulators
from .simulator import PortalEdits


@dataclass(frozen=True)
class Candidate:
    carrier: str
    id: str
    e164: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Edit:
    carrier: str
    id: str
    e164: str
    field: str
    old: Any
    new: Any


def candidates(
    sandbox: Sandbox,
    carriers: Iterable[str],
    managed: Callable[[str, str], Iterable[str] | None] | None = None,
) -> list[Candidate]:
    """Numbers that can be edited; with ``managed(carrier, e164)`` → the fields a config manages
    (None: unmanaged), only managed numbers and fields."""
    conn = sandbox.store.conn
    edits = _edits()
    rows = [
        (carrier, id_, e164)
        for carrier in edits
        if carrier in carriers
        for id_, e164 in edits[carrier].numbers(conn)
    ]
    out = []
    for carrier, id_, e164 in rows:
        fields = tuple(edits[carrier].mutations)
        if managed is not None:
            wanted = managed(carrier, e164)
            if wanted is None:
                continue
            fields = tuple(f for f in fields if f in set(wanted))
        if fields:
            out.append(Candidate(carrier, id_, e164, fields))
    return out


async def make_drift(sandbox: Sandbox, chosen: list[Candidate], rng: random.Random) -> list[Edit]:
    """Change one field of each chosen number through the simulator's API."""
    transport = httpx.ASGITransport(app=sandbox.app)
    sims = simulators()
    edits = []
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        for c in chosen:
            sim = sims[c.carrier]
            portal: PortalEdits = sim.DRIFT
            headers = {"Authorization": f"Bearer {sim.DEFAULT_KEY}"}
            path = f"{sim.MOUNT}{portal.path(c.id)}"
            field = rng.choice(c.fields)
            got = await client.get(path, headers=headers)
            _check(got, c)
            old = portal.unwrap(got.json()).get(field)
            new = portal.mutations[field](old)
            done = await client.patch(path, headers=headers, json={field: new})
            _check(done, c)
            edits.append(Edit(c.carrier, c.id, c.e164, field, old, new))
    return edits


def _edits() -> dict[str, PortalEdits]:
    """carrier → its simulator's portal edits, in the registry's order."""
    return {carrier: sim.DRIFT for carrier, sim in simulators().items()}


def managed_by(state: DesiredState) -> Callable[[str, str], Iterable[str] | None]:
    """``managed(carrier, e164)`` for ``candidates``: the fields the config's embedded-sandbox
    accounts of that carrier manage on the number, or None."""
    resolvers = [
        (a.config.type, state.resolver(name))
        for name, a in sorted(state.accounts.items())
        if a.config.sandbox and not a.config.base_url
    ]

    def managed(carrier: str, e164: str) -> Iterable[str] | None:
        for kind, resolver in resolvers:
            want = resolver.desired(e164) if kind == carrier else None
            if want is not None:
                return want
        return None

    return managed


def choose(found: list[Candidate], numbers: int, rng: random.Random) -> list[Candidate]:
    picked = rng.sample(found, min(numbers, len(found)))
    return sorted(picked, key=lambda c: (c.carrier, c.e164))


def _check(response: httpx.Response, c: Candidate) -> None:
    if response.status_code >= 300:
        raise ReconcilerError(
            f"sandbox {c.carrier} refused the edit of {c.e164}: {response.status_code} "
            f"{response.text[:200]} (a fault knob set? see reconciler sandbox knob)"
        )
