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
    canonical and may be shared with other rules (never mutate it in place); ``field_sources``
    says which ``file:line`` set each field when entries were merged, and is empty when every
    field came from ``sources[0]`` (one entry: no dict per rule for 100k exact entries).
    """

    account: str
    selector: str
    exact: bool
    settings: Settings
    sources: list[str] = field(default_factory=list)
    field_sources: dict[str, str] = field(default_factory=dict)

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

    def resolver(self, account: str) -> Resolver:
        return Resolver(self.rules.get(account, []))


class Resolver:
    """Desired settings of one live number: the merge of every rule that selects it.

    Numbers selected by rules with the same settings share one merged dict (the cache is keyed
    by the rules' settings objects, which the loader shares between equal entries), so a million
    numbers under a handful of profiles, or 100k exact entries with 100 distinct overrides, cost
    a few hundred dicts.
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.exact = {r.selector: r for r in rules if r.exact}
        self.prefixes = {r.selector[:-1]: r for r in rules if not r.exact}
        self.lengths = sorted({len(p) for p in self.prefixes})
        self._cache: dict[tuple[int, ...], Settings] = {}

    def desired(self, e164: str) -> Settings | None:
        """The merged settings of ``e164``, or None when no rule selects it (unmanaged)."""
        prefixes = self.prefixes
        matched: list[Rule] = [
            rule for n in self.lengths if (rule := prefixes.get(e164[:n])) is not None
        ]
        exact = self.exact.get(e164)
        if exact is not None:
            matched.append(exact)
        if not matched:
            return None
        key = tuple([id(r.settings) for r in matched])  # the rules keep these alive
        merged = self._cache.get(key)
        if merged is None:
            merged = {}
            for rule in matched:  # shorter prefix → longer prefix → exact
                merged.update(rule.settings)
            self._cache[key] = merged
        return merged
