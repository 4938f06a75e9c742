"""The sandbox: stateful simulators of the carriers' APIs over one SQLite store.

Used in-process by default (``httpx.ASGITransport``, no socket) and servable on loopback
(``reconciler sandbox serve``), each simulator under its ``MOUNT`` (Wavix under ``/wavix``,
Telnyx under ``/telnyx/v2``). The simulators are those the carrier registry names
(``Carrier.simulator``); ``simulator.py`` says what each offers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .. import carriers
from ..clock import Clock
from .http import json_response
from .store import SandboxStore, default_db_path


def simulators() -> dict[str, ModuleType]:
    """carrier → its simulator package, for every registered carrier that has one (imported on
    first use; ``simulator.py`` lists what each offers). A simulator that cannot be imported
    raises ``CarrierLoadError`` naming it."""
    return {
        name: module
        for name, c in carriers.registry().items()
        if (module := c.simulator_module) is not None
    }


def simulator_of(carrier: str) -> ModuleType:
    """The simulator of ``carrier``; ``ReconcilerError`` naming the simulated carriers if none."""
    sims = simulators()
    if carrier not in sims:
        from ..errors import ReconcilerError

        raise ReconcilerError(
            f"carrier {carrier!r} has no sandbox simulator: choose one of {', '.join(sims)}"
        )
    return sims[carrier]


def __getattr__(name: str) -> Any:
    if name == "SIMULATORS":  # compatibility: the mapping is the registry's now
        return simulators()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SEED_VERSION = "4"  # 3-4: Telnyx messaging profiles and emergency settings (issue 17)


class LatencyMiddleware:
    """Knob ``latency_ms``: every HTTP request waits that long (on the store's clock) before it
    is handled, so fetch/apply wall time can be measured as if the carrier were far away.
    Knob ``connection_close_every`` (N): every Nth answer says ``Connection: close``, so a served
    sandbox closes keep-alive connections as a harsher carrier (or its load balancer) does."""

    def __init__(self, app: ASGIApp, store: SandboxStore) -> None:
        self.app, self.store = app, store
        self.answered = 0  # requests counted for connection_close_every (issue 18, wire)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            knobs = self.store.knobs()
            latency = knobs.get("latency_ms", 0)
            if latency:
                await self.store.clock.sleep(latency / 1000)
            # ---- connection_close_every (issue 18, the wire): a delimited addition
            every = knobs.get("connection_close_every", 0)
            if isinstance(every, int) and not isinstance(every, bool) and every > 0:
                self.answered += 1
                if self.answered % every == 0:
                    send = _closing(send)
            # ---- end connection_close_every
        await self.app(scope, receive, send)


def _closing(send: Send) -> Send:
    """``send`` with ``Connection: close`` added to the response start."""

    async def closing(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"connection", b"close")]
            message = {**message, "headers": headers}
        await send(message)

    return closing


class Mounts:
    """Each simulator under its mount point (``MOUNT``, a path prefix). Starlette's ``Mount``
    matches with a regex whose ``.`` stops at a newline, so a path holding ``%0A`` fell through to
    a plain-text 404; here a prefix is a prefix, and the simulator answers in its carrier's
    shape. A path under no mount gets a JSON 404 saying where the carriers are."""

    def __init__(self, apps: Mapping[str, ASGIApp]) -> None:
        self.apps = dict(apps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # served with lifespan off; no websockets
        base = scope.get("root_path", "")
        path = scope["path"].removeprefix(base)
        for prefix, app in self.apps.items():
            if path.startswith(prefix + "/"):
                await app({**scope, "root_path": base + prefix}, receive, send)
                return
        where = " and ".join(self.apps)
        response = json_response(404, {"message": f"Not found: the sandbox serves {where}"})
        await response(scope, receive, send)


class Sandbox:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.simulators = simulators()
        for sim in self.simulators.values():
            store.conn.executescript(sim.SCHEMA)
        if store.get_meta("seeded") != SEED_VERSION:
            self.reset()
        self.api: ASGIApp = Mounts(
            {sim.MOUNT: sim.make_app(store) for sim in self.simulators.values()}
        )
        """The carrier routes, without the latency knob (the benchmark wraps it)."""
        self.app: ASGIApp = LatencyMiddleware(self.api, store)
        """What clients talk to: the routes behind the ``latency_ms`` knob."""

    @classmethod
    def open(cls, path: str | Path | None = None, *, clock: Clock | None = None) -> Sandbox:
        return cls(SandboxStore(path if path is not None else default_db_path(), clock=clock))

    def reset(self) -> None:
        """Drop every simulated account and re-seed the documented deterministic state."""
        with self.store.transaction() as conn:
            for sim in self.simulators.values():
                for table in sim.TABLES:
                    conn.execute(f"DELETE FROM {table}")
        for sim in self.simulators.values():
            sim.seed(self.store)
        self.store.set_meta("seeded", SEED_VERSION)

    def close(self) -> None:
        self.store.close()


__all__ = ["Sandbox", "SandboxStore", "default_db_path", "simulator_of", "simulators"]
