"""The Telnyx tables.

One row per number holds both listing projections pre-rendered as compact JSON (``detailed`` for
``GET /phone_numbers``, ``voice`` for ``GET /phone_numbers/voice``), so a page body is a join of
stored strings: nothing is decoded on the read path. ``ordinal`` is the rowid, dense from 1 as
seeded, so an unfiltered page is a rowid range and the total is ``max(ordinal)``; once knob
``telnyx.shift_listing`` has bought or released numbers (``churn``) pages use LIMIT/OFFSET.
Writes (jobs, PATCH) decode one number, change it and re-render both projections together, which
keeps the summary flags of ``/phone_numbers`` in step with the voice settings. A job keeps its
response document and, apart, the work it will do; so does a messaging bulk-update order. A number
whose emergency settings a job changed has a row in ``telnyx_emergency_settling`` until its
``emergency_status`` leaves ``provisioning``/``deprovisioning``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS telnyx_numbers (
    ordinal INTEGER PRIMARY KEY,        -- dense 1..N as seeded: page n is a rowid range
    id TEXT NOT NULL UNIQUE,
    phone_number TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    detailed TEXT NOT NULL,             -- PhoneNumberDetailed, compact JSON
    voice TEXT NOT NULL                 -- PhoneNumberWithVoiceSettings, compact JSON
);
CREATE INDEX IF NOT EXISTS telnyx_numbers_status ON telnyx_numbers (status);
CREATE TABLE IF NOT EXISTS telnyx_jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    due_at REAL,                        -- next transition (NULL once finished)
    doc TEXT NOT NULL,                  -- PhoneNumbersJob, JSON
    work TEXT NOT NULL                  -- the update to apply and the schedule, JSON
);
CREATE INDEX IF NOT EXISTS telnyx_jobs_due ON telnyx_jobs (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS telnyx_messaging_orders (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    due_at REAL,                        -- when its pending numbers settle (NULL once settled)
    doc TEXT NOT NULL,                  -- BulkMessagingSettingsUpdatePhoneNumbers, JSON
    work TEXT NOT NULL                  -- the profile to assign and the per-number outcomes, JSON
);
CREATE INDEX IF NOT EXISTS telnyx_messaging_orders_due ON telnyx_messaging_orders (due_at)
    WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS telnyx_emergency_settling (
    number_id TEXT PRIMARY KEY,         -- a number whose emergency_status is (de)provisioning
    due_at REAL NOT NULL,               -- when it settles
    final TEXT NOT NULL                 -- the status it settles to
);
CREATE INDEX IF NOT EXISTS telnyx_emergency_settling_due ON telnyx_emergency_settling (due_at);
"""
TABLES = ("telnyx_emergency_settling", "telnyx_jobs", "telnyx_messaging_orders", "telnyx_numbers")

NumberRow = tuple[int, str, str, str, str, str]
"""(ordinal, id, phone_number, status, detailed JSON, voice JSON) of ``telnyx_numbers``."""


def insert_numbers(conn: Any, rows: Iterable[NumberRow]) -> None:
    conn.executemany("INSERT INTO telnyx_numbers VALUES (?, ?, ?, ?, ?, ?)", rows)
