"""The factoring's input and its unit of cost: an account's managed values as ids, and lines.

Values are *interned* per field: value id 0 means "cannot be written in YAML" (a null, or a value
the settings model rejects), so that number must leave the field unmanaged and no rule that
selects it may set the field (the loader has no way to unset a field). **Cost** is YAML lines,
counted as ``document`` writes them: a profile is 1 line + its settings; an entry is 2 lines
(provider, number) + 1 for ``profile:`` + 1 for ``settings:`` + the inline settings; a setting is
its value's lines plus one line per nested mapping header it opens (docs/export.md).
"""

from __future__ import annotations

from dataclasses import dataclass

UNSET = 0
"""Value id of a value that cannot be written in YAML (the field stays unmanaged there)."""
INF = 1 << 40
ENTRY = 2
"""Lines every entry has: ``- provider: …`` and ``number: …``."""


@dataclass
class Table:
    """The managed fields of one account as value ids.

    ``lines[f][v]``: YAML lines of value ``v`` of field ``f`` (index 0 unused); ``parents[f]``:
    bit mask of the nested mapping headers the field sits under (``voice:``, ...); ``numbers``:
    (e164, signature) sorted by e164, signature ``None`` for numbers no rule may select.
    """

    lines: list[list[int]]
    parents: list[int]
    numbers: list[tuple[str, tuple[int, ...] | None]]


def setting_lines(table: Table, values: dict[int, int]) -> int:
    """Lines of a settings block holding ``values`` (field → value id)."""
    total, mask = 0, 0
    for f, v in values.items():
        total += table.lines[f][v]
        mask |= table.parents[f]
    return total + mask.bit_count()
