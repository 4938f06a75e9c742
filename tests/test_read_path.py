"""The read path (issue 18): Wavix settings shared by value within one read, as Telnyx's are;
the floor client the benchmark measures ``plan`` against."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from reconciler.providers.wavix.decode import Interned, live

FLOOR = Path(__file__).resolve().parent.parent / "benchmarks" / "floor.py"

ITEM: dict[str, Any] = {
    "id": 1,
    "number": "13135550100",
    "status": "active",
    "sms_enabled": True,
    "sms_relay_url": None,
    "call_recording_enabled": False,
    "transcription_enabled": False,
    "transcription_threshold": 30,
    "call_status_url": "https://example.com/s",
    "destination": [{"destination": "sip:a@example.com", "priority": 1, "transport": 1}],
}


def _item(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(ITEM)
    item.update(changes)
    return item


def test_wavix_numbers_configured_alike_share_one_settings_dict() -> None:
    interned = Interned()
    a = live(_item(id=1, number="13135550100"), interned)
    b = live(_item(id=2, number="13135550101"), interned)
    assert a.settings is b.settings  # before: one dict per number (1M dicts at 1M numbers)
    assert a.settings == {
        "sms_enabled": True,
        "destinations": a.settings["destinations"],
        "sms_relay_url": None,
        "call_recording_enabled": False,
        "transcription_enabled": False,
        "transcription_threshold": 30,
        "call_status_url": "https://example.com/s",
    }
    c = live(_item(id=3, number="13135550102", transcription_threshold=31), interned)
    assert c.settings is not a.settings and c.settings["transcription_threshold"] == 31
    empty1 = live(_item(id=4, number="13135550103", destination=[]), interned)
    empty2 = live(_item(id=5, number="13135550104", destination=[]), interned)
    assert empty1.settings is empty2.settings and empty1.settings["destinations"] == []


def test_wavix_sharing_tells_types_apart_and_never_shares_unreadable_items() -> None:
    interned = Interned()
    good = live(_item(id=1), interned)
    # 1 == True in Python; a threshold of True is carrier data, never the same settings
    odd = live(_item(id=2, transcription_threshold=True), interned)
    assert odd.settings is not good.settings and not odd.patchable
    again = live(_item(id=3, transcription_threshold=True), interned)
    assert again.settings is not odd.settings  # unreadable: built per number, marked
    assert again.settings["transcription_threshold"] is None
    assert good.settings["transcription_threshold"] == 30  # untouched by the others


def test_the_floor_client_reads_the_pages_plan_reads(tmp_path: Path) -> None:
    """benchmarks/floor.py against a served sandbox: every listing page, each number once."""
    spec = importlib.util.spec_from_file_location("bench_floor", FLOOR)
    assert spec and spec.loader
    floor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floor)
    cli = [sys.executable, "-m", "reconciler.cli"]
    for carrier, mount, pages in (("wavix", "/wavix", 3), ("telnyx", "/telnyx/v2", 2)):
        db = tmp_path / f"{carrier}.sqlite3"
        seed = ["sandbox", "seed", f"--carrier={carrier}", "--numbers=250", "--profiles=2"]
        subprocess.run(
            [*cli, *seed, "--config-out", str(tmp_path / carrier), "--sandbox-db", str(db)],
            check=True,
            capture_output=True,
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        serve = ["sandbox", "serve", "--port", str(port), "--sandbox-db", str(db)]
        proc = subprocess.Popen([*cli, *serve], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                    time.sleep(0.05)
            key = importlib.import_module(f"reconciler.sandbox.{carrier}").DEFAULT_KEY
            got = floor.floor(f"http://127.0.0.1:{port}{mount}", carrier, key, threads=3)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stderr:
                proc.stderr.close()
        numbers = 250 * len(floor.LISTINGS[carrier])  # Telnyx: two listings of every number
        assert (got["pages"], got["numbers"]) == (pages, numbers), got
