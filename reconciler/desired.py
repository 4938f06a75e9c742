"""The desired state: what the YAML declares, as the planner reads it. No parsing here.

The loader (``reconciler.loader``) builds a ``DesiredState`` from YAML; the planner, the runner and
tests read it without importing the YAML machinery.

Precedence when several rules select one live number: exact number over longer prefix over
shorter prefix. Settings are merged field by field from the least to the most specific rule (the
loader has already merged, within one rule, the inline ``settings`` over the ``profile``, and the
entries that share a selector, which are of equal precedence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import ProviderConfig
from .errors import ConfigIssue
from .intern import Pool
from .models import Settings


@dataclass(frozen=True)
class Account:
    """One carrier account of the ``providers:`` section; ``source`` is its ``file:line``."""

    name: str
    config: ProviderConfig
    source: str
    missing_env: tuple[str, ...] = ()
    """Environment variables the account's config names that are unset (an error at plan time)."""


@dataclass(slots=True)
class Rule:
    """All entries of one account with the same selector, merged (equal precedence).

    ``selector`` is an E.164 number (``exact``) or a prefix ending in ``*``. ``settings`` is flat
    canonical and shared with the rules of equal settings, ``key`` its integer key
    (``reconciler.intern``; None for a rule built by hand: the resolver interns it);
    ``field_sources`` says which ``file:line`` set each field when entries were merged, and is
    empty when every field came from ``sources[0]`` (one entry: no dict per rule for 100k exact
    entries).
    """

    account: str
    selector: str
    exact: bool
    settings: Settings
    sources: list[str] = field(default_factory=list)
    field_sources: dict[str, str] = field(default_factory=dict)
    key: int | None = None

    def source_of(self, path: str) -> str:
        """The ``file:line`` that set ``path``."""
        return self.field_sources.get(path) or self.sources[0]


@dataclass(frozen=True)
class DesiredState:
    """Every account (by name), its rules, and the files they came from."""

    accounts: dict[str, Account]
    rules: dict[str, list[Rule]]
    files: tuple[str, ...]
    unset_secrets: tuple[ConfigIssue, ...] = ()
    """``${VAR}`` secret settings whose variable is unset: fine for ``validate`` (run where
    secrets are not), an error before anything reads or writes a carrier account."""
    empty_files: tuple[str, ...] = ()
    """Files with nothing but blanks and comments (a truncated file?), for ``rails``."""
    empty_numbers: tuple[str, ...] = ()
    """Files whose ``numbers:`` has no entries (a truncated list?), for ``rails``."""

    def __post_init__(self) -> None:
        if any(r.key is None for rules in self.rules.values() for r in rules):
            _intern(self.rules)  # rules built by hand (tests, benchmarks); the loader keys its own

    def resolver(self, account: str) -> Resolver:
        return Resolver(self.rules.get(account, []))


def _intern(rules: dict[str, list[Rule]]) -> None:
    """Key every rule's settings through one pool (``reconciler.intern``)."""
    pool = Pool()
    for account_rules in rules.values():
        for rule in account_rules:
            rule.key, rule.settings = pool.share(rule.settings)


class Resolver:
    """Desired settings of one live number: the merge of every rule that selects it.

    Merged settings are handed out through a ``reconciler.intern.Pool`` (its contract: equal
    settings are one object for the resolver's lifetime), cached per combination of the rules'
    settings keys, so a million numbers under a handful of profiles, or 100k exact entries with
    100 distinct overrides, cost a few hundred dicts.

    The prefix rules that select a number depend only on its first ``longest`` characters (the
    longest prefix's length), its *head*: ``desired`` looks the prefix rules up once per head
    (a few hundred heads per 100k numbers), then adds the number's exact rule if it has one.
    The head table is emptied when it reaches ``MAX_HEADS`` entries (bounded memory).
    """

    MAX_HEADS = 1 << 16

    def __init__(self, rules: list[Rule]) -> None:
        self.exact = {r.selector: r for r in rules if r.exact}
        self.prefixes = {r.selector[:-1]: r for r in rules if not r.exact}
        self.lengths = sorted({len(p) for p in self.prefixes})
        self.longest = self.lengths[-1] if self.lengths else 0
        self._pool = Pool()
        self._cache: dict[tuple[int | None, ...], Settings] = {}
        self._heads: dict[str, tuple[tuple[int | None, ...], list[Rule], Settings | None]] = {}

    def rules_of(self, e164: str) -> list[Rule]:
        """The rules that select ``e164``, least specific first: shorter prefix → longer
        prefix → exact."""
        matched = self.prefix_rules(e164)
        exact = self.exact.get(e164)
        if exact is not None:
            matched.append(exact)
        return matched

    def prefix_rules(self, e164: str) -> list[Rule]:
        """The prefix rules that select ``e164``, shorter prefix first."""
        prefixes = self.prefixes
        return [rule for n in self.lengths if (rule := prefixes.get(e164[:n])) is not None]

    def desired(self, e164: str) -> Settings | None:
        """The merged settings of ``e164``, or None when no rule selects it (unmanaged)."""
        head = e164[: self.longest]
        known = self._heads.get(head)
        if known is None:
            if len(self._heads) >= self.MAX_HEADS:
                self._heads.clear()
            matched = self.prefix_rules(head)
            known = self._heads[head] = (self._key(matched), matched, self._merge(matched))
        exact = self.exact.get(e164)
        if exact is None:
            return known[2]
        key = (*known[0], exact.key)
        merged = self._cache.get(key)
        if merged is None:
            merged = self._merge([*known[1], exact])
        return merged

    @staticmethod
    def _key(rules: list[Rule]) -> tuple[int | None, ...]:
        return tuple([r.key for r in rules])

    def _merge(self, rules: list[Rule]) -> Settings | None:
        """The shared merge of ``rules`` (least specific first), or None for no rule."""
        if not rules:
            return None
        key = self._key(rules)
        merged = self._cache.get(key)
        if merged is None:
            merged = {}
            for rule in rules:  # shorter prefix → longer prefix → exact
                merged.update(rule.settings)
            merged = self._cache[key] = self._pool.share(merged).settings
        return merged
