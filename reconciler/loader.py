"""YAML → ``DesiredState``. Every problem is reported with file:line and what to do, all at once.

A config path is a file or a directory of ``*.yaml``/``*.yml`` files (recursively, sorted). The
files are merged: ``providers`` and ``profiles`` are maps whose names must be unique across files;
``numbers`` lists are concatenated. Within an entry the inline ``settings`` override the
``profile`` field by field. Entries with the same selector are of equal precedence: they may be
split across files, but if two of them set one field to different values that is an error naming
both. Precedence between selectors is the desired-state model's (``reconciler.desired``).

Messages never carry a secret (API keys, expanded ``${VAR}`` values, carrier secret fields such as
Telnyx ``external_pin``) and never echo more than about 80 characters of a value.

Speed: YAML is parsed with libyaml when PyYAML has it (``reconciler.yamltree``); each distinct
settings mapping is validated once per load (entries that repeat a profile or an override share
the result), and each profile once per carrier.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import carriers
from .config import ProviderConfig
from .desired import Account, DesiredState, Rule
from .errors import ConfigError, ConfigIssue
from .gcpause import gc_paused
from .models import PlainE164, Settings, check_e164, flatten, mask
from .wording import SECRET, clipped, kind, line_of, pydantic_issues, quotable, unknown
from .yamltree import LDict, LList, YamlProblem, clip, parse, show

__all__ = ["DesiredState", "config_files", "load"]

TOP_LEVEL = ("providers", "profiles", "numbers")
ENTRY_KEYS = ("provider", "number", "profile", "settings")
_ENTRY_KEY_SET = frozenset(ENTRY_KEYS)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PREFIX = re.compile(r"^\+[0-9]{1,15}\*$")
_MAX_MESSAGE = 1_000


def config_files(path: str | Path) -> list[Path]:
    """The YAML files of a config path: the file itself, or a directory's ``*.yaml``/``*.yml``
    files, recursively and sorted, skipping dot-files and dot-directories below it (a repository
    root holds ``.github/workflows/*.yml`` and ``.pre-commit-config.yaml``, which are not
    config)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(_yaml_below(p))
        if not files:
            raise ConfigError(ConfigIssue(str(p), None, "no *.yaml files in this directory"))
        return files
    if p.exists():  # a FIFO or a device: reading it could block forever
        raise ConfigError(ConfigIssue(str(p), None, "not a regular file or a directory"))
    raise ConfigError(ConfigIssue(str(p), None, "no such file or directory"))


def _yaml_below(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # never walked into (.git is big)
        for name in names:
            if not name.startswith(".") and name.endswith((".yaml", ".yml")):
                file = Path(folder, name)
                if file.is_file():
                    yield file


def load(
    path: str | Path, env: dict[str, str] | None = None, *, libyaml: bool | None = None
) -> DesiredState:
    """Read, validate and merge the config at ``path``. Raises ConfigError with every issue.

    ``env`` replaces ``os.environ`` for ``${VAR}`` expansion. ``libyaml`` forces (True) or avoids
    (False) the libyaml parser; by default it is used when PyYAML has it.
    """
    env = dict(os.environ) if env is None else env
    issues: list[ConfigIssue] = []
    files = config_files(path)
    # A large config is millions of small objects and no cycles: the collector would only walk
    # them. The YAML trees are freed (by reference counting) before it comes back.
    with gc_paused():
        state = _build([str(f) for f in files], env, issues, libyaml)
    if issues:
        raise ConfigError(issues)
    return state


def _build(
    files: list[str], env: dict[str, str], issues: list[ConfigIssue], libyaml: bool | None
) -> DesiredState:
    docs = [(f, data) for f in files if (data := _read(f, issues, libyaml)) is not None]
    builder = _Builder(issues, env)
    builder.partial = len(docs) < len(files)  # a file did not parse: skip cross-file checks
    for name, data in docs:
        builder.providers(name, data.get("providers"), data.lines.get("providers"))
    for name, data in docs:
        builder.profiles(name, data.get("profiles"), data.lines.get("profiles"))
    for name, data in docs:
        builder.numbers(name, data.get("numbers"), data.lines.get("numbers"))
    return builder.finish(tuple(files))


def _read(name: str, issues: list[ConfigIssue], libyaml: bool | None) -> LDict | None:
    """One file's tree, or None (problems appended; an empty file is an empty mapping)."""
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        issues.append(ConfigIssue(name, None, f"cannot read the file: {exc.strerror or exc}"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        issues.append(
            ConfigIssue(
                name, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
            )
        )
        return None
    try:
        data = parse(text, libyaml=libyaml)
    except YamlProblem as exc:
        issues.append(ConfigIssue(name, exc.line, f"invalid YAML: {exc.message}"))
        return None
    if not isinstance(data, LDict):
        if data is not None:
            issues.append(
                ConfigIssue(name, 1, "the file must be a mapping with providers/profiles/numbers")
            )
        data = LDict()
        data.line, data.lines = 0, {}
    for key in data:
        if key not in TOP_LEVEL:
            issues.append(
                ConfigIssue(name, data.lines[key], unknown("top-level key", key, TOP_LEVEL))
            )
    return data


@dataclass
class _Profile:
    """A declared profile, validated lazily per carrier that uses it."""

    name: str
    file: str
    line: int
    node: LDict


class _Env(dict[str, str]):
    """The environment, remembering every value read: messages never show one."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        value = super().__getitem__(name)
        if len(value) >= 8:  # shorter values are common words ("true", "wavix"): not masked
            self.read.add(value)
        return value


class _Builder:
    """Collects accounts, profiles and rules from the trees, reporting problems into ``issues``.

    Sections are read in order across all files (providers, then profiles, then numbers) so an
    entry may name an account or profile declared in any file.
    """

    def __init__(self, issues: list[ConfigIssue], env: dict[str, str]) -> None:
        self.issues = issues
        self.unset_secrets: list[ConfigIssue] = []
        self.env = _Env(env)
        self.accounts: dict[str, Account] = {}
        self.account_lines: dict[str, str] = {}
        self.profile_nodes: dict[str, _Profile] = {}
        self.used_profiles: set[str] = set()
        self.rules: dict[tuple[str, str], Rule] = {}
        # (id of profile flat, id of inline flat) → (both, merged): entries that merge the same
        # validated settings share one dict (kept alive here, so an id is never reused).
        self.merged: dict[tuple[int, int], tuple[Any, Any, Settings]] = {}
        self.partial = False
        # Within one load: (carrier, content) → flat settings or the validation error; and
        # (profile, carrier) → flat settings or None (its errors are reported once).
        self.validated: dict[tuple[str, str], Settings | ValidationError] = {}
        self.profile_flat: dict[tuple[str, str], Settings | None] = {}
        self.plain_e164 = PlainE164()
        self.secret_fields: dict[str, tuple[str, ...]] = {}

    def err(self, file: str, line: int | None, message: str) -> None:
        for value in self.env.read:
            message = message.replace(value, SECRET)
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        self.issues.append(ConfigIssue(file, line, message))

    def bad_name(self, file: str, node: LDict, name: Any, what: str) -> bool:
        """Report a name (account, profile) YAML did not read as a string."""
        if isinstance(name, str):
            return False
        text = clip(node.texts.get(name, str(name)), 80)
        self.err(
            file,
            node.lines[name],
            f"{what} name {text} is read by YAML as {kind(name)}; quote it: '{text}':",
        )
        return True

    # ---- providers
    def providers(self, file: str, node: Any, line: int | None) -> None:
        if node is None:
            return
        if not isinstance(node, LDict):
            self.err(file, line, "providers must be a mapping of account name → settings")
            return
        for name, body in node.items():
            where = node.lines[name]
            if self.bad_name(file, node, name, "provider account"):
                continue
            if name in self.account_lines:
                self.err(
                    file,
                    where,
                    f"provider account {name!r} is declared twice "
                    f"(also at {self.account_lines[name]})",
                )
                continue
            self.account_lines[name] = f"{file}:{where}"
            if not isinstance(body, LDict):
                self.err(
                    file, where, f"providers.{name} must be a mapping (type: wavix|telnyx, ...)"
                )
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
            kind = values.get("type")
            model = (
                carriers.get(kind).config_model
                if isinstance(kind, str) and kind in carriers.registry()
                else ProviderConfig
            )
            try:
                config = model.model_validate(values)
            except ValidationError as exc:
                self._pydantic(file, body, exc, f"providers.{name}", model)
                continue
            carrier = config.carrier
            if config.max_ids_per_call and config.max_ids_per_call > carrier.hard_max_batch:
                self.err(
                    file,
                    body.lines.get("max_ids_per_call", where),
                    f"providers.{name}.max_ids_per_call: {config.type} allows at most "
                    f"{carrier.hard_max_batch} numbers per bulk call",
                )
                continue
            if isinstance(body.get("api_key"), str):  # a ${VAR} reference (a literal is refused)
                config = config.naming_key(
                    ", ".join(m.group(1) for m in _ENV.finditer(body["api_key"])) or None
                )
            if "api_key" not in body and not config.sandbox:
                self.err(
                    file,
                    where,
                    f"providers.{name}: no api_key; add api_key: ${{{carrier.key_env}}} and "
                    f"export {carrier.key_env} (or set sandbox: true to use the simulator)",
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
            if self.bad_name(file, node, name, "profile"):
                continue
            if name in self.profile_nodes:
                prev = self.profile_nodes[name]
                self.err(
                    file,
                    where,
                    f"profile {show(name)} is declared twice (also at {prev.file}:{prev.line})",
                )
                continue
            if not isinstance(body, LDict):
                self.err(file, where, f"profiles.{clip(name, 80)} must be a mapping of settings")
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
            node[index] = None  # the entry's tree is freed once read: a large file never holds both
            if not isinstance(entry, LDict):
                self.err(
                    file,
                    where,
                    "a numbers entry must be a mapping with provider, number, profile/settings",
                )
                continue
            self._entry(file, where, entry)

    def _entry(self, file: str, where: int, entry: LDict) -> None:
        """One ``numbers`` item: check it, resolve its settings, merge it into its rule."""
        if not self._known_keys(file, entry):
            return  # a misspelt key; "missing number/provider" would only repeat it
        account = self._account(file, where, entry)
        if account is None:
            return
        target = self._selector(file, where, entry)
        if target is None:
            return
        settings = self._entry_settings(file, where, entry, account, target[0])
        if settings is not None:
            self._add_rule(file, where, account.name, target, settings)

    def _known_keys(self, file: str, entry: LDict) -> bool:
        if entry.keys() <= _ENTRY_KEY_SET:  # the usual case, without a Python loop
            return True
        strays = [key for key in entry if key not in _ENTRY_KEY_SET]
        for key in strays:
            self.err(file, entry.lines[key], unknown("key in a numbers entry", key, ENTRY_KEYS))
        return not strays

    def _reference(self, file: str, where: int, entry: LDict, key: str, what: str) -> str | None:
        """The name an entry gives under ``key`` (provider, profile), or None (reported)."""
        value = entry.get(key)
        if isinstance(value, str):
            return value
        if key not in entry:
            self.err(file, where, f"numbers entry has no {key}: name one of the {what}")
        else:
            self.err(
                file,
                entry.lines[key],
                f"{key} must be the name of one of the {what}, "
                f"not {kind(value)}" + ("; quote it" if quotable(value) else ""),
            )
        return None

    def _account(self, file: str, where: int, entry: LDict) -> Account | None:
        name = self._reference(file, where, entry, "provider", "accounts under providers")
        if name is None or name in self.accounts:
            return None if name is None else self.accounts[name]
        if name not in self.account_lines and not self.partial:  # else: reported already
            self.err(
                file,
                entry.lines["provider"],
                unknown("provider account", name, list(self.account_lines)),
            )
        return None

    def _selector(self, file: str, where: int, entry: LDict) -> tuple[str, bool, int] | None:
        """(selector, exact, line) of an entry's ``number``, or None (reported)."""
        selector = entry.get("number")
        line = entry.lines.get("number", where)
        if selector is None:
            self.err(
                file,
                where,
                "numbers entry has no number: write an E.164 number "
                '"+13135550100" or a prefix "+1313555*"',
            )
        elif isinstance(selector, int) and not isinstance(selector, bool):
            self.err(
                file,
                line,
                f'number {show(selector)} must be a quoted string: number: "+{show(selector)}" '
                "(YAML reads unquoted digits as an integer)",
            )
        elif not isinstance(selector, str):
            self.err(
                file,
                line,
                f'number must be a quoted string like "+13135550100", not {kind(selector)}',
            )
        elif not selector.endswith("*"):
            if self.plain_e164.valid(selector):
                return selector, True, line
            try:
                check_e164(selector)
            except ValueError as exc:
                self.err(file, line, f"number: {clipped(str(exc), selector)}")
            else:
                return selector, True, line
        elif _PREFIX.match(selector):
            return selector, False, line
        else:
            self.err(
                file,
                line,
                f'number {show(selector)}: a prefix pattern is "+" then digits then one "*", '
                'e.g. "+1313555*"',
            )
        return None

    def _entry_settings(
        self, file: str, where: int, entry: LDict, account: Account, selector: str
    ) -> Settings | None:
        """The profile's flat settings overridden by the inline ones, or None (reported)."""
        profile_given, inline = "profile" in entry, entry.get("settings")
        if not profile_given and inline is None:
            self.err(file, where, f"numbers entry {selector}: give a profile, settings, or both")
            return None
        carrier = account.config.type
        profile_flat = inline_flat = None
        ok = True
        if profile_given:
            profile_flat = self._profile(file, where, entry, account)
            ok = profile_flat is not None
        if inline is not None:
            if not isinstance(inline, LDict):
                self.err(
                    file,
                    entry.lines["settings"],
                    f"settings must be a mapping, not {kind(inline)}",
                )
                return None
            flat = self._settings(file, inline, carrier, f"settings of {selector}")
            ok = ok and flat is not None
            inline_flat = flat
        if not ok:
            return None
        key = (id(profile_flat), id(inline_flat))
        shared = self.merged.get(key)
        if shared is None:
            merged = {**(profile_flat or {}), **(inline_flat or {})}
            shared = self.merged[key] = (profile_flat, inline_flat, merged)
        return shared[2]

    def _profile(self, file: str, where: int, entry: LDict, account: Account) -> Settings | None:
        name = self._reference(file, where, entry, "profile", "profiles")
        if name is None:
            return None
        profile = self.profile_nodes.get(name)
        if profile is None:
            self.err(
                file, entry.lines["profile"], unknown("profile", name, list(self.profile_nodes))
            )
            return None
        self.used_profiles.add(name)
        carrier = account.config.type
        key = (name, carrier)
        if key not in self.profile_flat:  # validated (and its errors reported) once per carrier
            what = f"profile {show(name)} (used by {account.name})"
            self.profile_flat[key] = self._settings(profile.file, profile.node, carrier, what)
        return self.profile_flat[key]

    def _add_rule(
        self,
        file: str,
        where: int,
        account: str,
        target: tuple[str, bool, int],
        settings: Settings,
    ) -> None:
        """Merge an entry into the rule of its selector; equal-precedence conflicts are errors."""
        selector, exact, line = target
        source = f"{file}:{where}"
        rule = self.rules.get((account, selector))
        if rule is None:  # the usual case: nothing to merge with
            self.rules[(account, selector)] = Rule(account, selector, exact, settings, [source])
            return
        if exact:  # an exact selector's rule comes from one exact entry only
            self.err(
                file,
                line,
                f"number {selector} is declared twice for {account} "
                f"(also at {rule.sources[0]}); merge the two entries",
            )
            return
        carrier = self.accounts[account].config.type
        rule.settings = dict(rule.settings)  # it may be shared with other rules: copy, then merge
        rule.field_sources = {path: rule.source_of(path) for path in rule.settings}
        for path, value in settings.items():
            if path in rule.settings and rule.settings[path] != value:
                here, there = (show(mask(carrier, path, v)) for v in (value, rule.settings[path]))
                self.err(
                    file,
                    where,
                    f"{selector} ({account}): field {path} is set to {here} here and to "
                    f"{there} at {rule.source_of(path)}; entries with the same "
                    "selector have equal precedence, so make them agree or merge them",
                )
                continue
            rule.settings[path] = value
            rule.field_sources[path] = source
        rule.sources.append(source)

    # ---- settings validation
    def _validate(self, node: LDict, carrier: str) -> Settings | ValidationError:
        """Flat settings of a mapping, or its error; each distinct mapping is validated once."""
        key = (carrier, repr(node))
        done = self.validated.get(key)
        if done is None:
            try:
                done = flatten(carriers.get(carrier).settings_model.model_validate(node))
            except ValidationError as exc:
                done = exc
            self.validated[key] = done
        return done

    def _settings(self, file: str, node: LDict, carrier: str, what: str) -> Settings | None:
        done = self._validate(node, carrier)
        if isinstance(done, ValidationError):
            self._pydantic(
                file, node, done, what, carriers.get(carrier).settings_model, carrier=carrier
            )
            return None
        return self._secret_refs(file, node, carrier, what, done)

    def _secret_refs(
        self, file: str, node: LDict, carrier: str, what: str, flat: Settings
    ) -> Settings | None:
        """A secret field (e.g. Telnyx ``external_pin``) may be written ``${VAR}``: the value
        comes from the environment, so the YAML (and an export) never holds it."""
        secret_fields = self.secret_fields.get(carrier)
        if secret_fields is None:  # once per carrier: carriers.get imports on every call
            secret_fields = self.secret_fields[carrier] = tuple(carriers.get(carrier).secret_fields)
        refs = {
            path: value
            for path in secret_fields
            if isinstance(value := flat.get(path), str) and _ENV.fullmatch(value.strip())
        }
        if not refs:
            return flat
        out = dict(flat)
        for path, ref in refs.items():
            value, unset = _expand(ref.strip(), self.env)
            if unset or value == "":
                names = ", ".join(unset) or ref.strip()[2:-1].split(":-")[0]
                issue = ConfigIssue(
                    file,
                    line_of(node, tuple(path.split("."))),
                    f"{what}: {path} names {names}, which is not set or empty; export it "
                    "(secrets stay out of the YAML)",
                )
                if issue not in self.unset_secrets:
                    self.unset_secrets.append(issue)
                continue  # the reference stays as the value; nothing runs until it is set
            out[path] = value
        return out

    def _pydantic(
        self,
        file: str,
        node: LDict,
        exc: ValidationError,
        what: str,
        model: type[BaseModel],
        carrier: str | None = None,
    ) -> None:
        for line, text in pydantic_issues(node, exc, what, model, carrier):
            self.err(file, line, text)

    def finish(self, files: tuple[str, ...]) -> DesiredState:
        for name, profile in self.profile_nodes.items():
            if name not in self.used_profiles:
                # An unused profile is still checked so typos surface early: it must be valid for
                # some carrier; if it is valid for none, report it against the closer one.
                counts = {c: self._error_count(profile.node, c) for c in carriers.names()}
                if counts and min(counts.values()):
                    closest = min(counts, key=lambda c: counts[c])
                    self._settings(
                        profile.file, profile.node, closest, f"profile {show(name)} (unused)"
                    )
        rules: dict[str, list[Rule]] = {}
        for (account, _), rule in self.rules.items():
            rules.setdefault(account, []).append(rule)
        return DesiredState(self.accounts, rules, files, tuple(self.unset_secrets))

    def _error_count(self, node: LDict, carrier: str) -> int:
        done = self._validate(node, carrier)
        return done.error_count() if isinstance(done, ValidationError) else 0


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
