"""The files of a config path and their trees.

A config path is a file or a directory of ``*.yaml``/``*.yml`` files (recursively, sorted,
dot-files and dot-directories skipped). Each file becomes one ``LDict`` tree with its top-level
keys checked; an empty file is an empty mapping, and is recorded as empty for the rails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ConfigIssue
from ..wording import unknown
from ..yamltree import LDict, YamlProblem, parse
from .issues import Issues

TOP_LEVEL = ("providers", "profiles", "numbers")


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


@dataclass(frozen=True)
class Tree:
    """One file's tree; ``empty``: nothing but blanks and comments in it."""

    file: str
    data: LDict
    empty: bool = False

    @property
    def numbers_empty(self) -> bool:
        """``numbers:`` is there without entries (null or ``[]``)."""
        return "numbers" in self.data and not self.data["numbers"]


def read_tree(name: str, issues: Issues, libyaml: bool | None) -> Tree | None:
    """One file's tree, or None (problems added; an empty file is an empty mapping)."""
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        issues.add(ConfigIssue(name, None, f"cannot read the file: {exc.strerror or exc}"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        issues.add(
            ConfigIssue(
                name, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
            )
        )
        return None
    try:
        data = parse(text, libyaml=libyaml)
    except YamlProblem as exc:
        issues.add(ConfigIssue(name, exc.line, f"invalid YAML: {exc.message}"))
        return None
    empty = False
    if not isinstance(data, LDict):
        if data is not None:
            issues.add(
                ConfigIssue(name, 1, "the file must be a mapping with providers/profiles/numbers")
            )
        else:
            empty = not _has_content(text)  # "---" or "null" is not a truncated file
        data = LDict()
        data.line, data.lines = 0, {}
    for key in data:
        if key not in TOP_LEVEL:
            issues.add(ConfigIssue(name, data.lines[key], unknown("top-level key", key, TOP_LEVEL)))
    return Tree(name, data, empty)


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())
