"""YAML → ``DesiredState``. Every problem is reported with file:line and what to do, all at once.

A config path is a file or a directory of ``*.yaml``/``*.yml`` files (``files``). The files are
merged: ``providers`` and ``profiles`` are maps whose names must be unique across files;
``numbers`` lists are concatenated. Sections are read in order across all files (providers, then
profiles, then numbers) so an entry may name an account or profile declared in any file.

* ``files``: the config path's files, each parsed to a tree (``reconciler.yamltree``).
* ``accounts``: the ``providers:`` section, environment expansion, the key policy.
* ``entries``: ``profiles:`` and ``numbers:`` → rules (selectors, settings, equal precedence).
* ``issues``: where problems go, scrubbed of secrets.

Messages never carry a secret (API keys, expanded ``${VAR}`` values, carrier secret fields such as
Telnyx ``external_pin``) and never echo more than about 80 characters of a value. Loading is
offline: it never imports an HTTP client or a provider (``validate`` runs where no carrier is).

Speed: YAML is parsed with libyaml when PyYAML has it; settings are shared through
``reconciler.intern`` (each distinct settings mapping validated once per load, each profile once
per carrier).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..desired import DesiredState
from ..errors import ConfigError
from ..gcpause import gc_paused
from .accounts import Accounts
from .entries import ENTRY_KEYS, Entries
from .files import TOP_LEVEL, config_files, read_tree
from .issues import Env, Issues
from .merged import check_merged

__all__ = ["ENTRY_KEYS", "TOP_LEVEL", "DesiredState", "config_files", "load"]


def load(
    path: str | Path, env: dict[str, str] | None = None, *, libyaml: bool | None = None
) -> DesiredState:
    """Read, validate and merge the config at ``path``. Raises ConfigError with every issue.

    ``env`` replaces ``os.environ`` for ``${VAR}`` expansion. ``libyaml`` forces (True) or avoids
    (False) the libyaml parser; by default it is used when PyYAML has it.
    """
    issues = Issues(Env(dict(os.environ) if env is None else env))
    files = [str(f) for f in config_files(path)]
    # A large config is millions of small objects and no cycles: the collector would only walk
    # them. The YAML trees are freed (by reference counting) before it comes back.
    with gc_paused():
        state = _build(files, issues, libyaml)
    if issues:
        raise ConfigError(issues.issues)
    return state


def _build(files: list[str], issues: Issues, libyaml: bool | None) -> DesiredState:
    trees = [t for f in files if (t := read_tree(f, issues, libyaml)) is not None]
    accounts = Accounts(issues)
    for tree in trees:
        accounts.section(tree.file, tree.data.get("providers"), tree.data.lines.get("providers"))
    entries = Entries(issues, accounts, partial=len(trees) < len(files))
    for tree in trees:
        entries.profile_section(
            tree.file, tree.data.get("profiles"), tree.data.lines.get("profiles")
        )
    empty_numbers = tuple(t.file for t in trees if t.numbers_empty)  # before entries are freed
    for tree in trees:
        entries.number_section(tree.file, tree.data.get("numbers"), tree.data.lines.get("numbers"))
    entries.unused_profiles()
    rules = entries.by_account()
    check_merged(accounts.accounts, rules, issues)  # issue 17: rules on merged settings
    return DesiredState(
        accounts.accounts,
        rules,
        tuple(files),
        tuple(issues.unset_secrets),
        empty_files=tuple(t.file for t in trees if t.empty),
        empty_numbers=empty_numbers,
    )
