"""One answer to "is this the Telnyx job our POST created?" (``jobs.matches``), for adoption (a
POST whose answer was lost), the journal's settle (a later run) and follow-ups (no job exists
before re-sending), and the live job statuses declared once (``PendingJob.live``).

Before: adoption (``jobs.adoptable``) took ids from the echoed ``phone_numbers`` only, compared
only tags in canonical form, and refused a job that kept a parameter not sent; ``find_job``
(settle, follow-ups) took ids from the echo and the operations, normalised every canonical
field and ignored such a parameter. A job one run adopted could be missed by the other search,
or adopted by neither and posted twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import aprovider_factory, sandbox_transport

from reconciler import journal, pending
from reconciler.apply.events import CallStarted
from reconciler.clock import FakeClock
from reconciler.plan import BulkCall, Plan
from reconciler.providers.telnyx import CARRIER
from reconciler.providers.telnyx.jobs import live_job_query, matches
from reconciler.sandbox import Sandbox
from reconciler.seam import PendingJob

ACCOUNT = "telnyx-main"
VIP = "+13127367200"
CANONICAL = CARRIER.canonical
IDS = ("11", "22")
PATCH = {"tags": ["b", "a"], "customer_reference": None, "voice.call_forwarding.forwards_to": "+1"}


def job(**over: Any) -> dict[str, Any]:
    """A job our POST of ``PATCH`` for ``IDS`` created, as the jobs list shows it."""
    base: dict[str, Any] = {
        "id": "j1",
        "status": "pending",
        "phone_numbers": [{"id": "11"}, {"id": "22"}],
        "pending_operations": [{"id": "11"}, {"id": "22"}],
        "parameters": {
            "phone_numbers": ["11", "22"],
            "tags": ["b", "a"],
            "customer_reference": None,
            "voice": {"call_forwarding": {"forwards_to": "+1"}},
        },
    }
    return {**base, **over}


def params(**over: Any) -> dict[str, Any]:
    return {**job()["parameters"], **over}


@pytest.mark.parametrize(
    ("candidate", "ours"),
    [
        (job(), True),
        # ids: exactly ours, taken from the echo and the operations
        (job(phone_numbers=[{"id": "11"}]), True),  # the echo shortened: operations name "22"
        (job(phone_numbers=None), True),  # no echo (adoption refused this one)
        (job(phone_numbers=[{"id": "11"}, {"phone_number": "+13125550100"}]), False),  # an E.164
        (job(pending_operations=[{"id": "11"}, {"id": "22"}, {"id": "33"}]), False),  # one more
        (job(phone_numbers=[{"id": "11"}], pending_operations=[{"id": "11"}]), False),  # fewer
        (job(parameters=params(phone_numbers=[11, 22])), True),  # kept as integers
        (job(parameters=params(phone_numbers=["11"])), False),
        # parameters: kept ones that we know agree in canonical form
        (job(parameters=params(tags=["a", "b", "a"])), True),  # tags normalised
        (job(parameters=params(customer_reference="")), True),  # adoption refused: None vs ""
        (job(parameters=params(hd_voice_enabled=False)), True),  # kept, not sent: not compared
        (job(parameters=params(tags=["a"])), False),
        (job(parameters=params(voice={"call_forwarding": {"forwards_to": "+2"}})), False),
        (job(parameters={}), True),  # an old job kept nothing: the ids decide
        (job(parameters=None), True),
        # carrier data of the wrong shape: not ours, never a traceback
        ("not a job", False),
        (job(phone_numbers="11,22"), False),
        (job(pending_operations=7, phone_numbers=[{"id": "11"}, {"id": "22"}]), True),
        (job(parameters=params(tags=7)), False),
    ],
)
def test_matches(candidate: Any, ours: bool) -> None:
    assert matches(candidate, IDS, PATCH, CANONICAL) is ours


def test_a_secret_the_journal_did_not_keep_is_not_compared() -> None:
    kept = job(parameters=params(external_pin="1234"))
    assert matches(kept, IDS, {**PATCH, "external_pin": "1234"}, CANONICAL)  # adoption
    assert matches(kept, IDS, PATCH, CANONICAL)  # settle: the journal masked the PIN
    assert not matches(kept, IDS, {**PATCH, "external_pin": "9999"}, CANONICAL)


# ---- on the sandbox: adopted by one run, found by the next one's settle


class EffectiveParameters(httpx.AsyncBaseTransport):
    """The sandbox, but every job read keeps a parameter nobody sent: Telnyx saves *effective*
    parameters, not the request."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or "/phone_numbers/jobs" not in request.url.path:
            return response
        await response.aread()
        body = json.loads(response.content)
        data = body.get("data")
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and isinstance(item.get("parameters"), dict):
                item["parameters"].setdefault("hd_voice_enabled", False)
        return httpx.Response(response.status_code, json=body)


Make = Callable[..., Any]


@pytest.fixture
async def make(sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Make]:
    async with aprovider_factory(sandbox, "telnyx", clock, ACCOUNT) as build:
        yield build


def jobs_in(sandbox: Sandbox) -> list[str]:
    return [r[0] for r in sandbox.store.conn.execute("SELECT id FROM telnyx_jobs ORDER BY seq")]


async def test_a_job_adopted_in_one_run_is_found_when_a_later_run_settles_it(
    make: Make, sandbox: Sandbox, tmp_path: Path
) -> None:
    vip = next(n.id for n in await make().fetch_all() if n.e164 == VIP)
    call = BulkCall(ACCOUNT, "telnyx", {"tags": ["b", "a"], "external_pin": "4321"}, (vip,))
    sandbox.store.set_knob("telnyx.job_parameters", True)  # the SDK's normalised parameters
    sandbox.store.set_knob("telnyx.job_pending_s", 3600)  # still live when the next run looks
    sandbox.store.set_knob("telnyx.fail_next", [{"status": 502, "processed": True}])
    log = journal.Journal.open(tmp_path / "state")
    record = log.recorder(Plan(accounts=(), changes=(), calls=(call,)), "config")
    record.record(CallStarted(0, call))  # run 1 journals the call, then POSTs it

    first = make(transport=EffectiveParameters(sandbox_transport(sandbox)), job_timeout_s=5)
    result = await first.apply(call)
    (created,) = jobs_in(sandbox)  # before: not adopted (a kept key not sent), posted twice
    assert result.job_id == created
    # run 1 dies before recording the answer; run 2 settles the call by its content
    later = make(transport=EffectiveParameters(sandbox_transport(sandbox)))
    (settled,) = await journal.settle(log, {ACCOUNT: later})
    assert settled.how == f"job {created} still pending: this run waits for it and verifies"
    assert jobs_in(sandbox) == [created]
    log.close()


# ---- live statuses, declared once


def test_the_live_jobs_query_asks_for_the_seams_live_statuses() -> None:
    assert live_job_query(1, 250)["filter[status][]"] == list(PendingJob.live)


class Jobs:
    """A provider's ``pending_work`` answering the given jobs (a third party's may list a
    finished one)."""

    def __init__(self, found: list[PendingJob]) -> None:
        self.found = found

    async def pending_work(self, ids: Any) -> list[PendingJob]:
        return self.found


async def test_only_live_jobs_hold_numbers() -> None:
    live = PendingJob("j1", "in_progress", ("1",), None)
    done = PendingJob("j2", "completed", ("2",), None)
    found = await pending.live_jobs({"a": Jobs([live, done]), "b": Jobs([done])})  # type: ignore[dict-item]
    assert found == {"a": [live]}  # before: the finished job held number 2, account b too
