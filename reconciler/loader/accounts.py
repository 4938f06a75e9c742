"""The ``providers:`` section → accounts: environment expansion and the key policy.

Policy: ``api_key`` is never written in the YAML, only named (``api_key: ${VAR}``); the key comes
from the environment when the config is expanded. An unset variable is not an error here
(``validate`` runs where secrets are not): the account records it in ``missing_env`` and
``plan``/``apply`` refuse it before any request. Only a sandbox account may go without
``api_key``. Account names are unique across files.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from .. import carriers
from ..config import ProviderConfig
from ..desired import Account
from ..yamltree import LDict
from .issues import Env, Issues

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
"""``${VAR}`` or ``${VAR:-default}``."""


def is_env_ref(value: str) -> bool:
    return bool(ENV_REF.fullmatch(value.strip()))


def expand(value: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """Expand ``${VAR}`` and ``${VAR:-default}``; returns the value and the unset names."""
    unset: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        unset.append(name)
        return ""

    return ENV_REF.sub(sub, value), unset


class Accounts:
    """The accounts declared so far (``accounts``), and where each name was declared
    (``lines``, also for names whose body was refused, so entries naming them are not reported
    twice)."""

    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.env: Env = issues.env
        self.accounts: dict[str, Account] = {}
        self.lines: dict[str, str] = {}

    def section(self, file: str, node: Any, line: int | None) -> None:
        """One file's ``providers:`` mapping."""
        if node is None:
            return
        if not isinstance(node, LDict):
            self.issues.err(file, line, "providers must be a mapping of account name → settings")
            return
        for name, body in node.items():
            where = node.lines[name]
            if self.issues.bad_name(file, node, name, "provider account"):
                continue
            if name in self.lines:
                self.issues.err(
                    file,
                    where,
                    f"provider account {name!r} is declared twice (also at {self.lines[name]})",
                )
                continue
            self.lines[name] = f"{file}:{where}"
            if not isinstance(body, LDict):
                kinds = "|".join(carriers.names())
                self.issues.err(
                    file, where, f"providers.{name} must be a mapping (type: {kinds}, ...)"
                )
                continue
            account = self._account(file, where, name, body)
            if account is not None:
                self.accounts[name] = account

    def _account(self, file: str, where: int, name: str, body: LDict) -> Account | None:
        expanded = self._expanded(file, name, body)
        if expanded is None:
            return None
        values, missing = expanded
        kind = values.get("type")
        model = (
            carriers.get(kind).config_model
            if isinstance(kind, str) and kind in carriers.registry()
            else ProviderConfig
        )
        try:
            config = model.model_validate(values)
        except ValidationError as exc:
            self.issues.pydantic(file, body, exc, f"providers.{name}", model)
            return None
        carrier = config.carrier
        if config.max_ids_per_call and config.max_ids_per_call > carrier.hard_max_batch:
            self.issues.err(
                file,
                body.lines.get("max_ids_per_call", where),
                f"providers.{name}.max_ids_per_call: {config.type} allows at most "
                f"{carrier.hard_max_batch} numbers per bulk call",
            )
            return None
        if isinstance(body.get("api_key"), str):  # a ${VAR} reference (a literal is refused)
            config = config.naming_key(
                ", ".join(m.group(1) for m in ENV_REF.finditer(body["api_key"])) or None
            )
        if "api_key" not in body and not config.sandbox:
            self.issues.err(
                file,
                where,
                f"providers.{name}: no api_key; add api_key: ${{{carrier.key_env}}} and "
                f"export {carrier.key_env} (or set sandbox: true to use the simulator)",
            )
            return None
        return Account(name, config, f"{file}:{where}", tuple(missing))

    def _expanded(
        self, file: str, name: str, body: LDict
    ) -> tuple[dict[str, Any], list[str]] | None:
        """The account's values with ``${VAR}`` expanded and the unset variables, or None when
        the key policy refuses the body (reported)."""
        values: dict[str, Any] = {}
        missing: list[str] = []
        ok = True
        for key, value in body.items():
            if isinstance(value, str):
                if key == "api_key" and not is_env_ref(value):
                    self.issues.err(
                        file,
                        body.lines[key],
                        f"providers.{name}.api_key: a literal key is not allowed in YAML; "
                        "write api_key: ${YOUR_ENV_VAR} and export the key in the environment",
                    )
                    ok = False
                    continue
                value, unset = expand(value, self.env)
                missing.extend(unset)
                if key == "api_key" and not unset and value == "":
                    # ${VAR:-} with VAR unset or empty: an empty key is never sent.
                    missing.extend(m.group(1) for m in ENV_REF.finditer(body[key]))
                    continue
                if unset and key == "api_key":
                    continue
            values[key] = value
        return (values, missing) if ok else None
