"""Checks on a sandbox's state that the chaos and crash suites share: Telnyx jobs created twice,
every number's stored state (to see what a run touched)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.sandbox.store import SandboxStore


def duplicate_jobs(store: SandboxStore) -> list[tuple[str, str, list[str]]]:
    """Pairs of Telnyx jobs (earlier, later, shared ids) where the later one was created while
    the earlier was still live, or re-sends the same update for numbers the earlier one already
    changed."""
    docs = jobs(store)
    found = []
    for i, first in enumerate(docs):
        ids = _targets(first)
        done = {op["id"] for op in first["successful_operations"]}
        finished = first["status"] in ("completed", "failed", "expired")
        same = _update(first)
        for later in docs[i + 1 :]:
            shared = sorted(ids & _targets(later))
            if not shared:
                continue
            live = not finished or later["created_at"] < first["updated_at"]
            if live or (_update(later) == same and done & set(shared)):
                found.append((first["id"], later["id"], shared))
    return found


def jobs(store: SandboxStore) -> list[dict[str, Any]]:
    """Every Telnyx job document, oldest first."""
    with store.lock:
        rows = store.conn.execute("SELECT doc FROM telnyx_jobs ORDER BY seq").fetchall()
    return [json.loads(r[0]) for r in rows]


def _targets(doc: dict[str, Any]) -> set[str]:
    return {
        op["id"]
        for key in ("pending_operations", "successful_operations", "failed_operations")
        for op in doc[key]
    }


def _update(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc["parameters"].items() if k != "phone_numbers"}


def snapshot(store: SandboxStore) -> dict[tuple[str, str], str]:
    """Every number's stored state, by (carrier, id)."""
    with store.lock:
        rows = [
            ("wavix", str(i), b)
            for i, b in store.conn.execute("SELECT id, body FROM wavix_numbers")
        ]
        rows += [
            ("telnyx", i, d + v)
            for i, d, v in store.conn.execute("SELECT id, detailed, voice FROM telnyx_numbers")
        ]
    return {(c, i): body for c, i, body in rows}
