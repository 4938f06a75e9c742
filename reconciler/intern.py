"""Shared settings: equal settings are one object, with an integer key.

A config of a million numbers under a handful of profiles, or 100k exact entries with 100
distinct overrides, resolves to a few hundred distinct settings. Speed depends on handing each
distinct content out once: the loader, the desired-state resolver, the planner and the packer
then memoise per object instead of per number. This module is the one place that hands them out.

The contract (every module that relies on sharing refers here):

* Within one ``Pool``, two settings handed out have equal content (same keys, values of equal
  ``repr``: ``1``, ``1.0`` and ``True`` differ) if and only if they are the same object, and
  if and only if their ``Shared.key`` integers are equal. Keys are small integers (0, 1, ...),
  never ``id()``: a cache keyed by them is valid whatever the collector does.
* Lifetime: the pool keeps every object it handed out until the pool itself is dropped. The
  loader's pool lives for one ``load``; the rules of the ``DesiredState`` it returns hold their
  settings and keys (``Rule.key``), so a key stays valid as long as the state. A
  ``desired.Resolver`` has its own pool for the merged settings it hands out, which lives as
  long as the resolver; consumers that memoise by object (``planner``, ``packing``) hold the
  resolver's results for the length of a plan.
* Shared settings are never mutated: copy, change, and intern the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

Settings = dict[str, Any]


class Shared(NamedTuple):
    """A settings object handed out by a ``Pool`` and its integer key there."""

    key: int
    settings: Settings


def content_key(settings: Settings) -> str:
    """The content of flat settings as one string: field order does not matter, value types do
    (``repr`` tells ``1`` from ``True`` and ``1.0``, which ``==`` does not)."""
    return repr(sorted(settings.items()))


def node_key(node: Any) -> str:
    """The content of a YAML mapping as one string, for memoising its validation: as written
    (key order included, so two orderings are validated twice and give equal results)."""
    return repr(node)


class Pool:
    """Hands out one shared object per distinct settings content (module docstring)."""

    __slots__ = ("_by_content", "_items", "_memo")

    def __init__(self) -> None:
        self._by_content: dict[str, int] = {}
        self._items: list[Settings] = []
        self._memo: dict[Hashable, int] = {}

    def share(self, settings: Settings) -> Shared:
        """The shared object equal to ``settings`` (``settings`` itself when it is new)."""
        content = content_key(settings)
        key = self._by_content.get(content)
        if key is None:
            key = self._by_content[content] = len(self._items)
            self._items.append(settings)
        return Shared(key, self._items[key])

    def share_built(self, memo: Hashable, build: Callable[[], Settings]) -> Shared:
        """Like ``share(build())``, building once per ``memo``: an explicit key for one way of
        making settings (e.g. two shared keys merged), so the content is computed once per way,
        not once per use."""
        key = self._memo.get(memo)
        if key is None:
            key = self._memo[memo] = self.share(build()).key
        return Shared(key, self._items[key])

    def __len__(self) -> int:
        return len(self._items)
