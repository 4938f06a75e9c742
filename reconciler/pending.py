"""Pending-job awareness: planned numbers an unfinished carrier job already covers.

Job carriers (Telnyx) run a bulk change as a job that may outlive the run that created it (the
run stopped waiting at ``job_timeout_s``, was killed, or lost the POST's answer). Sending the
same change again would make a second live job for the same numbers. So before reading the
accounts, the plan asks each provider for its account's unfinished jobs
(``Provider.pending_work``), and sorts the planned numbers they cover:

* **compatible** — every key the job kept in its saved parameters agrees with the number's
  desired value (the planned value for a changed field, the live value for a field already in
  sync; keys the job did not keep are not compared, carriers drop and normalise them). These
  numbers are taken out of the plan's calls ("pending at the carrier (job …)"); apply waits for
  the job (bounded by the provider's job timeout) and verifies them with the rest.
* **incompatible** — the job would set a managed field to another value. These numbers are left
  out of this run and reported; the next run after the job ends plans them again.

The carrier-specific part (how jobs are listed and read) is the provider's; this module only
compares flat settings in the carrier's canonical form.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from . import carriers
from .models import LiveNumber
from .plan import BulkCall, Narrowed, NumberChange, Plan, PlanWarning, WarningKind
from .seam import PendingJob, Provider
from .wording import plural

log = logging.getLogger(__name__)
T = TypeVar("T")

PENDING, CONFLICT = WarningKind.PENDING_JOB, WarningKind.JOB_CONFLICT
"""``PlanWarning.rail`` values: informative, they never make apply refuse."""


@dataclass(frozen=True)
class Held:
    """Planned numbers of one account covered by one unfinished carrier job."""

    account: str
    carrier: str
    job: PendingJob
    changes: tuple[NumberChange, ...]

    def call(self) -> BulkCall:
        """The job seen as a bulk call over the held numbers (to follow and settle it)."""
        return BulkCall(
            self.account,
            self.carrier,
            dict(self.job.patch or {}),
            tuple(c.id for c in self.changes),
            tuple(c.e164 for c in self.changes),
            self.job.operation,
        )


@dataclass
class Holds:
    waits: list[Held] = field(default_factory=list)
    """Compatible jobs: apply waits for them and verifies their numbers."""
    conflicts: list[Held] = field(default_factory=list)
    """Incompatible jobs: their numbers are left out of this run."""

    def numbers(self) -> set[tuple[str, str]]:
        return {(h.account, c.id) for h in (*self.waits, *self.conflicts) for c in h.changes}

    def changes(self) -> tuple[NumberChange, ...]:
        """The planned changes the waited-for jobs should make (for verify)."""
        return tuple(c for h in self.waits for c in h.changes)

    def follow(self) -> list[tuple[BulkCall, str]]:
        return [(h.call(), h.job.job_id) for h in self.waits]

    def warnings(self) -> list[PlanWarning]:
        out = []
        for h in self.waits:
            out.append(
                PlanWarning(
                    PENDING,
                    h.account,
                    f"{_count(h)} pending at the carrier (job {h.job.job_id}, {h.job.status}): "
                    f"not sent again; apply waits for the job and verifies them{_some(h)}",
                )
            )
        for h in self.conflicts:
            out.append(
                PlanWarning(
                    CONFLICT,
                    h.account,
                    f"{_count(h)} in live job {h.job.job_id} ({h.job.status}) that sets other "
                    f"values than this plan: left out of this run; re-run once the job has "
                    f"ended{_some(h)}",
                )
            )
        return out


def _count(h: Held) -> str:
    return plural(len(h.changes), "planned number")


def _some(h: Held, shown: int = 5) -> str:
    e164s = [c.e164 for c in h.changes]
    more = f", … and {len(e164s) - shown} more" if len(e164s) > shown else ""
    return f" ({', '.join(e164s[:shown])}{more})"


def compatible(
    job_patch: Mapping[str, Any] | None,
    change: NumberChange,
    live: LiveNumber | None,
    carrier: str,
) -> bool:
    """Does the job set nothing on this number that differs from its desired state?"""
    if not job_patch:
        return True  # the carrier kept no parameters: the job's own outcome and verify decide
    desired = dict(live.settings) if live is not None else {}
    desired.update({f.field: f.new for f in change.changes})
    normal = carriers.get(carrier).canonical
    for key, value in job_patch.items():
        if key not in desired:
            continue  # a field this config does not manage
        fix = normal.get(key)
        want = desired[key]
        if (fix(value) if fix else value) != (fix(want) if fix else want):
            return False
    return True


async def live_jobs(providers: Mapping[str, Provider]) -> dict[str, list[PendingJob]]:
    """Every account's unfinished jobs. Only jobs whose status is live (``PendingJob.live``)
    hold numbers: a finished one holds nothing. Asked alone, this must come *before* the read:
    a job that ends after it is then either seen live (and followed) or already reflected in
    the read; asked after the read, a job ending in between would look finished over a stale
    read. ``beside`` asks it at the same time as the read, and closes that gap."""
    names = sorted(providers)
    found = await asyncio.gather(*(providers[n].pending_work(None) for n in names))
    live = {
        n: [j for j in jobs if j.status in PendingJob.live]
        for n, jobs in zip(names, found, strict=True)
    }
    return {n: jobs for n, jobs in live.items() if jobs}


@dataclass
class Beside:
    """What ``beside`` learnt about the accounts' jobs while the read ran."""

    live: dict[str, list[PendingJob]]
    """Each account's unfinished jobs (``live_jobs``)."""
    stale: dict[str, frozenset[str] | None]
    """Per account, the ids of jobs that ended during the read (their numbers may be stale in
    it: re-read them); None: the carrier could not tell, re-read the whole account."""


