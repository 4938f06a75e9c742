"""``profiles:`` and ``numbers:`` → rules: what each entry selects and the settings it declares.

Within an entry the inline ``settings`` override the ``profile`` field by field. Entries with the
same selector are of equal precedence: they may be split across files, but if two of them set one
field to different values that is an error naming both. Precedence between selectors is the
desired-state model's (``reconciler.desired``).

Settings are handed out through one ``reconciler.intern.Pool`` per load (its docstring states the
identity contract): each distinct settings mapping is validated once per carrier (memoised by its
content, ``intern.node_key``), each profile once per carrier (by name), each profile + inline
pair merged once (by the pair's integer keys), and every rule holds its settings' key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .. import carriers
from ..carriers import mask
from ..desired import Account, Rule
from ..e164 import PlainE164, check_e164
from ..errors import ConfigIssue
from ..intern import Pool, Shared, node_key
from ..models import Settings, flatten
from ..wording import clipped, kind, line_of, quotable, unknown
from ..yamltree import LDict, LList, clip, show
from .accounts import ENV_REF, Accounts, expand
from .issues import Issues

ENTRY_KEYS = ("provider", "number", "profile", "settings")
_ENTRY_KEY_SET = frozenset(ENTRY_KEYS)
_PREFIX = re.compile(r"\+[0-9]{1,15}\*")


def is_prefix(selector: str) -> bool:
    """``+`` then 1-15 digits then one ``*``, the whole string (``$`` would also accept a
    trailing newline)."""
    return _PREFIX.fullmatch(selector) is not None


@dataclass
class _Profile:
    """A declared profile, validated lazily per carrier that uses it."""

    name: str
    file: str
    line: int
    node: LDict


class Entries:
    """Profiles and rules, read after every file's ``providers:`` (so an entry may name an
    account or profile declared in any file)."""

    def __init__(self, issues: Issues, accounts: Accounts, *, partial: bool) -> None:
        self.issues = issues
        self.accounts = accounts
        self.partial = partial  # a file did not parse: skip cross-file checks
        self.pool = Pool()
        self.profiles: dict[str, _Profile] = {}
        self.used_profiles: set[str] = set()
        self.rules: dict[tuple[str, str], Rule] = {}
        self.merged_rules: list[Rule] = []  # merged from several entries: keyed at the end
        # (carrier, content of a settings mapping) → shared flat settings or the error.
        self.validated: dict[tuple[str, str], Shared | ValidationError] = {}
        # (profile name, carrier) → shared flat settings, or None (its errors reported once).
        self.profile_flat: dict[tuple[str, str], Shared | None] = {}
        self.plain_e164 = PlainE164()
        self.secret_fields: dict[str, tuple[str, ...]] = {}

    # ---- profiles
    def profile_section(self, file: str, node: Any, line: int | None) -> None:
        if node is None:
            return
        if not isinstance(node, LDict):
            self.issues.err(file, line, "profiles must be a mapping of profile name → settings")
            return
        for name, body in node.items():
            where = node.lines[name]
            if self.issues.bad_name(file, node, name, "profile"):
                continue
            if name in self.profiles:
                prev = self.profiles[name]
                self.issues.err(
                    file,
                    where,
                    f"profile {show(name)} is declared twice (also at {prev.file}:{prev.line})",
                )
                continue
            if not isinstance(body, LDict):
                self.issues.err(
                    file, where, f"profiles.{clip(name, 80)} must be a mapping of settings"
                )
                continue
            self.profiles[name] = _Profile(name, file, where, body)

    # ---- numbers
    def number_section(self, file: str, node: Any, line: int | None) -> None:
        if node is None:
            return
        if not isinstance(node, LList):
            self.issues.err(
                file, line, "numbers must be a list of entries (- provider: ..., number: ...)"
            )
            return
        for index, entry in enumerate(node):
            where = node.lines[index]
            node[index] = None  # the entry's tree is freed once read: a large file never holds both
            if not isinstance(entry, LDict):
                self.issues.err(
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
            self.issues.err(
                file, entry.lines[key], unknown("key in a numbers entry", key, ENTRY_KEYS)
            )
        return not strays

    def _reference(self, file: str, where: int, entry: LDict, key: str, what: str) -> str | None:
        """The name an entry gives under ``key`` (provider, profile), or None (reported)."""
        value = entry.get(key)
        if isinstance(value, str):
            return value
        if key not in entry:
            self.issues.err(file, where, f"numbers entry has no {key}: name one of the {what}")
        else:
            self.issues.err(
                file,
                entry.lines[key],
                f"{key} must be the name of one of the {what}, "
                f"not {kind(value)}" + ("; quote it" if quotable(value) else ""),
            )
        return None

    def _account(self, file: str, where: int, entry: LDict) -> Account | None:
        name = self._reference(file, where, entry, "provider", "accounts under providers")
        accounts = self.accounts.accounts
        if name is None or name in accounts:
            return None if name is None else accounts[name]
        if name not in self.accounts.lines and not self.partial:  # else: reported already
            self.issues.err(
                file,
                entry.lines["provider"],
                unknown("provider account", name, list(self.accounts.lines)),
            )
        return None

    def _selector(self, file: str, where: int, entry: LDict) -> tuple[str, bool, int] | None:
        """(selector, exact, line) of an entry's ``number``, or None (reported)."""
        selector = entry.get("number")
        line = entry.lines.get("number", where)
        err = self.issues.err
        if selector is None:
            err(
                file,
                where,
                "numbers entry has no number: write an E.164 number "
                '"+13135550100" or a prefix "+1313555*"',
            )
        elif isinstance(selector, int) and not isinstance(selector, bool):
            err(
                file,
                line,
                f'number {show(selector)} must be a quoted string: number: "+{show(selector)}" '
                "(YAML reads unquoted digits as an integer)",
            )
        elif not isinstance(selector, str):
            err(
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
                err(file, line, f"number: {clipped(str(exc), selector)}")
            else:
                return selector, True, line
        elif is_prefix(selector):
            return selector, False, line
        else:
            err(
                file,
                line,
                f'number {show(selector)}: a prefix pattern is "+" then digits then one "*", '
                'e.g. "+1313555*"',
            )
        return None

    def _entry_settings(
        self, file: str, where: int, entry: LDict, account: Account, selector: str
    ) -> Shared | None:
        """The profile's flat settings overridden by the inline ones, or None (reported)."""
        profile_given, inline = "profile" in entry, entry.get("settings")
        if not profile_given and inline is None:
            self.issues.err(
                file, where, f"numbers entry {selector}: give a profile, settings, or both"
            )
            return None
        carrier = account.config.type
        profile_flat = inline_flat = None
        ok = True
        if profile_given:
            profile_flat = self._profile(file, where, entry, account)
            ok = profile_flat is not None
        if inline is not None:
            if not isinstance(inline, LDict):
                self.issues.err(
                    file,
                    entry.lines["settings"],
                    f"settings must be a mapping, not {kind(inline)}",
                )
                return None
            inline_flat = self._settings(file, inline, carrier, f"settings of {selector}")
            ok = ok and inline_flat is not None
        if not ok:
            return None
        if inline_flat is None:
            return profile_flat
        if profile_flat is None:
            return inline_flat
        return self.pool.share_built(
            (profile_flat.key, inline_flat.key),
            lambda: {**profile_flat.settings, **inline_flat.settings},
        )

    def _profile(self, file: str, where: int, entry: LDict, account: Account) -> Shared | None:
        name = self._reference(file, where, entry, "profile", "profiles")
        if name is None:
            return None
        profile = self.profiles.get(name)
        if profile is None:
            self.issues.err(
                file, entry.lines["profile"], unknown("profile", name, list(self.profiles))
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
        settings: Shared,
    ) -> None:
        """Merge an entry into the rule of its selector; equal-precedence conflicts are errors."""
        selector, exact, line = target
        source = f"{file}:{where}"
        rule = self.rules.get((account, selector))
        if rule is None:  # the usual case: nothing to merge with
            self.rules[(account, selector)] = Rule(
                account, selector, exact, settings.settings, [source], key=settings.key
            )
            return
        if exact:  # an exact selector's rule comes from one exact entry only
            self.issues.err(
                file,
                line,
                f"number {selector} is declared twice for {account} "
                f"(also at {rule.sources[0]}); merge the two entries",
            )
            return
        carrier = self.accounts.accounts[account].config.type
        if rule.key is not None:  # first merge: a copy of its own (the settings are shared)
            rule.settings, rule.key = dict(rule.settings), None
            rule.field_sources = {path: rule.source_of(path) for path in rule.settings}
            self.merged_rules.append(rule)
        for path, value in settings.settings.items():
            if path in rule.settings and rule.settings[path] != value:
                here, there = (show(mask(carrier, path, v)) for v in (value, rule.settings[path]))
                self.issues.err(
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
    def _validate(self, node: LDict, carrier: str) -> Shared | ValidationError:
        """Shared flat settings of a mapping, or its error; each distinct mapping is validated
        once per carrier."""
        key = (carrier, node_key(node))
        done = self.validated.get(key)
        if done is None:
            try:
                model = carriers.get(carrier).settings_model
                done = self.pool.share(flatten(model.model_validate(node), carriers.get(carrier)))
            except ValidationError as exc:
                done = exc
            self.validated[key] = done
        return done

    def _settings(self, file: str, node: LDict, carrier: str, what: str) -> Shared | None:
        done = self._validate(node, carrier)
        if isinstance(done, ValidationError):
            model = carriers.get(carrier).settings_model
            self.issues.pydantic(file, node, done, what, model, carrier=carrier)
            return None
        return self._secret_refs(file, node, carrier, what, done)

    def _secret_refs(
        self, file: str, node: LDict, carrier: str, what: str, flat: Shared
    ) -> Shared | None:
        """A secret field (e.g. Telnyx ``external_pin``) may be written ``${VAR}``: the value
        comes from the environment, so the YAML (and an export) never holds it."""
        secret_fields = self.secret_fields.get(carrier)
        if secret_fields is None:  # once per carrier, not per entry
            secret_fields = self.secret_fields[carrier] = tuple(carriers.get(carrier).secret_fields)
        refs = {
            path: value
            for path in secret_fields
            if isinstance(value := flat.settings.get(path), str)
            and ENV_REF.fullmatch(value.strip())
        }
        if not refs:
            return flat
        out = dict(flat.settings)
        for path, ref in refs.items():
            value, unset = expand(ref.strip(), self.issues.env)
            if unset or value == "":
                names = ", ".join(unset) or ref.strip()[2:-1].split(":-")[0]
                self.issues.unset_secret(
                    ConfigIssue(
                        file,
                        line_of(node, tuple(path.split("."))),
                        f"{what}: {path} names {names}, which is not set or empty; export it "
                        "(secrets stay out of the YAML)",
                    )
                )
                continue  # the reference stays as the value; nothing runs until it is set
            out[path] = value
        return self.pool.share(out)

    # ---- the end
    def unused_profiles(self) -> None:
        """An unused profile is still checked so typos surface early: it must be valid for some
        carrier; if it is valid for none, report it against the closer one."""
        for name, profile in self.profiles.items():
            if name in self.used_profiles:
                continue
            counts = {c: self._error_count(profile.node, c) for c in carriers.names()}
            if counts and min(counts.values()):
                closest = min(counts, key=lambda c: counts[c])
                self._settings(
                    profile.file, profile.node, closest, f"profile {show(name)} (unused)"
                )

    def by_account(self) -> dict[str, list[Rule]]:
        """The rules per account, in declaration order, each holding its settings' key."""
        for rule in self.merged_rules:  # merged into a copy: shared again, by content
            rule.key, rule.settings = self.pool.share(rule.settings)
        rules: dict[str, list[Rule]] = {}
        for (account, _), rule in self.rules.items():
            rules.setdefault(account, []).append(rule)
        return rules

    def _error_count(self, node: LDict, carrier: str) -> int:
        done = self._validate(node, carrier)
        return done.error_count() if isinstance(done, ValidationError) else 0


__all__ = ["ENTRY_KEYS", "Entries", "Settings", "is_prefix"]
