"""The Wavix simulator: ``/v1/numbers`` as the official OpenAPI document describes it.

Facts come from ../shared/carriers/wavix.md and ../shared/specs/wavix-numbers.openapi.json; every
response validates against that spec. Where the carrier's docs are silent the choice made here is
listed in docs/sandbox-wavix.md (max ``per_page``, duplicate ids, async delay, ...).

Routes, relative to ``MOUNT``::

    GET   /v1/numbers          page, per_page (1..100), search, label, label_present, city_id
    GET   /v1/numbers/{id}
    PATCH /v1/numbers/{id}     applied synchronously, every field
    PATCH /v1/numbers          bulk: {"ids": [...], fields...}; all ids must exist (else 404,
                               nothing applied); destinations and sms_relay_url are applied
                               ``wavix.async_delay_s`` seconds of store-clock time later

Storage: one row per number holding the whole response ``Number`` as JSON text, so a page is
served by concatenating stored strings (no per-row decoding); ids are dense 64-bit integers from
``FIRST_ID`` (11 digits, like the official examples), so an unfiltered page is an id range.
Pending asynchronous changes sit in ``wavix_pending`` and are applied lazily at the start of
every request.

Knobs (``knobs.KNOBS``; docs/sandbox-wavix.md gives the carrier assumption behind each):
``wavix.async_delay_s``, ``wavix.fail_next``, ``wavix.max_ids``, ``wavix.sparse_items`` (fields
left out or null in responses), ``wavix.refuse_*`` and ``wavix.refusal_status`` (numbers that
make a whole PATCH fail), ``wavix.rate_limit``, ``wavix.rate_window_s`` and
``wavix.rate_limit_headers`` (per-key 429s, with or without ``Retry-After`` /
``X-RateLimit-Reset``).

Modules: ``api`` (routes and handlers), ``requests`` (body models, parameters), ``errors`` (the
carrier's error shapes), ``number`` (the ``Number`` object), ``tables`` (schema, shared SQL),
``pending`` (asynchronous changes), ``refusals`` (all-or-nothing PATCH refusals), ``sparse``
(sparse responses), ``ratelimit`` (429s), ``knobs`` (the knob declarations), ``account`` (keys,
trunks), ``seed`` (the documented seed and the benchmark loaders). This package re-exports what
the sandbox, the CLI and tests use.
"""

from __future__ import annotations

from . import knobs
from .account import DEFAULT_KEY, KEYS, READONLY_KEY, TRUNKS
from .api import DEFAULT_PER_PAGE, MAX_PER_PAGE, MOUNT, make_app
from .number import make_number
from .pending import ASYNC_FIELDS, DEFAULT_ASYNC_DELAY_S
from .seed import DETROIT, FIRST_ID, NYC, bulk_insert, seed, seed_numbers, seed_synthetic
from .synthetic import DRIFT, SYNTHETIC
from .tables import FIRST_DESTINATION_ID, SCHEMA, TABLES

__all__ = [
    "ASYNC_FIELDS",
    "DEFAULT_ASYNC_DELAY_S",
    "DEFAULT_KEY",
    "DRIFT",
    "DEFAULT_PER_PAGE",
    "DETROIT",
    "FIRST_DESTINATION_ID",
    "FIRST_ID",
    "KEYS",
    "MAX_PER_PAGE",
    "MOUNT",
    "NYC",
    "READONLY_KEY",
    "SCHEMA",
    "SYNTHETIC",
    "TABLES",
    "TRUNKS",
    "bulk_insert",
    "knobs",
    "make_app",
    "make_number",
    "seed",
    "seed_numbers",
    "seed_synthetic",
]
