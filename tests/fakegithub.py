"""A small stateful fake of the parts of GitHub's REST API the review loop uses.

Issue comments (paged with ``Link`` headers, per_page at most 100; update and delete only by
their author, as GitHub does), issues, the pull requests of a commit, a run's artifacts and
their zip behind a redirect to another host (which must not receive the token). Every request
is logged. ``transport`` is an ``httpx.MockTransport`` over it.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

API = "https://api.github.test"
BLOB = "https://blob.storage.test"
TOKEN = "ghs_fake_actions_token_0000"
BOT = "github-actions[bot]"
REPO = "acme/numbers"


@dataclass
class FakeGitHub:
    api: str = API
    token: str = TOKEN
    login: str | None = None  # None: the Actions token (GET /user → 403)
    repo: str = REPO
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1000))

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def actor(self) -> str:
        return self.login or BOT

    # -- setting the scene ---------------------------------------------------------------------

    def open_pr(self, number: int, head_sha: str) -> None:
        self.pulls[number] = {
            "number": number,
            "state": "open",
            "head": {"sha": head_sha},
            "merged_at": None,
            "merge_commit_sha": None,
        }
        self.issues.setdefault(number, {"number": number, "pull_request": {}, "labels": []})
        self.comments.setdefault(number, [])

    def merge(self, number: int, merge_sha: str) -> None:
        self.pulls[number].update(
            state="closed", merged_at="2026-12-07T12:00:00Z", merge_commit_sha=merge_sha
        )

    def add_comment(self, issue: int, body: str, author: str) -> dict[str, Any]:
        comment = {"id": next(self._ids), "body": body, "user": {"login": author}}
        self.comments.setdefault(issue, []).append(comment)
        return comment

    def upload(self, run_id: str, name: str, files: dict[str, bytes]) -> None:
        """What actions/upload-artifact does: a zip of the files, listed under the run."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, content in files.items():
                archive.writestr(path, content)
        artifact_id = next(self._ids)
        self.blobs[f"/{artifact_id}.zip"] = buffer.getvalue()
        self.artifacts.setdefault(run_id, []).append(
            {
                "id": artifact_id,
                "name": name,
                "expired": False,
                "archive_download_url": (
                    f"{self.api}/repos/{self.repo}/actions/artifacts/{artifact_id}/zip"
                ),
            }
        )

    def ours(self, issue: int, marker: str) -> list[dict[str, Any]]:
        return [
            c
            for c in self.comments.get(issue, [])
            if c["user"]["login"] == self.actor and c["body"].startswith(marker)
        ]

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.log if m != "GET"]

    # -- the API -------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self.log.append((request.method, url.path))
        if url.host == httpx.URL(BLOB).host:
            assert "authorization" not in request.headers, "the token went to the blob host"
            blob = self.blobs.get(url.path)
            return httpx.Response(200, content=blob) if blob else _error(404, "Not Found")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "Bad credentials")
        path = url.path
        base = f"/repos/{self.repo}"
        query = {k: v[-1] for k, v in parse_qs(url.query.decode()).items()}
        body = json.loads(request.content) if request.content else {}
        route = (request.method, path.removeprefix(base) if path.startswith(base) else path)
        method, rest = route
        if route == ("GET", "/user"):
            if self.login is None:
                return _error(403, "Resource not accessible by integration")
            return httpx.Response(200, json={"login": self.login})
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            issue = int(m.group(1))
            if issue not in self.issues:
                return _error(404, "Not Found")
            if method == "GET":
                return self._page(request, self.comments.get(issue, []), query)
            if method == "POST":
                return httpx.Response(201, json=self.add_comment(issue, body["body"], self.actor))
        if m := re.fullmatch(r"/issues/comments/(\d+)", rest):
            found = [c for cs in self.comments.values() for c in cs if c["id"] == int(m.group(1))]
            if not found:
                return _error(404, "Not Found")
            comment = found[0]
            if comment["user"]["login"] != self.actor:
                return _error(403, "Must have admin rights to Repository.")
            if method == "PATCH":
                comment["body"] = body["body"]
                return httpx.Response(200, json=comment)
            if method == "DELETE":
                for cs in self.comments.values():
                    if comment in cs:
                        cs.remove(comment)
                return httpx.Response(204)
        if rest == "/issues":
            if method == "GET":
                wanted = query.get("labels")
                found = [
                    i
                    for i in self.issues.values()
                    if i.get("state", "open") == query.get("state", "open")
                    and (not wanted or wanted in i.get("labels", []))
                ]
                return self._page(request, found, query)
            if method == "POST":
                number = max([*self.issues, 0]) + 1
                self.issues[number] = {
                    "number": number,
                    "title": body["title"],
                    "body": body["body"],
                    "labels": body.get("labels", []),
                    "state": "open",
                    "user": {"login": self.actor},
                }
                self.comments[number] = []
                return httpx.Response(201, json=self.issues[number])
        if (m := re.fullmatch(r"/issues/(\d+)", rest)) and method == "PATCH":
            issue = self.issues[int(m.group(1))]
            issue.update(body)
            return httpx.Response(200, json=issue)
        if (m := re.fullmatch(r"/commits/([0-9a-f]+)/pulls", rest)) and method == "GET":
            sha = m.group(1)
            found = [
                p for p in self.pulls.values() if sha in (p["merge_commit_sha"], p["head"]["sha"])
            ]
            return self._page(request, found, query)
        if (m := re.fullmatch(r"/actions/runs/(\d+)/artifacts", rest)) and method == "GET":
            found = [
                a
                for a in self.artifacts.get(m.group(1), [])
                if "name" not in query or a["name"] == query["name"]
            ]
            return self._page(request, found, query, key="artifacts")
        if (m := re.fullmatch(r"/actions/artifacts/(\d+)/zip", rest)) and method == "GET":
            return httpx.Response(302, headers={"Location": f"{BLOB}/{m.group(1)}.zip"})
        return _error(404, "Not Found")

    def _page(
        self, request: httpx.Request, items: list[Any], query: dict[str, str], key: str = ""
    ) -> httpx.Response:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = {**query, "page": str(page + 1)}
            headers["Link"] = f'<{self.api}{request.url.path}?{urlencode(nxt)}>; rel="next"'
        payload: Any = {"total_count": len(items), key: chunk} if key else chunk
        return httpx.Response(200, json=payload, headers=headers)


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"message": message})
