"""Saved plans: ``plan -o plan.json`` writes one, ``show`` renders it, ``apply plan.json`` runs it.

A plan file is JSON, self-contained and versioned::

    kind            "reconciler-plan"
    format_version  FORMAT_VERSION; another version is refused, never guessed at
    config          path, checksum (of every config file's content, order- and path-free), files
    accounts        per account what matters to apply: carrier, base URL, sandbox, max batch,
                    grouping, concurrency (never a key)
    plan            the Plan (per number each changed field's before/after, the bulk calls, the
                    summaries, the rail warnings)
    fingerprints    account → id → fingerprint of the live values the plan observed for every
                    field that number manages
    secrets         how secret values are hidden: scheme, iterations, salt
    checksum        sha256 of the rest of the document (a hand edit or a truncation shows)

Secrets (``Carrier.secret_fields``, e.g. Telnyx ``external_pin``) never appear: every secret value
is replaced by ``{"secret": DIGEST}``, a salted PBKDF2-HMAC-SHA256 digest that tells whether two
values are equal and nothing else (PBKDF2 rather than one HMAC because PINs are short: each guess
costs ``ITERATIONS`` hashes). Fingerprints are HMAC-SHA256 over the digested values. ``apply``
takes the real secret values from the config it re-loads, whose checksum must match.

The file's checksum detects accidents (an edit, a truncated copy); it is not a signature.
Staleness is keyed on the observed live state, not on a serial: ``compare`` re-derives, per
planned number, the value each managed field had at plan time (the change's ``old``, or the
desired value for fields that were in sync) and names every field that moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from . import __version__, carriers
from .desired import DesiredState
from .errors import PlanFileError
from .models import LiveNumber, Settings
from .plan import BulkCall, FieldChange, NumberChange, Plan

KIND = "reconciler-plan"
FORMAT_VERSION = 1
SCHEME = "pbkdf2-hmac-sha256"
ITERATIONS = 100_000
_ABSENT = "(absent)"


# --------------------------------------------------------------------------------------------
# Secrets and fingerprints


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
    return _rewrite(plan, lambda account, _, path, v, __: hider.hide(carrier_of[account], path, v))


ValueMap = Callable[[str, tuple[str, ...], str, Any, bool], Any]
"""(account, e164s, field, value, is_old) → the value to keep."""


def _rewrite(plan: Plan, value: ValueMap) -> Plan:
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
        )
        for b in plan.calls
    )
    return replace(plan, changes=changes, calls=calls, meta=dict(plan.meta))


def config_checksum(files: Iterable[str | Path]) -> str:
    """One hash of every config file's content: independent of paths, names and file order."""
    digests = sorted(hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files)
    return "sha256:" + hashlib.sha256("\n".join(digests).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# The saved plan


@dataclass(frozen=True)
class AccountSettings:
    """What an account's apply depends on, as it was when the plan was made."""

    carrier: str
    base_url: str | None
    """None: the embedded sandbox."""
    sandbox: bool
    max_batch: int
    grouping: str
    concurrency: int

    @classmethod
    def of(cls, config: Any) -> AccountSettings:
        return cls(
            carrier=config.type,
            base_url=config.base_url
            or (None if config.sandbox else config.carrier.default_base_url),
            sandbox=config.sandbox,
            max_batch=config.max_batch,
            grouping=config.grouping,
            concurrency=config.concurrency,
        )


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    """The plan with secrets hidden (restore them with ``restore_secrets`` before applying)."""
    config_path: str
    config_checksum: str
    config_files: int
    accounts: dict[str, AccountSettings]
    fingerprints: dict[str, dict[str, str]]
    salt: bytes
    iterations: int = ITERATIONS
    created_at: str = ""
    tool_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hider(self) -> Hider:
        return Hider(self.salt, self.iterations)


def build(
    plan: Plan,
    state: DesiredState,
    observed: Mapping[tuple[str, str], LiveNumber],
    *,
    config_path: str | Path,
    hider: Hider | None = None,
) -> SavedPlan:
    """A saved plan of ``plan``: ``observed`` holds the live numbers the plan was made from
    (at least every number it changes)."""
    hider = hider or Hider.new()
    fingerprints: dict[str, dict[str, str]] = {}
    resolvers = {a.account: state.resolver(a.account) for a in plan.accounts}
    carrier_of = {a.account: carriers.get(a.carrier) for a in plan.accounts}
    for change in plan.changes:
        live = observed[(change.account, change.id)]
        managed = resolvers[change.account].desired(change.e164) or {}
        fingerprints.setdefault(change.account, {})[change.id] = hider.fingerprint(
            carrier_of[change.account], managed, live.settings
        )
    return SavedPlan(
        plan=hide_plan(plan, hider),
        config_path=str(config_path),
        config_checksum=config_checksum(state.files),
        config_files=len(state.files),
        accounts={
            a.account: AccountSettings.of(state.accounts[a.account].config) for a in plan.accounts
        },
        fingerprints=fingerprints,
        salt=hider.salt,
        iterations=hider.iterations,
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )


def to_document(saved: SavedPlan) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "tool_version": saved.tool_version,
        "created_at": saved.created_at,
        "config": {
            "path": saved.config_path,
            "checksum": saved.config_checksum,
            "files": saved.config_files,
        },
        "accounts": {
            name: {
                "carrier": a.carrier,
                "base_url": a.base_url,
                "sandbox": a.sandbox,
                "max_batch": a.max_batch,
                "grouping": a.grouping,
                "concurrency": a.concurrency,
            }
            for name, a in sorted(saved.accounts.items())
        },
        "secrets": {"scheme": SCHEME, "iterations": saved.iterations, "salt": saved.salt.hex()},
        "plan": saved.plan.to_dict(),
        "fingerprints": saved.fingerprints,
    }
    doc["checksum"] = _checksum(doc)
    return doc


