"""The Telnyx simulator's knobs: each one's name, meaning, default and validator (``KNOBS``, read
by the registry in ``sandbox/knobs.py``), and ``value``, the one way the simulator reads them.

Most knobs make the simulator *harsher*: each reproduces a behaviour the real carrier may show and
that the kind default hides (listings that shift while being read, replication lag on jobs,
replace semantics of nested voice objects, ...). docs/sandbox-telnyx.md lists every knob with the
carrier assumption it encodes.
"""

from __future__ import annotations

from typing import Any

from .. import knobs
from ..faults import check_queue, check_ratio, check_write_odds
from ..knobs import Knob, Validator, boolean, integer, list_of, number, one_of, string
from ..store import SandboxStore
from .number import Semantics

DEFAULT_JOB_PENDING_S = 0.5
DEFAULT_JOB_RUN_S = 0.5
DEFAULT_MESSAGING_PENDING_S = 0.5
DEFAULT_EMERGENCY_PROVISIONING_S = 0.5
DEFAULT_RATE_LIMIT = 10_000
RATE_WINDOW_S = 60.0
PAGE_META_FIELDS = ("page_number", "page_size", "total_pages", "total_results")


def _keys(**checks: Validator) -> Validator:
    """An object whose keys are among ``checks`` (each checked by its validator)."""

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValueError("expected an object with keys " + ", ".join(checks))
        unknown = sorted(set(value) - set(checks))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r}; expected " + ", ".join(checks))
        out = {}
        for key, item in value.items():
            try:
                out[key] = checks[key](item)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return out

    return check


def _job_parameters(value: Any) -> Any:
    if value is True or value is False:
        return value
    return _keys(
        drop=list_of(string, what="a list of dotted field paths"),
        sort_tags=boolean,
        empty=boolean,
    )(value)


def _profile_error(value: Any) -> bool | str:
    if value is True or value is False or value == "unavailable":
        return bool(value) if isinstance(value, bool) else "unavailable"
    raise ValueError('expected true, false or "unavailable"')


def _job_read_lag(value: Any) -> dict[str, Any]:
    return _keys(polls=integer(maximum=1000), seconds=number(maximum=3600))(value)


def _shift(value: Any) -> dict[str, Any]:
    return _keys(buy=integer(maximum=250), release=integer(maximum=250))(value)


