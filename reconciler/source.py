"""Provenance: where a piece of the configuration was declared, as one value.

The loader records every account and entry with the ``file:line`` it came from (the text
``str(Source)`` gives, which messages quote). Whoever needs the parts takes them from a
``Source`` (``Source.parse``), never by splitting the text again.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigIssue


@dataclass(frozen=True, slots=True)
class Source:
    """A config file and a 1-based line in it (None: the file as a whole)."""

    file: str
    line: int | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        """``file:line`` (or a bare file) → Source; a path may hold colons, the line is last."""
        file, colon, line = text.rpartition(":")
        if colon and line.isdigit():
            return cls(file, int(line))
        return cls(text)

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def issue(self, message: str) -> ConfigIssue:
        """A config problem at this place."""
        return ConfigIssue(self.file, self.line, message)
