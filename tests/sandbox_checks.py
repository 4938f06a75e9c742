"""Checks on a sandbox's state that the chaos and crash suites share: Telnyx jobs created twice,
every number's stored state (to see what a run touched), and a sandbox served in a child process
with a config pointing at it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from reconciler.sandbox.store import SandboxStore


def duplicate_jobs(store: SandboxStore) -> list[tuple[str, str, list[str]]]:
    """Pairs of Telnyx jobs of one type (earlier, later, shared ids) where the later one was
    created while the earlier was still live, or re-sends the same update for numbers the earlier
    one already changed."""
    docs = jobs(store)
    found = []
    for i, first in enumerate(docs):
        ids = _targets(first)
        done = {op["id"] for op in first["successful_operations"]}
        finished = first["status"] in ("completed", "failed", "expired")
        same = _update(first)
        for later in docs[i + 1 :]:
            shared = sorted(ids & _targets(later))
            if not shared or later.get("type") != first.get("type"):
                continue  # jobs of different types (update vs emergency) never duplicate
            live = not finished or later["created_at"] < first["updated_at"]
            if live or (_update(later) == same and done & set(shared)):
                found.append((first["id"], later["id"], shared))
    return found


def jobs(store: SandboxStore) -> list[dict[str, Any]]:
    """Every Telnyx job document, oldest first."""
    with store.lock:
        rows = store.conn.execute("SELECT doc FROM telnyx_jobs ORDER BY seq").fetchall()
    return [json.loads(r[0]) for r in rows]


def _targets(doc: dict[str, Any]) -> set[str]:
    return {
        op["id"]
        for key in ("pending_operations", "successful_operations", "failed_operations")
        for op in doc[key]
    }


def _update(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc["parameters"].items() if k != "phone_numbers"}


def snapshot(store: SandboxStore) -> dict[tuple[str, str], str]:
    """Every number's stored state, by (carrier, id)."""
    with store.lock:
        rows = [
            ("wavix", str(i), b)
            for i, b in store.conn.execute("SELECT id, body FROM wavix_numbers")
        ]
        rows += [
            ("telnyx", i, d + v)
            for i, d, v in store.conn.execute("SELECT id, detailed, voice FROM telnyx_numbers")
        ]
    return {(c, i): body for c, i, body in rows}


# ---- a served sandbox in a child process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_command(*args: str) -> list[str]:
    """The command line of ``reconciler ARGS`` in a child process (this interpreter)."""
    return [sys.executable, "-m", "reconciler.cli", *args]


@contextmanager
def served(db: Path, *, args: tuple[str, ...] = (), log: Path | None = None) -> Iterator[str]:
    """``reconciler [ARGS] sandbox serve --sandbox-db DB`` on a free port (its stderr into
    ``log`` when given) → ``http://127.0.0.1:PORT``."""
    port = free_port()
    err = log.open("wb") if log is not None else subprocess.DEVNULL
    child = subprocess.Popen(
        cli_command(*args, "sandbox", "serve", "--port", str(port), "--sandbox-db", str(db)),
        stdout=err,
        stderr=err,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30  # waiting for start-up, not asserting a speed
        while True:
            try:
                httpx.get(origin + "/wavix/v1/numbers", timeout=1.0)
                break
            except httpx.TransportError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"sandbox serve did not start (exit {child.poll()})"
                    ) from None
                time.sleep(0.05)
        yield origin
    finally:
        child.terminate()
        child.wait(timeout=10)
        if log is not None:
            err.close()  # type: ignore[union-attr]


def served_config(
    example: Path, dest: Path, origin: str, key_vars: dict[str, str] | None = None
) -> Path:
    """A copy of the example config whose accounts talk to the sandbox served at ``origin``;
    ``key_vars`` (account → variable) gives accounts ``api_key: ${VARIABLE}``."""
    shutil.copytree(example, dest)
    providers = dest / "providers.yaml"
    text = providers.read_text()
    for name, mount in (("wavix-main", "/wavix"), ("telnyx-main", "/telnyx/v2")):
        head = f"  {name}:\n"
        lines = f"    base_url: {origin}{mount}\n    poll_interval_s: 0.1\n"
        if key_vars and name in key_vars:
            lines += f"    api_key: ${{{key_vars[name]}}}\n"
        assert head in text
        text = text.replace(head, head + lines)
    providers.write_text(text)
    return dest