KNOBS: tuple[Knob, ...] = (
    Knob("telnyx.keys", "Extra API keys with full access.", list_of(string), [], secret=True),
    Knob(
        "telnyx.job_pending_s",
        "Seconds a job stays pending before it runs.",
        number(maximum=86_400),
        DEFAULT_JOB_PENDING_S,
    ),
    Knob(
        "telnyx.job_run_s",
        "Seconds a job stays in_progress before its last step.",
        number(maximum=86_400),
        DEFAULT_JOB_RUN_S,
    ),
    Knob(
        "telnyx.job_steps",
        "A job applies its numbers in this many equal steps spread over its run time, so "
        "numbers change while it is in_progress (1: all at completion).",
        integer(minimum=1, maximum=1000),
        1,
    ),
    Knob(
        "telnyx.fail_jobs",
        "Jobs created from now on end `failed` when their last step is due instead of running "
        "it; the numbers of that step stay in pending_operations.",
        boolean,
        False,
    ),
    Knob(
        "telnyx.expire_jobs",
        "Jobs whose pending time ends from now on end `expired`, nothing applied.",
        boolean,
        False,
    ),
    Knob(
        "telnyx.fail_numbers",
        "Ids or +E.164 numbers that fail inside every job (failed_operations, code 10007) and "
        "every messaging bulk-update order (`failed`, no reason).",
        list_of(string),
        [],
    ),
    Knob(
        "telnyx.job_number_faults",
        'Random per-number failures inside jobs: {"p": probability, "seed": n}; a draw per '
        "(job, number), so a new job for the same number draws again (code 10007).",
        check_ratio,
        None,
    ),
    Knob(
        "telnyx.write_faults",
        'Random faults on POST/PATCH only: {"p_5xx": p, "p_429": p, "p_timeout_after_commit": '
        'p, "seed": n}; a timeout after commit carries the write out, then answers 504.',
        check_write_odds,
        None,
    ),
    Knob(
        "telnyx.job_read_lag",
        "Replication lag: GET /phone_numbers/jobs/{id} answers 404 for a new job's first "
        "`polls` reads and/or its first `seconds` after creation.",
        _job_read_lag,
        None,
    ),
    Knob(
        "telnyx.job_parameters",
        "How a job's saved `parameters` are normalised: true = as the SDK's type suggests "
        "(voice.translated_number dropped, tags sorted and deduplicated); or an object "
        '{"drop": [paths], "sort_tags": bool, "empty": bool}.',
        _job_parameters,
        False,
    ),
    Knob(
        "telnyx.voice_replace",
        "Nested voice objects (call_forwarding, call_recording, cnam_listing, media_features) "
        "in jobs and PATCH /voice replace the whole object: unsent subfields reset to defaults.",
        boolean,
        False,
    ),
    Knob(
        "telnyx.blank_reference_as_null",
        'customer_reference "" in a job or PATCH is stored and read back as null.',
        boolean,
        False,
    ),
    Knob(
        "telnyx.shift_listing",
        "After every listing page served, release the `release` newest numbers, then buy `buy` "
        "new ones (listed first: created_at descending), so pages shift under a reader.",
        _shift,
        None,
    ),
    Knob(
        "telnyx.voice_listing_omits",
        "Ids or +E.164 numbers that GET /phone_numbers/voice leaves out (GET "
        "/phone_numbers/{id}/voice still answers).",
        list_of(string),
        [],
    ),
    Knob(
        "telnyx.messaging_profile_error",
        "Messaging-profile lookups fail. true: GET /phone_numbers answers 503 unless it carries "
        "handle_messaging_profile_error=true (then: messaging fields left out, `errors` added). "
        '"unavailable": every page answers 200 and a number with a profile reads '
        "messaging_profile_id/name `UNAVAILABLE` (the SDK's documented value).",
        _profile_error,
        False,
    ),
    Knob(
        "telnyx.messaging_order_pending_s",
        "Seconds the numbers of a messaging bulk-update order stay `pending` before each moves to "
        "`success` or `failed` (0: settled in the creating answer).",
        number(maximum=86_400),
        DEFAULT_MESSAGING_PENDING_S,
    ),
    Knob(
        "telnyx.messaging_number_faults",
        'Numbers of messaging bulk-update orders that end `failed` (no reason): {"p": '
        'probability, "seed": n}; a draw per (order, number).',
        check_ratio,
        None,
    ),
    Knob(
        "telnyx.emergency_provisioning_s",
        "Seconds a number's emergency_status stays `provisioning` (enabling) or `deprovisioning` "
        "(disabling) after an update_emergency_settings job writes it (0: settled at once).",
        number(maximum=86_400),
        DEFAULT_EMERGENCY_PROVISIONING_S,
    ),
    Knob(
        "telnyx.emergency_provisioning_faults",
        'Enabled numbers that end `provisioning-failed` instead of `active`: {"p": '
        'probability, "seed": n}; a draw per (job, number).',
        check_ratio,
        None,
    ),
    Knob(
        "telnyx.emergency_job_cap_separate",
        "update_emergency_settings jobs get their own cap (500 pending or in progress, the "
        "number in the spec's example) instead of sharing update_phone_numbers' 20.",
        boolean,
        False,
    ),
    Knob(
        "telnyx.omit_page_meta",
        "Page `meta` fields left out of every paged answer (the spec requires none), e.g. "
        '["total_pages"].',
        list_of(one_of(*PAGE_META_FIELDS), what="a list of meta field names"),
        [],
    ),
    Knob(
        "telnyx.rate_limit",
        "Requests per key per rate window (0: no limit and no x-ratelimit-* headers).",
        integer(maximum=10**12),
        DEFAULT_RATE_LIMIT,
    ),
    Knob(
        "telnyx.rate_window_s",
        "Length of a key's fixed rate window, in seconds.",
        number(minimum=0.001, maximum=86_400),
        RATE_WINDOW_S,
    ),
    Knob(
        "telnyx.fail_next",
        'Queue of injected failures, one per request: a status, or {"status": s, "processed": '
        "true} (carried out, then the answer replaced).",
        check_queue,
        None,
    ),
)
BY_NAME = {k.name: k for k in KNOBS}


def value(store: SandboxStore, name: str) -> Any:
    """Knob ``name``, validated (default when unset or invalid; see ``sandbox/knobs.value``)."""
    return knobs.value(store, BY_NAME[name])


def semantics(store: SandboxStore) -> Semantics:
    """How writes change numbers now (knobs ``telnyx.voice_replace``,
    ``telnyx.blank_reference_as_null``)."""
    return Semantics(
        replace_nested=value(store, "telnyx.voice_replace"),
        blank_reference_as_null=value(store, "telnyx.blank_reference_as_null"),
    )
