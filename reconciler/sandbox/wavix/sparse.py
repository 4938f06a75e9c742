"""Sparse and null items: responses that leave fields out or null them (knob
``wavix.sparse_items``).

The spec marks every ``Number`` field and every destination field required and most non-null,
but Wavix's own tooling does not trust that: its MCP server widens every response scalar to
nullable because "the live API can still return null", and the rendered bulk-update page shows
destinations without ``transport``. The knob reshapes responses only (every route that returns a
``Number``); the stored state stays complete, so switching it off restores the full answers.
"""

from __future__ import annotations

import json
from typing import Any

from ..http import dumps
from ..store import SandboxStore
from .knobs import value

Rules = dict[str, dict[str, list[str]]]


def rules(store: SandboxStore) -> Rules | None:
    """``{"+E.164" | "*": {"drop": [path], "null": [path]}}``, or None when the knob is unset."""
    return value(store, "wavix.sparse_items") or None


def shape(rules: Rules, body: str) -> str:
    """``body`` (a ``Number`` as JSON) with the fields its rules drop or null."""
    number = json.loads(body)
    matched = [r for r in (rules.get("*"), rules.get("+" + str(number.get("number")))) if r]
    if not matched:
        return body
    for rule in matched:
        for how, paths in rule.items():
            for path in paths:
                _reshape(number, path, how == "drop")
    return dumps(number)


def _reshape(number: dict[str, Any], path: str, drop: bool) -> None:
    head, _, sub = path.partition(".")
    targets = [d for d in number.get(head) or () if isinstance(d, dict)] if sub else [number]
    key = sub or head
    for target in targets:
        if drop:
            target.pop(key, None)
        else:
            target[key] = None
