"""At apply time: is the saved plan still the plan of this config and of the live state?

``check_config`` and ``restore_secrets`` check the re-loaded config against the file. Staleness
is keyed on the observed live state, not on a serial: ``compare`` re-derives, per planned
number, the value each managed field had at plan time (the change's ``old``, or the desired
value for fields that were in sync) and names every field that moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import carriers
from ..desired import DesiredState
from ..errors import PlanFileError
from ..models import LiveNumber
from ..plan import Plan
from .format import AccountSettings, SavedPlan, config_checksum
from .secrets import is_hidden, rewrite

_ABSENT = "(absent)"


def check_config(saved: SavedPlan, state: DesiredState) -> None:
    """The re-loaded config must be the one the plan was made from, for the same accounts."""
    now = config_checksum(state.files)
    if now != saved.config_checksum:
        raise PlanFileError(
            f"the config files changed since the plan was made ({saved.config_path}: "
            f"{saved.config_files} file(s) then, {len(state.files)} now; checksum differs). "
            "Nothing was sent; make a new plan with reconciler plan -o and review it"
        )
    for name, then in sorted(saved.accounts.items()):
        account = state.accounts.get(name)
        if account is None:
            raise PlanFileError(f"account {name} of the plan is not in the config")
        current = AccountSettings.of(account.config)
        for attr in ("carrier", "base_url", "sandbox"):
            if getattr(current, attr) != getattr(then, attr):
                raise PlanFileError(
                    f"account {name}: {attr} was {getattr(then, attr)!r} when the plan was made "
                    f"and is {getattr(current, attr)!r} now (environment changed?); "
                    "nothing was sent"
                )
        largest = max((len(c.ids) for c in saved.plan.calls if c.account == name), default=0)
        if largest > current.max_batch:
            raise PlanFileError(
                f"account {name}: the plan has calls of {largest} numbers but the account now "
                f"allows {current.max_batch} per call; make a new plan"
            )


def restore_secrets(saved: SavedPlan, state: DesiredState) -> Plan:
    """The plan with real secret values, taken from the config's desired state and checked
    against the digests in the file (every member of a call must want the hidden value)."""
    hider = saved.hider
    resolvers = {a.account: state.resolver(a.account) for a in saved.plan.accounts}

    def real(account: str, e164s: tuple[str, ...], path: str, value: Any, old: bool) -> Any:
        if old or not is_hidden(value):
            return value
        found = []
        for e164 in e164s or ("(unknown)",):
            desired = resolvers[account].desired(e164) or {}
            if path not in desired or hider.digest(desired[path]) != value["secret"]:
                raise PlanFileError(
                    f"{account} {e164}: the config's value of secret field {path} is not the "
                    "one the plan was made with; nothing was sent; make a new plan"
                )
            found.append(desired[path])
        return found[0]

    return rewrite(saved.plan, real)


@dataclass(frozen=True)
class MovedField:
    field: str
    then: str
    now: str
    secret: bool = False


@dataclass(frozen=True)
class Moved:
    """A planned number whose live state is not what the plan saw."""

    account: str
    id: str
    e164: str
    fields: tuple[MovedField, ...] = ()
    reason: str = ""
    converged: bool = False
    """Every field now has the value the plan would set (the plan was applied already?)."""

    def describe(self) -> str:
        if self.reason:
            return f"{self.e164} ({self.account}): {self.reason}"
        if self.converged:
            return f"{self.e164} ({self.account}): already has the planned values"
        parts = [
            f"{m.field} changed"
            if m.secret
            else f"{m.field} was {m.then} at plan time, now {m.now}"
            for m in self.fields
        ]
        return f"{self.e164} ({self.account}): " + "; ".join(parts)


def compare(
    saved: SavedPlan, state: DesiredState, live: Mapping[tuple[str, str], LiveNumber]
) -> list[Moved]:
    """Planned numbers whose re-read live state differs from what the plan saw, per field."""
    hider = saved.hider
    resolvers = {a.account: state.resolver(a.account) for a in saved.plan.accounts}
    carrier_of = {a.account: carriers.get(a.carrier) for a in saved.plan.accounts}
    moved: list[Moved] = []
    for change in saved.plan.changes:
        key = (change.account, change.id)
        number = live.get(key)
        if number is None:
            moved.append(Moved(*key, change.e164, reason="no longer in the account"))
            continue
        if not number.patchable:
            moved.append(
                Moved(*key, change.e164, reason=f"now {number.status}: the carrier refuses changes")
            )
            continue
        desc = carrier_of[change.account]
        managed = resolvers[change.account].desired(change.e164) or {}
        stated = saved.fingerprints.get(change.account, {}).get(change.id)
        if stated == hider.fingerprint(desc, managed, number.settings):
            continue
        olds = {f.field: f.old for f in change.changes}
        news = {f.field: f.new for f in change.changes}
        fields = []
        for path in sorted(managed):
            then = olds[path] if path in olds else hider.hide(desc, path, managed[path])
            now = (
                hider.hide(desc, path, number.settings[path])
                if path in number.settings
                else _ABSENT
            )
            if then != now:
                fields.append(
                    MovedField(
                        path, _show(desc, path, then), _show(desc, path, now), desc.is_secret(path)
                    )
                )
        converged = all(
            path in number.settings and hider.hide(desc, path, number.settings[path]) == new
            for path, new in news.items()
        )
        moved.append(
            Moved(*key, change.e164, tuple(fields), "" if fields else "changed", converged)
        )
    return moved


def _show(desc: carriers.Carrier, path: str, value: Any) -> str:
    if value == _ABSENT:
        return _ABSENT
    if is_hidden(value):
        return carriers.MASK
    return desc.format_value(path, value)