INDENT_UP_TO = 2000
"""Plans changing up to this many numbers are written indented, for a person to read; bigger
ones compactly (half the size; ``show`` renders any plan)."""


def dumps(saved: SavedPlan) -> bytes:
    small = len(saved.plan.changes) <= INDENT_UP_TO
    return orjson.dumps(to_document(saved), option=orjson.OPT_INDENT_2 if small else 0) + b"\n"


def write(saved: SavedPlan, path: str | Path) -> None:
    """Write atomically: a reader never sees half a plan."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(dumps(saved))
    os.replace(tmp, target)


def read(path: str | Path) -> SavedPlan:
    """Load and check a plan file; ``PlanFileError`` says why it cannot be used."""
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PlanFileError(f"{where}: cannot read the plan file ({exc.strerror})") from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PlanFileError(
            f"{where}: not valid JSON: the plan file is corrupted or truncated; make a new one "
            "with reconciler plan -o"
        ) from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise PlanFileError(f'{where}: not a reconciler plan file (no "kind": "{KIND}")')
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanFileError(
            f"{where}: plan format version {version!r}, but this reconciler "
            f"({__version__}) reads version {FORMAT_VERSION} only; make the plan again with "
            "this version"
        )
    stated = doc.pop("checksum", None)
    if stated != _checksum(doc):
        raise PlanFileError(
            f"{where}: the plan file's checksum does not match its content: it was edited or "
            "corrupted after it was written. Nothing was sent; make a new plan with "
            "reconciler plan -o"
        )
    try:
        secrets = doc["secrets"]
        if secrets["scheme"] != SCHEME:
            raise PlanFileError(f"{where}: unknown secret scheme {secrets['scheme']!r}")
        return SavedPlan(
            plan=Plan.from_dict(doc["plan"]),
            config_path=doc["config"]["path"],
            config_checksum=doc["config"]["checksum"],
            config_files=doc["config"]["files"],
            accounts={n: AccountSettings(**a) for n, a in doc["accounts"].items()},
            fingerprints={a: dict(ids) for a, ids in doc["fingerprints"].items()},
            salt=bytes.fromhex(secrets["salt"]),
            iterations=int(secrets["iterations"]),
            created_at=doc.get("created_at", ""),
            tool_version=doc.get("tool_version", ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{where}: the plan file is malformed ({exc!r})") from None


def looks_like_plan_file(path: str | Path) -> bool:
    """True for a file that is (or claims to be) a plan file rather than YAML config."""
    p = Path(path)
    if not p.is_file():
        return False
    if p.suffix == ".json":
        return True
    with p.open("rb") as f:
        head = f.read(4096)
    return head.lstrip().startswith(b"{") and f'"kind": "{KIND}"'.encode() in head.replace(
        b'"kind":"', b'"kind": "'
    )


def _checksum(doc: Mapping[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


# --------------------------------------------------------------------------------------------
# At apply time


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

    return _rewrite(saved.plan, real)


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


def stale_message(moved: list[Moved], *, limit: int = 50) -> str:
    head = (
        f"the plan is stale: {len(moved)} planned number{'s' if len(moved) != 1 else ''} changed "
        "at the carrier since the plan was made; nothing was sent:"
    )
    done = sum(m.converged for m in moved)
    if done == len(moved):
        head += f" all {done} already have the planned values: was this plan applied already?"
    lines = [f"  - {m.describe()}" for m in moved[:limit]]
    if len(moved) > limit:
        lines.append(f"  … and {len(moved) - limit} more")
    tail = "Make and review a new plan (reconciler plan -o), or apply the rest with --skip-stale."
    return "\n".join([head, *lines, tail])


def _show(desc: carriers.Carrier, path: str, value: Any) -> str:
    if value == _ABSENT:
        return _ABSENT
    if is_hidden(value):
        return carriers.MASK
    return desc.format_value(path, value)
