"""Markdown layout: blocks (text chunks, tables, collapsible sections) and their split into
parts of at most N characters.

A part never ends inside a table row; a table continued on the next part repeats its title and
header, and an open ``<details>`` is closed at the end of a part and reopened "(continued)" on
the next. The document builders live in ``markdown``; this module knows nothing of plans.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field


@dataclass
class Chunk:
    text: str


@dataclass
class Table:
    title: str
    header: str
    rows: list[str]


@dataclass
class Details:
    summary: str
    blocks: list[Chunk | Table] = field(default_factory=list)

    def opener(self, continued: bool = False) -> str:
        tail = " (continued)" if continued else ""
        return f"<details><summary>{self.summary}{tail}</summary>\n\n"


CLOSE = "\n</details>\n\n"  # the blank line ends a table before the closing tag
Block = Chunk | Table | Details


def part_marker(marker: str, i: int, n: int) -> str:
    """``<!-- reconciler-plan -->`` → ``<!-- reconciler-plan part 2/3 -->``."""
    m = re.fullmatch(r"<!--\s*(.*?)\s*-->", marker.strip())
    return f"<!-- {m.group(1)} part {i}/{n} -->" if m else f"{marker} part {i}/{n}"


# --------------------------------------------------------------------------------------------
# Cells


def esc(text: str) -> str:
    """Text for a table cell or a line: no HTML, no cell break, no line break."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    """A value as inline code (pipes escaped: GitHub tables split on them even inside code)."""
    text = text.replace("|", "\\|").replace("\n", " ")
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |\n"


def header(*names: str, right: tuple[str, ...] = ()) -> str:
    """Header and separator; the columns named in ``right`` are right-aligned (figures)."""
    seps = ["--:" if n in right else "---" for n in names]
    return row(*names) + "|" + "|".join(seps) + "|\n"


# --------------------------------------------------------------------------------------------
# Layout


def head(marker: str, what: str, i: int, n: int) -> str:
    visible = f"**reconciler {what} (part {i}/{n})**\n\n" if n > 1 else ""
    return f"{marker}\n{part_marker(marker, i, n)}\n\n{visible}"


def whole(block: Block) -> str:
    if isinstance(block, Chunk):
        return block.text
    if isinstance(block, Table):
        return f"#### {block.title}\n\n{block.header}{''.join(block.rows)}\n"
    return block.opener() + "".join(whole(b) for b in block.blocks) + CLOSE


class _Parts:
    """Greedy layout of atomic pieces into parts of at most ``budget`` characters."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.parts: list[list[str]] = [[]]
        self.size = 0
        self.fresh = True  # nothing but carried-over context in the current part
        self.pending = ""  # context to write before the next piece (a details opener)
        self.details: Details | None = None
        self.opened = False  # the current details' opener is written in this part

    def piece(self, text: str, again: str = "") -> None:
        """Place ``text`` whole; on a new part, ``again`` (a table's title and header) first."""
        closer = len(CLOSE) if self.details else 0
        s = self.pending + text
        if self.size + len(s) + closer > self.budget and not self.fresh:
            self.new_part()
            s = self.pending + again + text
        if self.size + len(s) + closer > self.budget:
            raise ValueError(
                f"max_chars is too small: a part needs {self.size + len(s) + closer} characters "
                f"for one row with its context (budget {self.budget})"
            )
        self.parts[-1].append(s)
        self.size += len(s)
        self.fresh = False
        if self.pending and self.details:
            self.opened = True
        self.pending = ""

    def new_part(self) -> None:
        if self.details and self.opened:
            self.parts[-1].append(CLOSE)
        continued = self.opened
        self.parts.append([])
        self.size = 0
        self.fresh = True
        self.opened = False
        self.pending = self.details.opener(continued) if self.details else ""

    def table(self, t: Table) -> None:
        title = f"#### {t.title}\n\n"
        again = f"#### {t.title} (continued)\n\n{t.header}"
        last = len(t.rows) - 1
        for i, row in enumerate(t.rows):
            end = "\n" if i == last else ""
            if i == 0:  # the title and header travel with the first row, never alone
                self.piece(title + t.header + row + end)
            else:
                self.piece(row + end, again)

    def open(self, d: Details) -> None:
        self.details, self.opened, self.pending = d, False, d.opener()

    def close(self) -> None:
        if self.opened:
            self.parts[-1].append(CLOSE)
            self.size += len(CLOSE)
        self.details, self.opened, self.pending = None, False, ""


def split(blocks: list[Block], budget: int) -> list[str]:
    parts = _Parts(budget)
    for block in blocks:
        if isinstance(block, Details):
            parts.open(block)
            for inner in block.blocks:
                _place(parts, inner)
            parts.close()
        else:
            _place(parts, block)
    return ["".join(p) for p in parts.parts if p]


def _place(parts: _Parts, block: Chunk | Table) -> None:
    if isinstance(block, Chunk):
        parts.piece(block.text)
    else:
        parts.table(block)
