"""A small client of GitHub's REST API and the context of an Actions run.

Only what the review loop needs: issue comments (list with paging, create, update, delete),
issues (list, create, update), the pull requests of a commit, a run's artifacts and their zip.
The token comes from ``GITHUB_TOKEN`` and is sent as a header only: it is never part of a
message, a log line or an exception (``GitHubError`` names the method, the path and GitHub's
message). The API base is ``RECONCILER_GITHUB_API_URL`` or ``GITHUB_API_URL`` (GitHub Enterprise,
or a fake for a trial run), else ``https://api.github.com``.

Tests pass ``transport=`` (``httpx.MockTransport``) as they do to the providers.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ..errors import ReconcilerError

log = logging.getLogger(__name__)

API_URL = "https://api.github.com"
SERVER_URL = "https://github.com"
ACTIONS_BOT = "github-actions[bot]"
"""The login of the Actions token's comments (that token cannot call ``GET /user``)."""
PER_PAGE = 100
MAX_PAGES = 1000  # 100,000 comments: a Link chain longer than this is a loop, not a thread
MAX_ARCHIVE = 1 << 30  # an artifact zip larger than 1 GiB is not our plan


class GitHubError(ReconcilerError):
    """GitHub answered an error, or could not be reached (exit 1)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RunContext:
    """Where this run is: repository, commit, run, and the Actions files it writes to."""

    repository: str
    sha: str
    run_id: str
    server_url: str = SERVER_URL
    api_url: str = API_URL
    event: Mapping[str, Any] | None = None
    summary_path: Path | None = None
    output_path: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunContext:
        env = os.environ if env is None else env
        repository = env.get("GITHUB_REPOSITORY", "")
        if repository.count("/") != 1:
            raise GitHubError(
                "GITHUB_REPOSITORY is not set to OWNER/REPO: run this inside GitHub Actions, or "
                "set GITHUB_REPOSITORY, GITHUB_SHA and GITHUB_RUN_ID (docs/review-workflow.md)"
            )
        event: Mapping[str, Any] | None = None
        if env.get("GITHUB_EVENT_PATH"):
            try:
                event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise GitHubError(
                    f"GITHUB_EVENT_PATH {env['GITHUB_EVENT_PATH']}: cannot read the event ({exc})"
                ) from None
        return cls(
            repository=repository,
            sha=env.get("GITHUB_SHA", ""),
            run_id=env.get("GITHUB_RUN_ID", ""),
            server_url=(env.get("GITHUB_SERVER_URL") or SERVER_URL).rstrip("/"),
            api_url=(
                env.get("RECONCILER_GITHUB_API_URL") or env.get("GITHUB_API_URL") or API_URL
            ).rstrip("/"),
            event=event,
            summary_path=Path(env["GITHUB_STEP_SUMMARY"])
            if env.get("GITHUB_STEP_SUMMARY")
            else None,
            output_path=Path(env["GITHUB_OUTPUT"]) if env.get("GITHUB_OUTPUT") else None,
        )

    @property
    def run_url(self) -> str:
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    def commit_url(self, sha: str) -> str:
        return f"{self.server_url}/{self.repository}/commit/{sha}"

    @property
    def pull_request(self) -> Mapping[str, Any] | None:
        pr = (self.event or {}).get("pull_request")
        return pr if isinstance(pr, Mapping) else None

    @property
    def head_sha(self) -> str:
        """The commit a pull request's run is about: its head, not the merge commit
        ``GITHUB_SHA`` names on ``pull_request`` events."""
        pr = self.pull_request
        head = pr.get("head") if pr else None
        if isinstance(head, Mapping) and isinstance(head.get("sha"), str):
            return str(head["sha"])
        return self.sha

    def set_output(self, name: str, value: str) -> None:
        """A step output (``$GITHUB_OUTPUT``); nothing outside Actions."""
        if self.output_path is not None:
            with self.output_path.open("a", encoding="utf-8") as out:
                out.write(f"{name}={value}\n")

    def add_summary(self, markdown: str) -> None:
        """Append to the job summary (``$GITHUB_STEP_SUMMARY``); nothing outside Actions."""
        if self.summary_path is not None:
            with self.summary_path.open("a", encoding="utf-8") as out:
                out.write(markdown.rstrip("\n") + "\n\n")


class GitHub:
    """GitHub's REST API for one repository. Every failure is a :class:`GitHubError`."""

    def __init__(
        self,
        repository: str,
        token: str,
        *,
        api_url: str = API_URL,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise GitHubError(
                "GITHUB_TOKEN is not set: pass the workflow's token to this step "
                "(env: GITHUB_TOKEN: ${{ github.token }})"
            )
        self.repo = f"/repos/{repository}"
        self._client = httpx.Client(
            base_url=api_url,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "numbers-reconciler",
            },
            timeout=30.0,
            follow_redirects=True,  # httpx drops Authorization on a redirect to another origin
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------
    # HTTP

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        shown = url.split("?", 1)[0]
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(
                f"GitHub: {method} {shown}: no answer ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise GitHubError(
                f"GitHub: {method} {shown} → {response.status_code}: {_message(response)}",
                response.status_code,
            )
        return response

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._send(method, url, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise GitHubError(f"GitHub: {method} {url}: the answer is not JSON") from None

    def _pages(self, url: str, params: dict[str, Any], key: str | None = None) -> Iterator[Any]:
        """Every item of a listing, following ``Link: rel="next"`` (per_page=100)."""
        next_url: str | None = url
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if next_url is None:
                return
            response = self._send("GET", next_url, params=query)
            try:
                body = response.json()
            except ValueError:
                raise GitHubError(f"GitHub: GET {url}: the answer is not JSON") from None
            items = body.get(key) if key is not None and isinstance(body, dict) else body
            if not isinstance(items, list):
                raise GitHubError(f"GitHub: GET {url}: the answer is not a list")
            yield from items
            next_url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
        raise GitHubError(f"GitHub: GET {url}: more than {MAX_PAGES} pages")

    # ---------------------------------------------------------------------------------------
    # The endpoints

    def login(self) -> str:
        """The login the token acts as (``GET /user``; the Actions token cannot ask)."""
        user = self._json("GET", "/user")
        return str(user["login"])

    def comments(self, issue: int) -> list[dict[str, Any]]:
        return list(self._pages(f"{self.repo}/issues/{issue}/comments", {}))

    def create_comment(self, issue: int, body: str) -> dict[str, Any]:
        return dict(self._json("POST", f"{self.repo}/issues/{issue}/comments", json={"body": body}))

    def update_comment(self, comment_id: int, body: str) -> None:
        self._json("PATCH", f"{self.repo}/issues/comments/{comment_id}", json={"body": body})

    def delete_comment(self, comment_id: int) -> None:
        self._send("DELETE", f"{self.repo}/issues/comments/{comment_id}")

    def issues(self, *, label: str, creator: str | None = None) -> list[dict[str, Any]]:
        """Open issues (not pull requests) with ``label``."""
        params = {"state": "open", "labels": label}
        if creator:
            params["creator"] = creator
        found = self._pages(f"{self.repo}/issues", params)
        return [i for i in found if "pull_request" not in i]

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        issue = self._json(
            "POST", f"{self.repo}/issues", json={"title": title, "body": body, "labels": labels}
        )
        return dict(issue)

    def update_issue(self, number: int, **fields: Any) -> None:
        self._json("PATCH", f"{self.repo}/issues/{number}", json=fields)

    def pulls_for_commit(self, sha: str) -> list[dict[str, Any]]:
        return list(self._pages(f"{self.repo}/commits/{sha}/pulls", {}))

    def pull(self, number: int) -> dict[str, Any]:
        return dict(self._json("GET", f"{self.repo}/pulls/{number}"))

    def artifacts(self, run_id: str, name: str | None = None) -> list[dict[str, Any]]:
        params = {"name": name} if name else {}
        return list(
            self._pages(f"{self.repo}/actions/runs/{run_id}/artifacts", params, key="artifacts")
        )

    def download(self, url: str) -> bytes:
        """An artifact's zip (``archive_download_url``; GitHub redirects to its storage)."""
        with self._client.stream("GET", url) as response:
            if response.status_code >= 400:
                response.read()
                raise GitHubError(
                    f"GitHub: GET {url.split('?', 1)[0]} → {response.status_code}: "
                    f"{_message(response)}",
                    response.status_code,
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ARCHIVE:
                    raise GitHubError(f"GitHub: the artifact at {url} is larger than 1 GiB")
                chunks.append(chunk)
        return b"".join(chunks)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:300]
    return response.reason_phrase or "error"


def client_from_env(
    context: RunContext,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> GitHub:
    env = os.environ if env is None else env
    return GitHub(
        context.repository,
        env.get("GITHUB_TOKEN", ""),
        api_url=context.api_url,
        transport=transport,
    )