async def beside(
    providers: Mapping[str, Provider], read: Callable[[], Awaitable[T]]
) -> tuple[T, Beside]:
    """``read()`` with the jobs list asked at the same time, not a round trip before it.

    A job live when the list is read is held (``look``), as before. The gap an overlap opens
    is a job that ends after a page was served and before the list was: neither seen live nor
    surely reflected. So the list is asked for the jobs that ended since the read began
    (``Provider.ended_jobs``); their numbers are re-read after the read (``stale``). A job
    ending later than the list answer was seen live. docs/reliability.md has the argument."""
    names = sorted(providers)
    started = {n: providers[n].clock.now() for n in names}

    async def jobs() -> Beside:
        async def ended() -> list[list[PendingJob] | None]:
            return await asyncio.gather(*(providers[n].ended_jobs(started[n]) for n in names))

        live, ended_ = await asyncio.gather(live_jobs(providers), ended())
        stale: dict[str, frozenset[str] | None] = {}
        for name, jobs_ in zip(names, ended_, strict=True):
            if jobs_ is None:
                stale[name] = None
            elif ids := frozenset(i for j in jobs_ for i in j.ids):
                stale[name] = ids
                log.info(
                    "[%s] %s ended while the accounts were read: their %d numbers are read again",
                    name,
                    plural(len(jobs_), "job"),
                    len(ids),
                )
        return Beside(live, stale)

    task = asyncio.ensure_future(jobs())
    try:
        result = await read()
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    return result, await task


async def fresh_listing(
    providers: Mapping[str, Provider],
    current: dict[str, list[LiveNumber]],
    stale: Mapping[str, frozenset[str] | None],
) -> dict[str, list[LiveNumber]]:
    """``current`` (each account's full read) with the ``stale`` numbers read again: replaced
    in place, left out when the carrier no longer has them; a whole account read again."""
    for name, ids in sorted(stale.items()):
        if name not in current:
            continue
        if ids is None:
            log.warning("[%s] the jobs list did not say when jobs ended: read again", name)
            current[name] = await providers[name].fetch_all()
            continue
        seen = [n.id for n in current[name] if n.id in ids]
        again = {n.id: n for n in await providers[name].fetch(seen)} if seen else {}
        current[name] = [
            again[n.id] if n.id in ids else n
            for n in current[name]
            if n.id not in ids or n.id in again
        ]
    return current


async def fresh_numbers(
    providers: Mapping[str, Provider],
    read: dict[tuple[str, str], LiveNumber],
    wanted: Mapping[str, list[str]],
    stale: Mapping[str, frozenset[str] | None],
) -> dict[tuple[str, str], LiveNumber]:
    """``read`` (the ``wanted`` numbers per account, by (account, id)) with its ``stale``
    numbers read again (all of an account's ``wanted`` when None)."""
    for name, ids in sorted(stale.items()):
        again = [i for i in wanted.get(name, ()) if ids is None or i in ids]
        if not again:
            continue
        for id_ in again:
            read.pop((name, id_), None)
        read.update({(name, n.id): n for n in await providers[name].fetch(again)})
    return read


