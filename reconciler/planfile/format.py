"""The saved plan document: build, write, read and check a plan file.

A plan file is JSON, self-contained and versioned::

    kind            "reconciler-plan"
    format_version  FORMAT_VERSION; another version is refused, never guessed at
    config          path, checksum (of every config file's content, order- and path-free), files
    accounts        per account what matters to apply: carrier, base URL, sandbox, max batch,
                    grouping, concurrency (never a key)
    plan            the Plan (``format``: FORMAT_VERSION again; per number each changed field's
                    before/after, the bulk calls, the summaries, the scope, the rail warnings)
    fingerprints    account → id → fingerprint of the live values the plan observed for every
                    field that number manages
    secrets         how secret values are hidden: scheme, iterations, salt (``secrets``)
    checksum        sha256 of the rest of the document (a hand edit or a truncation shows)

The file's checksum detects accidents (an edit, a truncated copy); it is not a signature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .. import __version__, carriers
from ..desired import DesiredState
from ..errors import PlanFileError
from ..models import LiveNumber
from ..plan import Plan
from .secrets import ITERATIONS, SCHEME, Hider, hide_plan

KIND = "reconciler-plan"
FORMAT_VERSION = 1
"""The saved plan's format: the document's ``format_version`` and its plan's ``format``. Bump
it when a key is removed or changes meaning; ``read`` refuses every other version."""
OPERATIONS_FORMAT = 2
"""The format of a plan with a call of a carrier's non-primary operation (``BulkCall.operation``,
issue 17): a reconciler that predates operations would send such a call as the carrier's
primary one, so it must refuse the file. Plans without one are still written as
``FORMAT_VERSION`` (byte for byte as before); both are read."""
READABLE = (FORMAT_VERSION, OPERATIONS_FORMAT)


def format_of(plan: Plan) -> int:
    """The format version a plan is written in (``OPERATIONS_FORMAT`` only when it needs it)."""
    return OPERATIONS_FORMAT if any(c.operation is not None for c in plan.calls) else FORMAT_VERSION


def config_checksum(files: Iterable[str | Path]) -> str:
    """One hash of every config file's content: independent of paths, names and file order."""
    digests = sorted(hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files)
    return "sha256:" + hashlib.sha256("\n".join(digests).encode()).hexdigest()


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
        "format_version": format_of(saved.plan),
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
        "plan": {"format": format_of(saved.plan), **saved.plan.to_dict()},
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
    if version not in READABLE:
        raise PlanFileError(
            f"{where}: plan format version {version!r}, but this reconciler "
            f"({__version__}) reads versions {', '.join(map(str, READABLE))} only; make the "
            "plan again with this version"
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
