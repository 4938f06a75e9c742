"""What an apply gives back: ``ApplyReport`` when it ran to the end, ``ApplyInterrupted``
(carrying the report so far) when Ctrl-C or SIGTERM stopped it.

Numbers are keyed by ``(account, carrier id)`` like the plan's changes; each value carries the
number's E.164 for display, and ``ApplyReport.failed``/``held`` are the same maps keyed by
``(account, e164)``, the form the report and the tests read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..plan import BulkCall
from ..seam import CallResult, CallStatus

Key = tuple[str, str]
"""(account, carrier id)"""

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 4


@dataclass(frozen=True)
class Unconverged:
    """Why a number is not in its desired state after the apply."""

    e164: str
    reason: str


@dataclass(frozen=True)
class HeldNumber:
    """A number an earlier run's carrier job covers: this run waited for the job (``follow``)
    and did not send the number, so it is not among the numbers this run changed."""

    e164: str
    job_id: str


@dataclass
class ApplyReport:
    results: list[CallResult] = field(default_factory=list)
    """Every call's result, in the order they finished, with what later follow-ups and verify
    showed landed taken off its failed numbers."""
    unconverged: dict[Key, Unconverged] = field(default_factory=dict)
    verified: int = 0
    not_attempted: list[BulkCall] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)
    """account → the account-fatal error that stopped its calls."""
    holds: dict[Key, HeldNumber] = field(default_factory=dict)

    @property
    def failed(self) -> dict[tuple[str, str], str]:
        """(account, e164) → why the number is not in its desired state (built on each use)."""
        return {(a, u.e164): u.reason for (a, _), u in self.unconverged.items()}

    @property
    def held(self) -> dict[tuple[str, str], str]:
        """(account, e164) → the earlier run's job this apply waited for (built on each use)."""
        return {(a, h.e164): h.job_id for (a, _), h in self.holds.items()}

    @property
    def exit_code(self) -> int:
        if self.stopped:
            return EXIT_ERROR
        return EXIT_PARTIAL if self.unconverged or self.not_attempted else EXIT_OK

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)


class ApplyInterrupted(KeyboardInterrupt):
    """Ctrl-C during an apply: no new call was sent after it. Says which calls finished (with
    their outcome), which were in flight (sent; outcome unknown, the journal keeps them open for
    the next run to settle) and which were never sent."""

    def __init__(
        self, report: ApplyReport, in_flight: list[BulkCall], not_sent: list[BulkCall]
    ) -> None:
        super().__init__("apply interrupted")
        self.report, self.in_flight, self.not_sent = report, in_flight, not_sent

    def lines(self, limit: int = 20) -> list[str]:
        """The summary, then the calls: every call in flight; finished (those not ok first)
        and unsent ones up to ``limit`` each (the journal has them all)."""
        done = sorted(self.report.results, key=lambda r: r.status == CallStatus.OK)
        out = [
            f"Interrupted: {len(done)} call(s) finished, {len(self.in_flight)} in flight "
            f"(sent, outcome unknown), {len(self.not_sent)} not sent."
        ]
        if not self.in_flight and not self.not_sent:
            out.append("Every call was answered; verifying them was interrupted.")
        finished = [
            f"{_one(r.call)}: {r.status}" + (f", job {r.job_id}" if r.job_id else "") for r in done
        ]
        out += _bounded("finished", finished, limit)
        out += [f"  in flight  {_one(c)}" for c in self.in_flight]
        out += _bounded("not sent", [_one(c) for c in self.not_sent], limit)
        return out


def _one(call: BulkCall) -> str:
    first = f" from {call.e164s[0]}" if call.e164s else ""
    return f"{call.account}: {len(call.ids)} number(s){first}"


def _bounded(tag: str, items: list[str], limit: int) -> list[str]:
    shown = [f"  {tag:<10} {item}" for item in items[:limit]]
    left = len(items) - limit
    return shown + ([f"  {'':<10} … and {left} more {tag}"] if left > 0 else [])
