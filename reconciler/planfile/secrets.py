"""Secret values in a saved plan: salted digests in place of the values, and fingerprints.

Every secret value (``Carrier.secret_fields``, e.g. Telnyx ``external_pin``) is replaced by
``{"secret": DIGEST}``, a salted PBKDF2-HMAC-SHA256 digest that tells whether two values are
equal and nothing else (PBKDF2 rather than one HMAC because PINs are short: each guess costs
``ITERATIONS`` hashes). Fingerprints are HMAC-SHA256 over the digested values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import orjson

from .. import carriers
from ..models import Settings
from ..plan import BulkCall, FieldChange, NumberChange, Plan

SCHEME = "pbkdf2-hmac-sha256"
ITERATIONS = 100_000


class Hider:
    """Replaces secret values by salted digests; one digest per distinct value (cached)."""

    def __init__(self, salt: bytes, iterations: int = ITERATIONS) -> None:
        self.salt, self.iterations = salt, iterations
        self._cache: dict[str, str] = {}

    @classmethod
    def new(cls) -> Hider:
        return cls(os.urandom(16))

    def digest(self, value: Any) -> str:
        text = orjson.dumps(value).decode()
        got = self._cache.get(text)
        if got is None:
            raw = hashlib.pbkdf2_hmac("sha256", text.encode(), self.salt, self.iterations)
            got = self._cache[text] = raw.hex()
        return got

    def hide(self, carrier: carriers.Carrier, path: str, value: Any) -> Any:
        """``value``, or its ``{"secret": digest}`` stand-in for a secret field."""
        if not carrier.is_secret(path) or is_hidden(value):
            return value
        return {"secret": self.digest(value)}

    def fingerprint(self, carrier: carriers.Carrier, managed: Iterable[str], live: Settings) -> str:
        """HMAC of the live values of the ``managed`` fields (absent fields count as absent)."""
        items = [
            [f, f in live, self.hide(carrier, f, live[f]) if f in live else None]
            for f in sorted(managed)
        ]
        body = orjson.dumps(items, option=orjson.OPT_SORT_KEYS)
        return hmac.new(self.salt, body, hashlib.sha256).hexdigest()[:32]


def is_hidden(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secret"}


def hide_plan(plan: Plan, hider: Hider) -> Plan:
    """The plan with every secret value replaced by its digest."""
    carrier_of = {a.account: carriers.get(a.carrier) for a in plan.accounts}
    if not any(c.secret_fields for c in carrier_of.values()):
        return plan
    return rewrite(plan, lambda account, _, path, v, __: hider.hide(carrier_of[account], path, v))


ValueMap = Callable[[str, tuple[str, ...], str, Any, bool], Any]
"""(account, e164s, field, value, is_old) → the value to keep."""


def rewrite(plan: Plan, value: ValueMap) -> Plan:
    """``plan`` with every field value (changes' old and new, calls' patches) mapped."""
    changes = tuple(
        NumberChange(
            c.account,
            c.id,
            c.e164,
            tuple(
                FieldChange(
                    f.field,
                    value(c.account, (c.e164,), f.field, f.old, True),
                    value(c.account, (c.e164,), f.field, f.new, False),
                )
                for f in c.changes
            ),
        )
        for c in plan.changes
    )
    calls = tuple(
        BulkCall(
            b.account,
            b.carrier,
            {k: value(b.account, b.e164s, k, v, False) for k, v in b.patch.items()},
            b.ids,
            b.e164s,
            b.operation,
        )
        for b in plan.calls
    )
    return replace(plan, changes=changes, calls=calls)
