"""The error tree. Every error a user can cause or meet is one of these; the CLI maps them to
a message and an exit code. Nothing here ever carries an API key.

    ReconcilerError                     exit 1
    ├── ConfigError                     bad YAML / settings / references (file:line), no API call
    │     (carries a list of ConfigIssue so one run reports every problem)
    ├── PlanError                       desired state contradicts the live account
    │                                   (e.g. a declared exact number the account does not have)
    ├── ProviderError                   a carrier call failed; message names account, method, path
    │   ├── AuthError                   401: bad or missing key
    │   ├── PermissionError_            403: the key lacks a scope (e.g. numbers:write)
    │   ├── NotFoundError               404: unknown id / resource
    │   ├── InvalidRequestError         400/422: the carrier rejected the request
    │   ├── RateLimitError              429
    │   ├── ServerError                 5xx
    │   └── TransportError              no response (connection refused, timeout)
    ├── ApplyError                      apply stopped (exit 1); PartialApply is exit 4
    └── Aborted                         the user did not type "yes"
"""

from __future__ import annotations

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


class ProviderError(ReconcilerError):
    """A carrier call failed. ``status`` is the HTTP status (None when no response came)."""

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


class ApplyError(ReconcilerError):
    pass


class Aborted(ReconcilerError):
    pass
