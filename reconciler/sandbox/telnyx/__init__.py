"""Telnyx v2 phone-number API simulator: the listings, per-number settings and update jobs.

Mounted at ``/telnyx/v2`` (the API's ``/v2`` base), so an official SDK pointed at
``http://127.0.0.1:PORT/telnyx/v2`` works unchanged. Behaviour follows ``shared/carriers/telnyx.md``
and the OpenAPI contract; every choice the carrier's documents leave open is listed in
``docs/sandbox-telnyx.md``.

Storage (``tables``): one row per number holds both listing projections pre-rendered as compact
JSON, so a page body is a join of stored strings; an unfiltered page is a rowid range.

Time (``jobs``): jobs advance lazily on the store's clock at the start of every request (pending →
in_progress → completed, or → expired), and changes are written only at completion. Timestamps
are ``SIM_EPOCH + clock.now()`` (simulated, not wall time).

Knobs (``store.set_knob``): ``telnyx.job_pending_s``, ``telnyx.job_run_s``, ``telnyx.fail_numbers``,
``telnyx.expire_jobs``, ``telnyx.rate_limit``, ``telnyx.fail_next``, ``telnyx.keys``.

Modules: ``api`` (number routes, ``make_app``), ``jobs`` (job routes and lifecycle), ``gate``
(key, rate limit, injected faults), ``query`` (filters, sorting, paging), ``requests`` (what a
write may carry), ``errors`` (the carrier's error shapes), ``number`` (one number's two
projections), ``tables`` (schema), ``account`` (key, connections, billing groups), ``seed`` (the
documented account and the benchmark loader). This package re-exports what the sandbox, the CLI
and tests use.
"""

from __future__ import annotations

from .account import BILLING_GROUPS, CONNECTIONS, DEFAULT_KEY
from .api import MOUNT, make_app
from .errors import NUMBER_FAILURE
from .gate import DEFAULT_RATE_LIMIT, RATE_WINDOW_S
from .jobs import DEFAULT_JOB_PENDING_S, DEFAULT_JOB_RUN_S, MAX_ACTIVE_JOBS, MAX_JOB_NUMBERS
from .number import SIM_EPOCH, new_number, number_id
from .query import PAGE_DEFAULT, PAGE_MAX
from .seed import CHICAGO_SUPPORT, DENVER_FAX, seed, seed_numbers, seed_synthetic
from .tables import SCHEMA, TABLES

__all__ = [
    "BILLING_GROUPS",
    "CHICAGO_SUPPORT",
    "CONNECTIONS",
    "DEFAULT_JOB_PENDING_S",
    "DEFAULT_JOB_RUN_S",
    "DEFAULT_KEY",
    "DEFAULT_RATE_LIMIT",
    "DENVER_FAX",
    "MAX_ACTIVE_JOBS",
    "MAX_JOB_NUMBERS",
    "MOUNT",
    "NUMBER_FAILURE",
    "PAGE_DEFAULT",
    "PAGE_MAX",
    "RATE_WINDOW_S",
    "SCHEMA",
    "SIM_EPOCH",
    "TABLES",
    "make_app",
    "new_number",
    "number_id",
    "seed",
    "seed_numbers",
    "seed_synthetic",
]
