"""YAML → ``DesiredState``. Every problem is reported with file:line and what to do, all at once.

A config path is a file or a directory of ``*.yaml``/``*.yml`` files (recursively, sorted). The
files are merged: ``providers`` and ``profiles`` are maps whose names must be unique across files;
``numbers`` lists are concatenated.

Precedence when several entries select one live number: exact number over longer prefix over
shorter prefix. Settings are merged field by field from the least to the most specific entry, and
within an entry the inline ``settings`` override the ``profile``. Entries with the same selector
are equal precedence: they may be split across files, but if two of them set one field to
different values that is an error naming both.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .config import CARRIERS, HARD_MAX_IDS, ProviderConfig
from .errors import ConfigError, ConfigIssue
from .models import SETTINGS_MODELS, Settings, check_e164, flatten

TOP_LEVEL = ("providers", "profiles", "numbers")
ENTRY_KEYS = ("provider", "number", "profile", "settings")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PREFIX = re.compile(r"^\+[0-9]{1,15}\*$")


# --------------------------------------------------------------------------------------------
# YAML with line numbers


class LDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line of itself and of each key."""

    line: int = 0
    lines: dict[Any, int]


class LList(list):  # type: ignore[type-arg]
    line: int = 0
    lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LDict:
    loader.flatten_mapping(node)
    out = LDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise yaml.MarkedYAMLError(problem="a mapping key must be a plain value", problem_mark=key_node.start_mark) from None
        if key in out:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r} (first at line {out.lines[key]})",
                problem_mark=key_node.start_mark,
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LList:
    out = LList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)  # type: ignore[arg-type]


def line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest node on ``loc`` that the YAML tree knows."""
    line = getattr(node, "line", None)
    for part in loc:
        if isinstance(node, LDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
    return line


# --------------------------------------------------------------------------------------------
# The desired state


@dataclass(frozen=True)
class Account:
    name: str
    config: ProviderConfig
    source: str
    missing_env: tuple[str, ...] = ()
    """Environment variables the account's config names that are unset (an error at plan time)."""


@dataclass
class Rule:
    """All entries of one account with the same selector, merged (equal precedence)."""

    account: str
    selector: str
    exact: bool
    settings: Settings
    sources: list[str] = field(default_factory=list)
    field_sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DesiredState:
    accounts: dict[str, Account]
    rules: dict[str, list[Rule]]
    files: tuple[str, ...]

    def resolver(self, account: str) -> Resolver:
        return Resolver(self.rules.get(account, []))


