"""Follow-up calls within one apply (issue 10, "converge in ≤ 3 runs"): numbers a carrier failed
transiently are sent once more in the same run, with the same patch, for a bounded number of
rounds; refusals are not; an unknown outcome is re-sent only after verify shows the numbers
unchanged and (job carriers) no job exists.

Two layers: the real Telnyx provider on the sandbox (what reaches the carrier), and a scripted
provider for the applier's rules (what is re-sent, when, how often)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest
from conftest import EXAMPLE
from helpers import state_provider
from test_applier import Events

from reconciler.applier import EXIT_OK, EXIT_PARTIAL, FOLLOW_UP_ROUNDS, apply_plan
from reconciler.clock import FakeClock
from reconciler.config import ProviderConfig
from reconciler.errors import InvalidRequestError
from reconciler.loader import load
from reconciler.models import LiveNumber
from reconciler.plan import BulkCall, FieldChange, NumberChange, Plan
from reconciler.providers.base import CallResult, CallStatus, PendingJob, Provider
from reconciler.providers.telnyx.jobs import settle, unknown_outcome
from reconciler.runner import plan_accounts
from reconciler.sandbox import Sandbox

JOBS_POST = "/phone_numbers/jobs/update_phone_numbers"
FAILING = "+13127367206"  # a Telnyx number of the example whose settings change
# (only in an update job: +13127367203 is also in the example's messaging order, issue 17)


# ---- the real Telnyx provider on the sandbox


async def _apply_example(
    sandbox: Sandbox, clock: FakeClock, *, clear_after_first: bool
) -> tuple[Plan, Any, Any, list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Plan and apply the example with ``FAILING`` failing (10007) in its jobs; with
    ``clear_after_first`` the failure stops once the first pass is over (it was transient).
    → plan, report, the next plan, the job bodies POSTed, the recorded events."""
    sandbox.store.set_knob("telnyx.fail_numbers", [FAILING])
    bodies: list[dict[str, Any]] = []
    inner = sandbox.app

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("method") == "POST" and scope.get("path", "").endswith(JOBS_POST):
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = json.loads(b"".join(chunks))
            bodies.append(body)
            if clear_after_first and len(bodies) > expected_calls:
                sandbox.store.set_knob("telnyx.fail_numbers", None)  # the follow-up succeeds
            raw = b"".join(chunks)

            async def replay() -> dict[str, Any]:
                return {"type": "http.request", "body": raw, "more_body": False}

            await inner(scope, replay, send)
            return
        await inner(scope, receive, send)

    sandbox.app = spy  # type: ignore[assignment]
    state = load(EXAMPLE, env={})
    providers = {n: state_provider(state, n, sandbox, clock) for n in state.rules}
    events = Events()
    try:
        plan = await plan_accounts(state, providers)
        # The spy sees update-job POSTs only: count the example's update jobs (issue 17).
        expected_calls = sum(1 for c in plan.calls if _update_job(c))
        assert all(FAILING not in c.e164s for c in plan.calls if not _update_job(c))
        report = await apply_plan(plan, providers, clock=clock, record=events)
        after = await plan_accounts(state, providers)
    finally:
        for p in providers.values():
            await p.aclose()
        sandbox.app = inner  # type: ignore[assignment]
    return plan, report, after, bodies, events


def _update_job(call: BulkCall) -> bool:
    return call.carrier == "telnyx" and call.operation is None


def _call_of(plan: Plan, e164: str) -> BulkCall:
    return next(c for c in plan.calls if e164 in c.e164s)


