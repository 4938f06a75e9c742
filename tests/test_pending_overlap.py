"""The jobs list is read beside the accounts, not a round trip before them (issue 18), and a job
that ends during the read is never taken as "no job" over a stale read of its numbers.

A spying transport in front of the in-process sandbox records when each request goes out and
when its answer comes back, and can move the fake clock once the listing has been served: a job
then ends between the pages and the jobs list, the order a slow carrier could produce.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from helpers import sandbox_provider, sandbox_transport
from test_pending_jobs import example

from reconciler import pending, runner
from reconciler.clock import FakeClock
from reconciler.sandbox import Sandbox

TELNYX = "telnyx-main"
JOBS = "/phone_numbers/jobs"
LISTINGS = ("/phone_numbers", "/phone_numbers/voice")


class Spy(httpx.AsyncBaseTransport):
    """Records ``(event, path)`` in order; ``then()`` runs once, when every listing page asked
    for so far has been answered (the clock moves between the listing and what follows)."""

    def __init__(self, sandbox: Sandbox, then: Any = None) -> None:
        self.inner = sandbox_transport(sandbox)
        self.events: list[tuple[str, str]] = []
        self.then = then
        self.listing_open = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/telnyx/v2")
        listing = request.method == "GET" and path in LISTINGS
        if listing:
            self.listing_open += 1
        self.events.append(("send", path))
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.events.append(("answer", path))
        if listing:
            self.listing_open -= 1
            if not self.listing_open and self.then is not None:
                self.then()
                self.then = None
        return response


def test_first_page_goes_out_before_the_jobs_list_answers(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    path = example(tmp_path)
    sandbox.store.set_knob("latency_ms", 100)  # every answer takes a (fake) round trip
    spy = Spy(sandbox)

    async def plan() -> None:
        wiring = runner.Wiring(sandbox=sandbox, clock=clock, transports={TELNYX: spy})
        async with runner.planned(path, wiring=wiring) as run:
            assert run.plan.accounts

    asyncio.run(plan())
    first_page = spy.events.index(("send", "/phone_numbers"))
    jobs_answered = spy.events.index(("answer", JOBS))
    # The old order read the jobs list (two round trips: one per job type) before any page.
    assert first_page < jobs_answered, spy.events[: jobs_answered + 1]
    last_page = max(i for i, e in enumerate(spy.events) if e[0] == "answer" and e[1] in LISTINGS)
    assert spy.events.index(("send", JOBS)) < last_page  # asked while the listing was read


def test_job_ending_during_the_read_is_not_taken_over_a_stale_read(
    tmp_path: Path, sandbox: Sandbox, clock: FakeClock
) -> None:
    """An earlier run's job for planned numbers is still pending when the listing is served,
    and completed when the jobs list is: not live, yet not reflected in the read. The plan
    must neither send those numbers again from the stale read nor hold them for no job: they
    are read again and found in sync."""
    path = example(tmp_path)
    sandbox.store.set_knob("telnyx.job_pending_s", 30)
    sandbox.store.set_knob("telnyx.job_run_s", 1)

    async def first_plan() -> Any:
        async with runner.planned(path, wiring=runner.Wiring(sandbox=sandbox, clock=clock)) as run:
            return next(c for c in run.plan.calls if c.account == TELNYX and c.operation is None)

    call = asyncio.run(first_plan())

    async def post_job() -> str:
        other = sandbox_provider(sandbox, "telnyx", clock=clock)
        try:
            body = {"phone_numbers": list(call.ids), **_nested(call.patch)}
            answer = await other.http.request("POST", JOBS + "/update_phone_numbers", json=body)
        finally:
            await other.aclose()
        return str(answer.json()["data"]["id"])

    job_id = asyncio.run(post_job())
    spy = Spy(sandbox, then=lambda: clock.advance(60))  # the job completes after the listing

    async def second_plan() -> Any:
        wiring = runner.Wiring(sandbox=sandbox, clock=clock, transports={TELNYX: spy})
        async with runner.planned(path, wiring=wiring) as run:
            return run

    run = asyncio.run(second_plan())
    status = sandbox.store.conn.execute(
        "SELECT status FROM telnyx_jobs WHERE id = ?", (job_id,)
    ).fetchone()[0]
    assert status == "completed"
    # The listing was served while the job was pending, the jobs list after it ended ...
    assert spy.events.index(("answer", "/phone_numbers")) < spy.events.index(("send", JOBS))
    planned = {c.id for c in run.plan.changes if c.account == TELNYX}
    held = {c.id for h in run.held.waits for c in h.changes}
    # ... so without the re-read its numbers were planned again from the stale read.
    stale = [i for i in call.ids if i in planned and i not in held]
    assert not stale, f"{len(stale)} numbers of ended job {job_id} planned from a stale read"
    assert not any(w.rail == pending.PENDING for w in run.plan.warnings)  # no live job: no hold


def _nested(patch: dict[str, Any]) -> dict[str, Any]:
    """A flat ``BulkCall`` patch (``voice.call_forwarding.x``) → the job body's nesting."""
    body: dict[str, Any] = {}
    for key, value in patch.items():
        *parents, leaf = key.split(".")
        node = body
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return body
