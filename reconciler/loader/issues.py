"""Where the loader's problems go: one list of ``ConfigIssue``, scrubbed of secrets and bounded.

Messages never carry a secret (an expanded ``${VAR}`` value the environment gave the config) and
never run past ``MAX_MESSAGE`` characters; a name YAML read as something other than a string is
reported with the text the user wrote.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigIssue
from ..wording import SECRET, kind, pydantic_issues
from ..yamltree import LDict, clip

MAX_MESSAGE = 1_000


class Env(dict[str, str]):
    """The environment for ``${VAR}`` expansion, remembering every value read: messages never
    show one."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        value = super().__getitem__(name)
        if len(value) >= 8:  # shorter values are common words ("true", "wavix"): not masked
            self.read.add(value)
        return value


class Issues:
    """The problems of one load, in the order found (``issues``), and the ``${VAR}`` secret
    settings whose variable is unset (``unset_secrets``: not an error offline)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.issues: list[ConfigIssue] = []
        self.unset_secrets: list[ConfigIssue] = []

    def add(self, issue: ConfigIssue) -> None:
        """A problem found before any value was expanded (reading and parsing files)."""
        self.issues.append(issue)

    def err(self, file: str, line: int | None, message: str) -> None:
        for value in self.env.read:
            message = message.replace(value, SECRET)
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        self.issues.append(ConfigIssue(file, line, message))

    def unset_secret(self, issue: ConfigIssue) -> None:
        if issue not in self.unset_secrets:
            self.unset_secrets.append(issue)

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

    def pydantic(
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

    def __bool__(self) -> bool:
        return bool(self.issues)