async def test_a_transient_number_failure_is_sent_again_once_with_the_same_patch(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    plan, report, after, bodies, events = await _apply_example(
        sandbox, clock, clear_after_first=True
    )
    call = _call_of(plan, FAILING)
    failing_id = call.ids[call.e164s.index(FAILING)]
    update_jobs = [c for c in plan.calls if _update_job(c)]
    assert len(update_jobs) == 2
    assert len(bodies) == len(update_jobs) + 1  # one follow-up job, no more
    original = next(b for b in bodies if failing_id in b["phone_numbers"])
    assert bodies[-1] == {**original, "phone_numbers": [failing_id]}  # same patch, that id only
    assert report.exit_code == EXIT_OK and report.failed == {}
    assert not after.has_changes  # converged in this one run
    started = [d for e, d in events if e == "call_started"]
    follow_ups = [d for d in started if d["retry_of"] is not None]
    assert len(follow_ups) == 1 and follow_ups[0]["call"].ids == (failing_id,)
    assert started[follow_ups[0]["retry_of"]]["call"] == call  # recorded against its call
    assert [e for e, _ in events].count("call_finished") == len(started)
    first = next(r for r in report.results if r.call == call)
    assert first.status == CallStatus.OK and first.failed == {}  # the call's result took it


async def test_follow_up_rounds_are_bounded(sandbox: Sandbox, clock: FakeClock) -> None:
    plan, report, after, bodies, _ = await _apply_example(sandbox, clock, clear_after_first=False)
    call = _call_of(plan, FAILING)
    failing_id = call.ids[call.e164s.index(FAILING)]
    alone = [b for b in bodies if b["phone_numbers"] == [failing_id]]
    assert len(alone) == FOLLOW_UP_ROUNDS  # sent again each round, then reported
    assert report.exit_code == EXIT_PARTIAL
    assert set(report.failed) == {("telnyx-main", FAILING)}
    assert "10007" in report.failed[("telnyx-main", FAILING)]
    assert {c.e164 for c in after.changes} == {FAILING}


# ---- which failures the Telnyx provider marks as safe to send again


def _job(status: str, **ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "job-1", "status": status, **ops}


def _op(id_: str, *codes: str) -> dict[str, Any]:
    return {"id": id_, "errors": [{"code": c, "title": "t", "detail": "d"} for c in codes]}


CALL = BulkCall("tx", "telnyx", {"tags": ["a"]}, ("1", "2", "3"), ("+1", "+2", "+3"))


@pytest.mark.parametrize(
    ("job", "retry"),
    [
        (
            _job(
                "completed",
                successful_operations=[{"id": "1"}],
                failed_operations=[_op("2", "10007")],
            ),
            {"2"},
        ),
        (_job("completed", failed_operations=[_op("1", "10011"), _op("2", "10015")]), {"1"}),
        (_job("completed", failed_operations=[_op("1", "10007", "10015")]), set()),  # mixed
        (_job("completed", failed_operations=[_op("1", "10005"), _op("2", "10010")]), set()),
        (_job("completed", failed_operations=[_op("1")]), set()),  # no error given
        (_job("completed", successful_operations=[{"id": "1"}]), set()),  # 2, 3 not reported
        (_job("failed", successful_operations=[{"id": "1"}]), {"2", "3"}),  # never processed
        (_job("expired"), {"1", "2", "3"}),
    ],
)
def test_settle_marks_only_transient_failures(job: dict[str, Any], retry: set[str]) -> None:
    result = settle(CALL, job, 2)
    assert result.retry == retry
    assert result.retry <= result.failed.keys()


def test_a_job_we_stopped_waiting_for_or_an_unsearched_post_is_never_marked() -> None:
    job = _job("in_progress", failed_operations=[_op("1", "10007")])
    assert settle(CALL, job, 2, gave_up_after=60).retry == frozenset()
    assert unknown_outcome(CALL, ["503"], 2).retry == frozenset()
    assert unknown_outcome(CALL, ["503"], 2, searched=True).retry == set(CALL.ids)


# ---- the applier's rules, with a scripted provider


class Scripted(Provider):
    """Answers each ``apply`` with the next scripted result; numbers change only when a script
    entry says which ids land; ``find_job`` answers ``job``."""

    carrier: ClassVar[str] = "telnyx"
    job_based: ClassVar[bool] = True

    def __init__(self, script: list[Any], numbers: dict[str, dict[str, Any]]) -> None:
        config = ProviderConfig.model_validate(
            {"type": "telnyx", "sandbox": True, "verify_timeout_s": 10, "poll_interval_s": 1}
        )
        super().__init__("tx", config, base_url="http://carrier.invalid", api_key="k" * 20)
        self.script, self.numbers = script, numbers
        self.calls: list[BulkCall] = []
        self.job: PendingJob | None = None
        self.searches = 0

    async def apply(self, call: BulkCall) -> CallResult:
        self.calls.append(call)
        make, lands = self.script.pop(0)
        for id_ in lands:
            self.numbers[id_].update(call.patch)
        return make(call)  # type: ignore[no-any-return]

    async def fetch_all(self) -> list[LiveNumber]:
        return await self.fetch(sorted(self.numbers))

    async def fetch(self, ids: Sequence[str]) -> list[LiveNumber]:
        return [LiveNumber(i, f"+1{i}", "active", dict(self.numbers[i])) for i in ids]

    async def find_job(
        self, ids: Sequence[str], patch: dict[str, Any], job_id: str | None
    ) -> PendingJob | None:
        self.searches += 1
        return self.job


def _plan(ids: Sequence[str]) -> Plan:
    changes = tuple(
        NumberChange("tx", i, f"+1{i}", (FieldChange("tags", ["old"], ["new"]),)) for i in ids
    )
    call = BulkCall("tx", "telnyx", {"tags": ["new"]}, tuple(ids), tuple(f"+1{i}" for i in ids))
    return Plan(accounts=(), changes=changes, calls=(call,))


def _numbers(*ids: str) -> dict[str, dict[str, Any]]:
    return {i: {"tags": ["old"]} for i in ids}


def partial(failed: dict[str, str], retry: set[str]) -> Any:
    return lambda call: CallResult(
        call, CallStatus.PARTIAL, failed=dict(failed), retry=frozenset(retry)
    )


def ok(call: BulkCall) -> CallResult:
    return CallResult(call, CallStatus.OK)


def unknown(retry: bool) -> Any:
    def make(call: BulkCall) -> CallResult:
        return CallResult(
            call,
            CallStatus.FAILED,
            error="no answer",
            outcome_unknown=True,
            retry=frozenset(call.ids) if retry else frozenset(),
        )

    return make


async def test_a_refused_number_is_not_sent_again(clock: FakeClock) -> None:
    provider = Scripted([(partial({"2": "10015 Bad Request"}, set()), ["1"])], _numbers("1", "2"))
    report = await apply_plan(_plan(["1", "2"]), {"tx": provider}, clock=clock)
    assert len(provider.calls) == 1
    assert report.exit_code == EXIT_PARTIAL and set(report.failed) == {("tx", "+12")}
    assert "10015" in report.failed[("tx", "+12")]


async def test_only_the_retryable_ids_are_sent_again_and_the_call_result_takes_them(
    clock: FakeClock,
) -> None:
    script = [
        (partial({"2": "10007 try again", "3": "10015 refused"}, {"2"}), ["1"]),
        (ok, ["2"]),
    ]
    provider = Scripted(script, _numbers("1", "2", "3"))
    plan = _plan(["1", "2", "3"])
    report = await apply_plan(plan, {"tx": provider}, clock=clock)
    assert [c.ids for c in provider.calls] == [("1", "2", "3"), ("2",)]
    assert provider.calls[1].patch == plan.calls[0].patch and provider.calls[1].e164s == ("+12",)
    assert set(report.failed) == {("tx", "+13")}
    first = report.results[0]
    assert first.status == CallStatus.PARTIAL and set(first.failed) == {"3"}
    assert report.verified == 2


async def test_rounds_stop_at_the_bound(clock: FakeClock) -> None:
    again = (partial({"1": "10007 try again"}, {"1"}), [])
    provider = Scripted([again] * (FOLLOW_UP_ROUNDS + 3), _numbers("1"))
    report = await apply_plan(_plan(["1"]), {"tx": provider}, clock=clock)
    assert len(provider.calls) == 1 + FOLLOW_UP_ROUNDS
    assert set(report.failed) == {("tx", "+11")}


async def test_an_unknown_outcome_is_not_sent_again_when_a_job_exists(clock: FakeClock) -> None:
    provider = Scripted([(unknown(retry=True), [])], _numbers("1", "2"))
    provider.job = PendingJob("job-9", "pending", ("1", "2"), {"tags": ["new"]})
    report = await apply_plan(_plan(["1", "2"]), {"tx": provider}, clock=clock)
    assert len(provider.calls) == 1 and provider.searches == 1
    assert set(report.failed) == {("tx", "+11"), ("tx", "+12")}


async def test_an_unknown_outcome_the_provider_did_not_mark_is_not_sent_again(
    clock: FakeClock,
) -> None:
    provider = Scripted([(unknown(retry=False), [])], _numbers("1"))
    report = await apply_plan(_plan(["1"]), {"tx": provider}, clock=clock)
    assert len(provider.calls) == 1 and provider.searches == 0
    assert report.exit_code == EXIT_PARTIAL


async def test_an_unknown_outcome_is_sent_again_after_verify_when_no_job_exists(
    clock: FakeClock,
) -> None:
    events = Events()
    provider = Scripted([(unknown(retry=True), []), (ok, ["1", "2"])], _numbers("1", "2"))
    report = await apply_plan(_plan(["1", "2"]), {"tx": provider}, clock=clock, record=events)
    assert [c.ids for c in provider.calls] == [("1", "2"), ("1", "2")]
    assert clock.now() >= 1_000_000 + 10, "verify waited before the call was sent again"
    assert report.exit_code == EXIT_OK and report.verified == 2
    # the unanswered call is settled by the same run: nothing left open for the next one
    assert [d["index"] for e, d in events if e == "call_verified"] == [0]


async def test_an_unknown_outcome_that_partly_landed_is_not_sent_again(clock: FakeClock) -> None:
    provider = Scripted([(unknown(retry=True), ["1"])], _numbers("1", "2"))
    report = await apply_plan(_plan(["1", "2"]), {"tx": provider}, clock=clock)
    assert len(provider.calls) == 1  # a number moved: a job ran, the rest is not re-sent
    assert set(report.failed) == {("tx", "+12")}


async def test_idempotent_carrier_resends_unchanged_numbers_of_an_unknown_call(
    clock: FakeClock,
) -> None:
    class Idempotent(Scripted):
        job_based: ClassVar[bool] = False

    provider = Idempotent([(unknown(retry=False), ["1"]), (ok, ["2"])], _numbers("1", "2"))
    report = await apply_plan(_plan(["1", "2"]), {"tx": provider}, clock=clock)
    assert [c.ids for c in provider.calls] == [("1", "2"), ("2",)]  # only the unchanged one
    assert report.exit_code == EXIT_OK


async def test_idempotent_carrier_does_not_resend_a_bisected_refusal(clock: FakeClock) -> None:
    class Idempotent(Scripted):
        job_based: ClassVar[bool] = False

    def refused_then_unanswered(call: BulkCall) -> CallResult:
        cause = InvalidRequestError("refused", account="tx", method="PATCH", path="/", status=422)
        return CallResult(
            call,
            CallStatus.FAILED,
            failed={"1": "422 refused", "2": "503 no answer"},
            error="refused",
            outcome_unknown=True,
            cause=cause,
            refused=True,  # the provider marks the refusal (the applier reads no HTTP status)
        )

    provider = Idempotent([(refused_then_unanswered, [])], _numbers("1", "2"))
    report = await apply_plan(_plan(["1", "2"]), {"tx": provider}, clock=clock)
    assert len(provider.calls) == 1
    assert set(report.failed) == {("tx", "+11"), ("tx", "+12")}


async def test_the_applier_goes_by_the_providers_refused_mark_not_an_http_status(
    clock: FakeClock,
) -> None:
    class Idempotent(Scripted):
        job_based: ClassVar[bool] = False

    def unanswered_with_a_4xx_cause(call: BulkCall) -> CallResult:
        cause = InvalidRequestError("refused", account="tx", method="PATCH", path="/", status=422)
        return CallResult(
            call, CallStatus.FAILED, error="no answer", outcome_unknown=True, cause=cause
        )

    provider = Idempotent([(unanswered_with_a_4xx_cause, []), (ok, ["1"])], _numbers("1"))
    report = await apply_plan(_plan(["1"]), {"tx": provider}, clock=clock)
    assert len(provider.calls) == 2  # not marked refused: sent again (before: the 422 decided)
    assert report.exit_code == EXIT_OK
