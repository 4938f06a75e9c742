"""Comments the bot owns: found by marker and author, in numbered parts, with hidden metadata.

A comment is ours when its first line is the marker (``<!-- reconciler-plan -->``) **and** its
author is the bot's login: a person who pastes the marker is never edited or deleted. A body
longer than GitHub's limit goes out as several comments in creation order; a later, shorter
body updates the first ones and deletes the surplus (ours only). Every body ends with a footer
naming the commit and the run, and a hidden ``<!-- reconciler-meta {...} -->`` line the merge
reads back (head SHA, run id, artifact name, status).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..render import GITHUB_LIMIT, part_marker
from .github import GitHub, RunContext

META = "reconciler-meta"
_META_RE = re.compile(r"^<!-- reconciler-meta (\{.*\}) -->$", re.MULTILINE)
SUMMARY_LIMIT = 1_000_000  # GitHub takes at most 1 MiB of job summary per step
FOOTER_RESERVE = 1000  # the footer fits in this (SHA, run URL, metadata)


@dataclass(frozen=True)
class Meta:
    """What a comment says about itself, for the merge to find the reviewed plan."""

    status: str  # planned | failed | applied | refused | ...
    head_sha: str
    run_id: str
    artifact: str | None = None

    def line(self) -> str:
        fields = {k: v for k, v in self.__dict__.items() if v is not None}
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        safe = text.replace("--", "-\\u002d")  # JSON still, and never closes the comment
        return f"<!-- {META} {safe} -->"

    @classmethod
    def find(cls, body: str) -> Meta | None:
        """The metadata of a comment body, or None when it has none (or it is unreadable)."""
        found = _META_RE.findall(body or "")
        if not found:
            return None
        try:
            data = json.loads(found[-1])
            return cls(
                status=str(data["status"]),
                head_sha=str(data["head_sha"]),
                run_id=str(data["run_id"]),
                artifact=str(data["artifact"]) if data.get("artifact") else None,
            )
        except (ValueError, KeyError, TypeError):
            return None


def footer(ctx: RunContext, what: str, sha: str, meta: Meta | None) -> str:
    """The last lines of every body: which commit, which run, the hidden metadata."""
    text = (
        f"\n\n---\n<sub>reconciler {what} of commit [`{sha[:12]}`]({ctx.commit_url(sha)})"
        f" · [workflow run {ctx.run_id}]({ctx.run_url})</sub>\n"
    )
    return text + (meta.line() + "\n" if meta is not None else "")


def is_ours(comment: Mapping[str, Any], marker: str, author: str) -> bool:
    """First line is the marker and the bot wrote it (a person's copy is not ours)."""
    body = comment.get("body") or ""
    user = comment.get("user") or {}
    return body.split("\n", 1)[0].strip() == marker and user.get("login") == author


def ours(comments: Sequence[Mapping[str, Any]], marker: str, author: str) -> list[dict[str, Any]]:
    """Our comments, oldest first (parts are created in order)."""
    mine = [dict(c) for c in comments if is_ours(c, marker, author)]
    return sorted(mine, key=lambda c: int(c["id"]))


def upsert(gh: GitHub, issue: int, bodies: Sequence[str], *, marker: str, author: str) -> str:
    """Make our comments on ``issue`` be exactly ``bodies``: update in place, create what is
    missing, delete our surplus parts. Returns what it did, for the log and the summary."""
    mine = ours(gh.comments(issue), marker, author)
    created = updated = 0
    for i, body in enumerate(bodies):
        if i < len(mine):
            if mine[i].get("body") != body:
                gh.update_comment(int(mine[i]["id"]), body)
                updated += 1
        else:
            gh.create_comment(issue, body)
            created += 1
    for surplus in mine[len(bodies) :]:
        gh.delete_comment(int(surplus["id"]))
    deleted = max(0, len(mine) - len(bodies))
    return f"#{issue}: {created} created, {updated} updated, {deleted} deleted"


def fit(parts: Sequence[str], marker: str, tail: str, limit: int = GITHUB_LIMIT) -> list[str]:
    """Bodies of at most ``limit`` characters, each starting with ``marker`` and ending with
    ``tail``. Parts that already fit are kept whole; a longer one (Markdown from another
    command) is cut at line ends, and each piece gets the marker and a part line."""
    budget = limit - len(tail) - len(part_marker(marker, 999, 999)) - len(marker) - 4
    pieces: list[str] = []
    for part in parts:
        if len(part) <= budget:
            pieces.append(part)
            continue
        pieces.extend(_cut(part, budget))
    if len(pieces) == len(parts):
        return [_lead(p, marker) + tail for p in pieces]
    n = len(pieces)
    bodies = []
    for i, piece in enumerate(pieces, 1):
        text = _strip_lead(piece, marker)
        bodies.append(f"{marker}\n{part_marker(marker, i, n)}\n\n{text}{tail}")
    return bodies


def _lead(text: str, marker: str) -> str:
    return text if text.split("\n", 1)[0].strip() == marker else f"{marker}\n{text}"


def _strip_lead(text: str, marker: str) -> str:
    numbered = re.compile(re.escape(part_marker(marker, 0, 0)).replace("0/0", r"\d+/\d+"))
    lines = text.split("\n")
    while lines and (lines[0].strip() == marker or numbered.fullmatch(lines[0].strip())):
        lines.pop(0)
    return "\n".join(lines).lstrip("\n")


def _cut(text: str, budget: int) -> list[str]:
    """``text`` in pieces of at most ``budget`` characters, at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > budget:  # one line longer than a comment: cut it
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:budget])
            line = line[budget:]
        if len(current) + len(line) > budget:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return pieces


def fence(text: str) -> str:
    """``text`` as a fenced code block that no backtick run inside can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def last_lines(text: str, n: int = 30, width: int = 500) -> str:
    """The last ``n`` non-empty lines (each at most ``width`` characters): where errors are."""
    lines = [line[:width] for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n:])


def summary(ctx: RunContext, bodies: Sequence[str]) -> None:
    """The same Markdown in the job summary, bounded by GitHub's summary limit."""
    text = "\n\n".join(bodies)
    if len(text) > SUMMARY_LIMIT:
        text = text[:SUMMARY_LIMIT] + "\n\n… (cut: the rest is in the pull-request comments)"
    ctx.add_summary(text)
