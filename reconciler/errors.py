"""The error tree. Every error a user can cause or meet is one of these; the CLI maps them to
a message and an exit code. Nothing here ever carries an API key.

    ReconcilerError                     exit 1
    ├── ConfigError                     bad YAML / settings / references (file:line), no API call
    │     (carries a list of ConfigIssue so one run reports every problem)
    ├── PlanError                       planning rules refuse the run
    │   ├── MissingNumbers              a declared exact number the account does not have
    │   ├── PlanFileError               a saved plan that cannot be trusted: another format
    │   │                               version, edited or corrupted, or its config changed
    │   └── Refused                     exit 3: refused, nothing sent
    │       ├── RailError               a safety rail (rails.py): too many changes, routing
    │       │                           changes, an empty config; --force or a higher limit
    │       └── StalePlan               numbers of a saved plan moved since it was made
    ├── ProviderError                   a carrier call failed; message names account, method, path
    │   ├── AuthError                   401: bad or missing key
    │   ├── PermissionError_            403: the key lacks a scope (e.g. numbers:write)
    │   ├── NotFoundError               404: unknown id / resource
    │   ├── InvalidRequestError         400/422: the carrier rejected the request
    │   ├── RateLimitError              429
    │   ├── ServerError                 5xx
    │   ├── TransportError              no response (connection refused, timeout)
    │   └── CarrierDataError            a 2xx answer that cannot be used (absurd paging, an
    │                                   item without an id): "carrier data: …", never guessed
    ├── ApplyError                      apply stopped (exit 1); a partial apply is exit 4
    └── Aborted                         the user did not type "yes"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One validation problem: where (file:line) and what to do."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class ReconcilerError(Exception):
    exit_code = 1


class ConfigError(ReconcilerError):
    def __init__(self, issues: list[ConfigIssue] | ConfigIssue | str) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue("<config>", None, issues)]
        elif isinstance(issues, ConfigIssue):
            issues = [issues]
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class PlanError(ReconcilerError):
    pass


class MissingNumbers(PlanError):
    """Exact numbers the YAML declares that the account does not have: (account, e164) pairs."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        self.missing = list(missing)
        listed = ", ".join(f"{e} ({a})" for a, e in self.missing)
        super().__init__(
            f"declared numbers not in the account: {listed}. The tool never buys numbers: "
            "remove them from the YAML or order them first."
        )


class PlanFileError(PlanError):
    """A saved plan that is not applied: unreadable, another format, edited, or stale config."""


class Refused(PlanError):
    """The run was refused by a planning rule; nothing was sent (exit 3)."""

    exit_code = 3


class RailError(Refused):
    """A safety rail tripped. ``rail`` names it; ``account`` is the account it tripped on."""

    def __init__(self, message: str, *, rail: str, account: str = "") -> None:
        self.rail, self.account = rail, account
        super().__init__(message)


class StalePlan(Refused):
    """Numbers of a saved plan changed since it was made; ``moved`` lists them."""

    def __init__(self, message: str, moved: Sequence[object]) -> None:
        self.moved = list(moved)
        super().__init__(message)


class ProviderError(ReconcilerError):
    """A carrier call failed. ``status`` is the HTTP status (None when no response came)."""

    retry_after: float | None = None
    """Seconds the carrier asked to wait before trying again (``Http.error`` sets it)."""

    def __init__(
        self,
        message: str,
        *,
        account: str = "",
        method: str = "",
        path: str = "",
        status: int | None = None,
        detail: str = "",
    ) -> None:
        self.account, self.method, self.path, self.status, self.detail = (
            account,
            method,
            path,
            status,
            detail,
        )
        where = f"[{account}] " if account else ""
        call = f"{method} {path}" if method else ""
        code = f" → {status}" if status is not None else ""
        head = f"{where}{call}{code}".strip()
        super().__init__(f"{head}: {message}" if head else message)


class AuthError(ProviderError):
    pass


class PermissionError_(ProviderError):
    pass


class NotFoundError(ProviderError):
    pass


class InvalidRequestError(ProviderError):
    pass


class RateLimitError(ProviderError):
    pass


class ServerError(ProviderError):
    pass


class TransportError(ProviderError):
    pass


class CarrierDataError(ProviderError):
    """A 2xx answer the client cannot use: the message starts "carrier data:" and names the
    page and the field. Nothing is planned from it (the account's read stops)."""

    def __init__(self, message: str, **where: object) -> None:
        super().__init__(f"carrier data: {message}", **where)  # type: ignore[arg-type]


class ApplyError(ReconcilerError):
    pass


class Aborted(ReconcilerError):
    pass