def look(
    plan: Plan,
    found: Mapping[str, list[PendingJob]],
    observed: Mapping[tuple[str, str], LiveNumber],
) -> Holds:
    """Sort the planned numbers the accounts' unfinished jobs (``live_jobs``) cover."""
    by_account: dict[str, dict[str, NumberChange]] = {}
    for change in plan.changes:
        by_account.setdefault(change.account, {})[change.id] = change
    holds = Holds()
    for name in sorted(by_account.keys() & found.keys()):
        jobs = found[name]
        carrier = plan_carrier(plan, name)
        planned = by_account[name]
        # One job per number and operation: a number may be held by an update job and an
        # emergency job at once (each operation's job is followed and verified).
        taken: set[tuple[str, str | None]] = set()
        fits: dict[str, list[NumberChange]] = {}
        clash: dict[str, list[NumberChange]] = {}
        by_id = {j.job_id: j for j in jobs}
        for job in jobs:  # an incompatible job wins over a compatible one for the same number
            for id_ in job.ids:
                wanted = planned.get(id_)
                if wanted is None or (id_, job.operation) in taken:
                    continue
                if not compatible(job.patch, wanted, observed.get((name, id_)), carrier):
                    taken.add((id_, job.operation))
                    clash.setdefault(job.job_id, []).append(wanted)
        for job in jobs:
            for id_ in job.ids:
                covered = planned.get(id_)
                if covered is not None and (id_, job.operation) not in taken:
                    taken.add((id_, job.operation))
                    fits.setdefault(job.job_id, []).append(covered)
        holds.waits += [Held(name, carrier, by_id[j], tuple(c)) for j, c in fits.items()]
        holds.conflicts += [Held(name, carrier, by_id[j], tuple(c)) for j, c in clash.items()]
    return holds


def plan_carrier(plan: Plan, account: str) -> str:
    return next(a.carrier for a in plan.accounts if a.account == account)


def hold(plan: Plan, holds: Holds) -> Plan:
    """The plan without what the held numbers' jobs cover, saying why in its warnings.

    A compatible job (waited for) holds a number for its own operation only: a number whose
    change also has fields of another operation (an emergency address beside a connection an
    earlier run's update job is setting) stays in that operation's calls, its change narrowed
    to those fields; a number with nothing left is taken out. A number in a conflicting job
    (someone else is changing it) is left out of the run whole."""
    if not holds.waits and not holds.conflicts:
        return plan
    whole = {(h.account, c.id) for h in holds.conflicts for c in h.changes}
    ops: dict[tuple[str, str], set[str | None]] = {}
    for h in holds.waits:
        for c in h.changes:
            ops.setdefault((h.account, c.id), set()).add(h.job.operation)
    parts: dict[tuple[str, str], Narrowed] = {}
    for change in plan.changes:
        key = (change.account, change.id)
        held = ops.get(key)
        if held is None or key in whole:
            continue
        described = carriers.get(plan_carrier(plan, change.account))
        left = tuple(f for f in change.changes if _operation(described, f.field) not in held)
        if left:
            parts[key] = Narrowed(frozenset(held), replace(change, changes=left))
        else:
            whole.add(key)
    reduced = plan.without(whole, parts)
    return replace(reduced, warnings=(*reduced.warnings, *holds.warnings()))


def _operation(carrier: carriers.Carrier, path: str) -> str | None:
    """The operation name of ``path`` as calls and jobs name it (None: the primary one)."""
    op = carrier.operation_of(path)
    return None if op.name == carrier.primary.name else op.name


def to_verify(plan: Plan, holds: Holds) -> tuple[NumberChange, ...]:
    """What apply verifies: the plan's changes, a held number's whole planned change in place
    of the part this run sends (its job sets the rest)."""
    held = holds.changes()
    keys = {(c.account, c.id) for c in held}
    return (*(c for c in plan.changes if (c.account, c.id) not in keys), *held)