class Resolver:
    """Desired settings of one live number: the merge of every rule that selects it.

    Numbers selected by the same rules share one settings dict, so a million numbers under a
    handful of profiles cost a handful of dicts.
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.exact = {r.selector: r for r in rules if r.exact}
        self.prefixes = {r.selector[:-1]: r for r in rules if not r.exact}
        self.lengths = sorted({len(p) for p in self.prefixes})
        self._cache: dict[tuple[int, ...], Settings] = {}

    def desired(self, e164: str) -> Settings | None:
        matched: list[Rule] = [
            self.prefixes[e164[:n]] for n in self.lengths if e164[:n] in self.prefixes
        ]
        exact = self.exact.get(e164)
        if exact is not None:
            matched.append(exact)
        if not matched:
            return None
        key = tuple(id(r) for r in matched)
        merged = self._cache.get(key)
        if merged is None:
            merged = {}
            for rule in matched:  # shorter prefix → longer prefix → exact
                merged.update(rule.settings)
            self._cache[key] = merged
        return merged


# --------------------------------------------------------------------------------------------
# Loading


def config_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())
        if not files:
            raise ConfigError(ConfigIssue(str(p), None, "no *.yaml files in this directory"))
        return files
    raise ConfigError(ConfigIssue(str(p), None, "no such file or directory"))


def load(path: str | Path, env: dict[str, str] | None = None) -> DesiredState:
    """Read, validate and merge the config at ``path``. Raises ConfigError with every issue."""
    env = dict(os.environ) if env is None else env
    issues: list[ConfigIssue] = []
    docs: list[tuple[str, LDict]] = []
    unreadable = 0
    files = config_files(path)
    for f in files:
        name = str(f)
        try:
            data = yaml.load(f.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            issues.append(ConfigIssue(name, mark.line + 1 if mark else None, f"invalid YAML: {exc.problem}"))
            unreadable += 1
            continue
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            issues.append(ConfigIssue(name, None, f"cannot read YAML: {exc}"))
            unreadable += 1
            continue
        if data is None:
            continue
        if not isinstance(data, LDict):
            issues.append(ConfigIssue(name, 1, "the file must be a mapping with providers/profiles/numbers"))
            continue
        for key in data:
            if key not in TOP_LEVEL:
                issues.append(ConfigIssue(name, data.lines[key], _unknown("top-level key", key, TOP_LEVEL)))
        docs.append((name, data))

    builder = _Builder(issues, env)
    builder.partial = unreadable > 0  # a file did not parse: skip cross-file references
    for name, data in docs:
        builder.providers(name, data.get("providers"), data.lines.get("providers"))
    for name, data in docs:
        builder.profiles(name, data.get("profiles"), data.lines.get("profiles"))
    for name, data in docs:
        builder.numbers(name, data.get("numbers"), data.lines.get("numbers"))
    state = builder.finish(tuple(str(f) for f in files))
    if issues:
        raise ConfigError(issues)
    return state


@dataclass
class _Profile:
    name: str
    file: str
    line: int
    node: LDict


class _Builder:
    def __init__(self, issues: list[ConfigIssue], env: dict[str, str]) -> None:
        self.issues = issues
        self.env = env
        self.accounts: dict[str, Account] = {}
        self.account_lines: dict[str, str] = {}
        self.profile_nodes: dict[str, _Profile] = {}
        self.used_profiles: set[str] = set()
        self.rules: dict[tuple[str, str], Rule] = {}
        self.exact_seen: dict[tuple[str, str], str] = {}
        self.partial = False

    def err(self, file: str, line: int | None, message: str) -> None:
        self.issues.append(ConfigIssue(file, line, message))

    # ---- providers
    def providers(self, file: str, node: Any, line: int | None) -> None:
        if node is None:
            return
        if not isinstance(node, LDict):
            self.err(file, line, "providers must be a mapping of account name → settings")
            return
        for name, body in node.items():
            where = node.lines[name]
            if name in self.account_lines:
                self.err(file, where, f"provider account {name!r} is declared twice (also at {self.account_lines[name]})")
                continue
            self.account_lines[name] = f"{file}:{where}"
            if not isinstance(body, LDict):
                self.err(file, where, f"providers.{name} must be a mapping (type: wavix|telnyx, ...)")
                continue
            values: dict[str, Any] = {}
            missing: list[str] = []
            ok = True
            for key, value in body.items():
                if isinstance(value, str):
                    if key == "api_key" and not _is_env_ref(value):
                        self.err(
                            file,
                            body.lines[key],
                            f"providers.{name}.api_key: a literal key is not allowed in YAML; "
                            "write api_key: ${YOUR_ENV_VAR} and export the key in the environment",
                        )
                        ok = False
                        continue
                    value, unset = _expand(value, self.env)
                    missing.extend(unset)
                    if key == "api_key" and not unset and value == "":
                        # ${VAR:-} with VAR unset or empty: an empty key is never sent.
                        missing.extend(m.group(1) for m in _ENV.finditer(body[key]))
                        continue
                    if unset and key == "api_key":
                        continue
                values[key] = value
            if not ok:
                continue
            try:
                config = ProviderConfig.model_validate(values)
            except ValidationError as exc:
                self._pydantic(file, body, exc, f"providers.{name}", ProviderConfig)
                continue
            if config.max_ids_per_call and config.max_ids_per_call > HARD_MAX_IDS[config.type]:
                self.err(
                    file,
                    body.lines.get("max_ids_per_call", where),
                    f"providers.{name}.max_ids_per_call: {config.type} allows at most "
                    f"{HARD_MAX_IDS[config.type]} numbers per bulk call",
                )
                continue
            self.accounts[name] = Account(name, config, f"{file}:{where}", tuple(missing))

    # ---- profiles
    def profiles(self, file: str, node: Any, line: int | None) -> None:
        if node is None:
            return
        if not isinstance(node, LDict):
            self.err(file, line, "profiles must be a mapping of profile name → settings")
            return
        for name, body in node.items():
            where = node.lines[name]
            if name in self.profile_nodes:
                prev = self.profile_nodes[name]
                self.err(file, where, f"profile {name!r} is declared twice (also at {prev.file}:{prev.line})")
                continue
            if not isinstance(body, LDict):
                self.err(file, where, f"profiles.{name} must be a mapping of settings")
                continue
            self.profile_nodes[name] = _Profile(name, file, where, body)

    # ---- numbers
    def numbers(self, file: str, node: Any, line: int | None) -> None:
        if node is None:
            return
        if not isinstance(node, LList):
            self.err(file, line, "numbers must be a list of entries (- provider: ..., number: ...)")
            return
        for index, entry in enumerate(node):
            where = node.lines[index]
            if not isinstance(entry, LDict):
                self.err(file, where, "a numbers entry must be a mapping with provider, number, profile/settings")
                continue
            self._entry(file, where, entry)

    def _entry(self, file: str, where: int, entry: LDict) -> None:
        bad = False
        for key in entry:
            if key not in ENTRY_KEYS:
                self.err(file, entry.lines[key], _unknown("key in a numbers entry", key, ENTRY_KEYS))
                bad = True
        if bad:
            return  # a misspelt key; "missing number/provider" would only repeat it
        account_name = entry.get("provider")
        if account_name is None:
            self.err(file, where, "numbers entry has no provider: name one of the accounts under providers")
            return
        if account_name not in self.accounts:
            if account_name not in self.account_lines and not self.partial:  # else: reported already
                self.err(file, entry.lines["provider"], _unknown("provider account", account_name, list(self.account_lines)))
            return
        account = self.accounts[account_name]
        carrier = account.config.type

        selector = entry.get("number")
        sel_line = entry.lines.get("number", where)
        if selector is None:
            self.err(file, where, 'numbers entry has no number: write an E.164 number "+13135550100" or a prefix "+1313555*"')
            return
        if isinstance(selector, int):
            self.err(file, sel_line, f'number {selector} must be a quoted string: number: "+{selector}" (YAML reads unquoted digits as an integer)')
            return
        if not isinstance(selector, str):
            self.err(file, sel_line, "number must be a string")
            return
        exact = not selector.endswith("*")
        if exact:
            try:
                check_e164(selector)
            except ValueError as exc:
                self.err(file, sel_line, f"number: {exc}")
                return
        elif not _PREFIX.match(selector):
            self.err(file, sel_line, f'number {selector!r}: a prefix pattern is "+" then digits then one "*", e.g. "+1313555*"')
            return

        profile_name = entry.get("profile")
        inline = entry.get("settings")
        if profile_name is None and inline is None:
            self.err(file, where, f"numbers entry {selector}: give a profile, settings, or both")
            return
        merged: Settings = {}
        if profile_name is not None:
            profile = self.profile_nodes.get(profile_name) if isinstance(profile_name, str) else None
            if profile is None:
                self.err(file, entry.lines["profile"], _unknown("profile", profile_name, list(self.profile_nodes)))
                bad = True
            else:
                self.used_profiles.add(profile.name)
                flat = self._settings(profile.file, profile.node, carrier, f"profile {profile.name!r} (used by {account_name})")
                if flat is None:
                    bad = True
                else:
                    merged.update(flat)
        if inline is not None:
            if not isinstance(inline, LDict):
                self.err(file, entry.lines["settings"], "settings must be a mapping")
                return
            flat = self._settings(file, inline, carrier, f"settings of {selector}")
            if flat is None:
                bad = True
            else:
                merged.update(flat)
        if bad:
            return

        source = f"{file}:{where}"
        if exact:
            prev_exact = self.exact_seen.get((account_name, selector))
            if prev_exact is not None:
                self.err(file, sel_line, f"number {selector} is declared twice for {account_name} (also at {prev_exact}); merge the two entries")
                return
            self.exact_seen[(account_name, selector)] = source
        key = (account_name, selector)
        rule = self.rules.get(key)
        if rule is None:
            rule = self.rules[key] = Rule(account_name, selector, exact, {}, [])
        for path, value in merged.items():
            if path in rule.settings and rule.settings[path] != value:
                self.err(
                    file,
                    where,
                    f"{selector} ({account_name}): field {path} is set to {value!r} here and to "
                    f"{rule.settings[path]!r} at {rule.field_sources[path]}; entries with the same "
                    "selector have equal precedence, so make them agree or merge them",
                )
                continue
            rule.settings[path] = value
            rule.field_sources[path] = source
        rule.sources.append(source)

    def _settings(self, file: str, node: LDict, carrier: str, what: str) -> Settings | None:
        model = SETTINGS_MODELS[carrier]
        try:
            parsed = model.model_validate(dict(node))
        except ValidationError as exc:
            self._pydantic(file, node, exc, what, model, carrier=carrier)
            return None
        return flatten(parsed)

    def _pydantic(
        self,
        file: str,
        node: LDict,
        exc: ValidationError,
        what: str,
        model: type[BaseModel],
        carrier: str | None = None,
    ) -> None:
        seen: set[tuple[int | None, str]] = set()
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = line_of(node, loc)
            key = error["msg"].removeprefix("Value error, ").split(":", 1)[0]
            target = _node_at(node, loc)
            if isinstance(target, LDict) and key in target.lines:
                line = target.lines[key]  # a model-level check that names its key
            path = ".".join(str(p) for p in loc)
            msg = error["msg"].removeprefix("Value error, ")
            etype = error["type"]
            if etype == "extra_forbidden":
                known = _fields_at(model, loc[:-1])
                noun = f"{carrier} setting" if carrier else "key"
                msg = _unknown(noun, loc[-1], known)
                path = ".".join(str(p) for p in loc[:-1])
            elif etype == "string_type" and isinstance(error.get("input"), int):
                msg = f"expected a string, got the number {error['input']}; quote it (YAML reads unquoted digits as an integer)"
            elif etype == "missing":
                msg = f"missing required key {loc[-1]!r}"
                path = ".".join(str(p) for p in loc[:-1])
            text = f"{what}: {path}: {msg}" if path else f"{what}: {msg}"
            if (line, text) not in seen:
                seen.add((line, text))
                self.err(file, line, text)

    def finish(self, files: tuple[str, ...]) -> DesiredState:
        for name, profile in self.profile_nodes.items():
            if name not in self.used_profiles:
                # An unused profile is still checked so typos surface early: it must be valid for
                # some carrier; if it is valid for none, report it against the closer one.
                counts = {c: self._error_count(profile.node, c) for c in CARRIERS}
                if min(counts.values()):
                    closest = min(CARRIERS, key=lambda c: counts[c])
                    self._settings(profile.file, profile.node, closest, f"profile {name!r} (unused)")
        rules: dict[str, list[Rule]] = {}
        for (account, _), rule in self.rules.items():
            rules.setdefault(account, []).append(rule)
        return DesiredState(self.accounts, rules, files)

    @staticmethod
    def _error_count(node: LDict, carrier: str) -> int:
        try:
            SETTINGS_MODELS[carrier].model_validate(dict(node))
        except ValidationError as exc:
            return exc.error_count()
        return 0


def _node_at(node: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(node, LDict | LList):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        else:
            return None
    return node


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    from .models import _submodel

    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            if isinstance(part, int):
                continue
            return []
        current = _submodel(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def _unknown(noun: str, key: Any, known: Any) -> str:
    known = [str(k) for k in known]
    hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if hint:
        return f"unknown {noun} {key!r}; did you mean {hint[0]!r}?"
    if known:
        return f"unknown {noun} {key!r}; expected one of: {', '.join(known)}"
    return f"unknown {noun} {key!r}"


def _is_env_ref(value: str) -> bool:
    return bool(_ENV.fullmatch(value.strip()))


def _expand(value: str, env: dict[str, str]) -> tuple[str, list[str]]:
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

    return _ENV.sub(sub, value), unset
