"""Telnyx v2 phone-number API simulator: the listings, per-number settings, update and emergency
jobs, and messaging-profile bulk updates.

Mounted at ``/telnyx/v2`` (the API's ``/v2`` base), so an official SDK pointed at
``http://127.0.0.1:PORT/telnyx/v2`` works unchanged. Behaviour follows ``shared/carriers/telnyx.md``
and the OpenAPI contract; every choice the carrier's documents leave open is listed in
``docs/sandbox-telnyx.md``.

Storage (``tables``): one row per number holds both listing projections pre-rendered as compact
JSON, so a page body is a join of stored strings; an unfiltered page is a rowid range.

Time (``lifecycle``, ``messaging``, ``emergency``): jobs advance lazily on the store's clock at
the start of every request (pending → in_progress → completed, or → failed / expired), writing
their numbers in steps; then messaging orders settle and emergency statuses leave
(de)provisioning. Timestamps are ``SIM_EPOCH + clock.now()`` (simulated, not wall time).

Knobs (``knobs.KNOBS``, set with ``store.set_knob`` or ``reconciler sandbox knob``): timings,
faults and rate limits, and the harsher behaviours of the real carrier that the kind defaults hide
(listings shifting under a reader, replication lag on jobs, replace semantics of voice objects,
normalised job parameters, ...). Each is documented with its assumption in docs/sandbox-telnyx.md.

Modules: ``api`` (number routes, ``make_app``), ``jobs`` (job routes), ``lifecycle`` (jobs on the
clock), ``emergency`` (emergency job bodies, per-number writes, ``emergency_status`` settling),
``messaging`` (messaging-profile bulk-update orders), ``gate`` (key, rate limit, injected faults),
``query`` (filters, sorting, paging), ``requests`` (what a write may carry), ``errors`` (the
carrier's error shapes), ``number`` (one number's two projections), ``tables`` (schema), ``churn``
(numbers bought and released between page reads), ``knobs``, ``account`` (key, connections, billing
groups, messaging profiles, emergency addresses), ``seed`` (the documented account and the benchmark
loader). This package re-exports what the sandbox, the CLI and tests use.
"""

from __future__ import annotations

from .account import (
    BILLING_GROUPS,
    CONNECTIONS,
    DEFAULT_KEY,
    EMERGENCY_ADDRESSES,
    MESSAGING_PROFILES,
)
from .api import MOUNT, make_app
from .errors import NUMBER_FAILURE
from .jobs import MAX_ACTIVE_JOBS, MAX_JOB_NUMBERS
from .knobs import DEFAULT_JOB_PENDING_S, DEFAULT_JOB_RUN_S, DEFAULT_RATE_LIMIT, RATE_WINDOW_S
from .number import SIM_EPOCH, new_number, number_id
from .query import PAGE_DEFAULT, PAGE_MAX
from .seed import CHICAGO_SUPPORT, DENVER_FAX, seed, seed_numbers, seed_synthetic
from .synthetic import DRIFT, SYNTHETIC
from .tables import SCHEMA, TABLES

__all__ = [
    "BILLING_GROUPS",
    "CHICAGO_SUPPORT",
    "CONNECTIONS",
    "DEFAULT_JOB_PENDING_S",
    "DEFAULT_JOB_RUN_S",
    "DEFAULT_KEY",
    "DRIFT",
    "DEFAULT_RATE_LIMIT",
    "DENVER_FAX",
    "EMERGENCY_ADDRESSES",
    "MAX_ACTIVE_JOBS",
    "MAX_JOB_NUMBERS",
    "MESSAGING_PROFILES",
    "MOUNT",
    "NUMBER_FAILURE",
    "PAGE_DEFAULT",
    "PAGE_MAX",
    "RATE_WINDOW_S",
    "SCHEMA",
    "SYNTHETIC",
    "SIM_EPOCH",
    "TABLES",
    "make_app",
    "new_number",
    "number_id",
    "seed",
    "seed_numbers",
    "seed_synthetic",
]
