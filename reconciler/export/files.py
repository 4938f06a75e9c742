"""What ``reconciler export`` runs: find the accounts, read them, export each, write the files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .. import carriers
from ..carriers import open_account
from ..config import ProviderConfig
from ..errors import ConfigError
from ..loader import load
from ..models import LiveNumber
from ..render.common import plural
from ..runner import fetch_current, open_accounts
from ..wording import did_you_mean
from .account import Exported, choose_fields, export_account
from .document import MARK

if TYPE_CHECKING:
    from ..loader import DesiredState


async def run_export(
    path: Path | None,
    accounts: Sequence[str] = (),
    *,
    carrier: str | None = None,
    base_url: str | None = None,
    sandbox: bool = False,
    fields: str | None = None,
    output: Path | None = None,
    sandbox_db: Path | None = None,
    now: datetime | None = None,
) -> list[Exported]:
    """Export accounts of the config at ``path`` (default: all of them), or with no ``path`` the
    one account described by ``carrier``/``base_url``/``sandbox`` (named ``accounts[0]``, default
    ``<carrier>-main``). With ``output`` the files are written there as ``ACCOUNT.yaml``."""
    state = load(path) if path is not None else None
    sources = _sources(state, path, accounts, carrier, base_url, sandbox)
    if output is None and len(sources) > 1:
        raise ConfigError("exporting several accounts needs -o DIR (one file per account)")
    chosen = {name: choose_fields(config.type, fields) for name, (config, _) in sources.items()}
    taken, declared = _survey(output, list(sources)) if output is not None else (set(), set())
    live = await _read(state, sources, sandbox_db)
    now = now or datetime.now(UTC)
    results = []
    for name, (config, provider) in sources.items():
        result = export_account(
            name,
            config.type,
            None if name in declared else provider,
            live[name],
            chosen[name],
            now=now,
            taken=taken,
        )
        taken.update(_profile_keys(result.text))
        results.append(result)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for result in results:
            result.path = output / _file_name(result.account)
            tmp = result.path.with_suffix(".yaml.tmp")
            tmp.write_text(result.text, encoding="utf-8")
            tmp.replace(result.path)
    return results


def _sources(
    state: DesiredState | None,
    path: Path | None,
    accounts: Sequence[str],
    carrier: str | None,
    base_url: str | None,
    sandbox: bool,
) -> dict[str, tuple[ProviderConfig, dict[str, Any]]]:
    """Account → (its config, the ``providers:`` entry to write: the user's own, with its
    ``${VAR}`` references, never an expanded key)."""
    if state is not None:
        if carrier or base_url or sandbox:
            raise ConfigError("give either a config PATH or --type/--base-url/--sandbox, not both")
        out = {}
        for name in accounts or sorted(state.accounts):
            if name not in state.accounts:
                raise ConfigError(
                    f"--account {name}: no such account in {path}"
                    + did_you_mean(name, state.accounts)
                )
            account = state.accounts[name]
            file = account.source.rsplit(":", 1)[0]
            entry = yaml.safe_load(Path(file).read_text(encoding="utf-8"))["providers"][name]
            out[name] = (account.config, dict(entry))
        return out
    if carrier is None:
        kinds = "|".join(carriers.registry())
        raise ConfigError(f"give a config PATH, or --type {kinds} for a quick start")
    if carrier not in carriers.names():
        raise ConfigError(f"--type {carrier}: expected one of {', '.join(carriers.names())}")
    if len(accounts) > 1:
        raise ConfigError("a quick start (--type) exports one account: give --account once")
    raw: dict[str, Any] = {"type": carrier}
    if sandbox:
        raw["sandbox"] = True
    if base_url:
        raw["base_url"] = base_url
    values = dict(raw)
    if not sandbox:  # a real account: the key comes from the environment, as the YAML will say
        env = carriers.get(carrier).key_env
        raw["api_key"] = "${" + env + "}"
        values["api_key"] = os.environ.get(env) or ""
        if not values["api_key"]:
            raise ConfigError(
                f"export {env} (the account's API key) for a quick start against {carrier}, "
                "or add --sandbox"
            )
    config = ProviderConfig.model_validate(values)
    return {accounts[0] if accounts else f"{carrier}-main": (config, raw)}


async def _read(
    state: DesiredState | None,
    sources: dict[str, tuple[ProviderConfig, dict[str, Any]]],
    sandbox_db: Path | None,
) -> dict[str, list[LiveNumber]]:
    if state is not None:
        async with open_accounts(
            state, accounts=list(sources), sandbox_path=sandbox_db
        ) as providers:
            return await fetch_current(providers)
    from ..sandbox import Sandbox

    ((name, (config, _)),) = sources.items()
    sb = Sandbox.open(sandbox_db) if config.sandbox and not config.base_url else None
    try:
        provider = open_account(
            name, config, f"reconciler export --type {config.type}:", sandbox=sb
        )
        try:
            return {name: await provider.fetch_all()}
        finally:
            await provider.aclose()
    finally:
        if sb is not None:
            sb.close()


def _file_name(account: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in account) + ".yaml"


def _survey(output: Path, accounts: list[str]) -> tuple[set[str], set[str]]:
    """Profile names and accounts the other files of ``output`` already declare. Refuses to
    overwrite a file export did not write, or to add numbers for an account another file
    already manages (the loader would merge both)."""
    taken: set[str] = set()
    declared: set[str] = set()
    if not output.exists():
        return taken, declared
    if not output.is_dir():
        raise ConfigError(f"-o {output}: not a directory")
    ours = {_file_name(a): a for a in accounts}
    for file in sorted(output.rglob("*")):
        if file.suffix not in (".yaml", ".yml") or not file.is_file():
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        if file.parent == output and file.name in ours:
            if not text.startswith(MARK):
                raise ConfigError(f"{file}: exists and was not written by export; move it away")
            continue
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if not isinstance(data, dict):
            continue
        taken.update(str(k) for k in data.get("profiles") or {})
        declared.update(a for a in data.get("providers") or {} if a in accounts)
        for entry in data.get("numbers") or []:
            if isinstance(entry, dict) and entry.get("provider") in accounts:
                raise ConfigError(
                    f"{file}: already has numbers entries for {entry['provider']}; "
                    "export into an empty directory (or move that file away)"
                )
    return taken, declared


def _profile_keys(text: str) -> set[str]:
    data = yaml.safe_load(text) or {}
    return {str(k) for k in data.get("profiles") or {}}


def summary(result: Exported) -> list[str]:
    """What the CLI prints for one account (names of secrets' variables, never their values)."""
    where = f" → {result.path}" if result.path else ""
    ratio = result.flat_lines / result.lines if result.lines else 0.0
    entries = "entry" if result.entries == 1 else "entries"
    lines = [
        f"{result.account} ({result.carrier}): {plural(result.numbers, 'number')}{where}",
        f"  {result.lines} lines: {plural(result.profiles, 'profile')}, {result.entries} {entries}"
        f" (one block per number: {result.flat_lines} lines, {ratio:.1f}x more)",
        f"  {result.managed} managed; {len(result.not_patchable)} the carrier does not let us "
        "change (listed in the file, not managed)",
    ]
    for path in result.secret_unmanaged:
        lines.append(
            f"  {path} not managed: a secret, and the loader does not expand ${{VAR}} in settings"
        )
    if result.variables:
        lines.append("  Secrets: export these variables (their values) before plan or apply:")
        lines += [f"    {name}  ({plural(n, 'number')})" for name, n in result.variables.items()]
    if result.unwritable:
        listed = ", ".join(f"{p} ({plural(n, 'number')})" for p, n in result.unwritable.items())
        lines.append(f"  Unmanaged where the live value is null (YAML cannot set null): {listed}")
    if result.refused:
        listed = ", ".join(f"{p} ({plural(n, 'number')})" for p, n in result.refused.items())
        lines.append(
            f"  Unmanaged where the settings model refuses the live value (out of range, not a "
            f"URL, an E911 address on a number with E911 disabled, …): {listed}"
        )
    for path, n in result.unreadable.items():
        lines.append(
            f"  {plural(n, 'number')}: {path} unreadable at the carrier, left out (not managed "
            "there; export again once the carrier reads it)"
        )
    for e164, ids in result.duplicates:
        lines.append(
            f"  Warning: {e164} is held under {len(ids)} ids ({', '.join(ids)}); its entry "
            "manages only the fields they agree on. Ask the carrier which one is real."
        )
    if result.path is not None:
        lines.append(f"  Check: reconciler plan {result.path.parent} (expect: No changes)")
    return lines
