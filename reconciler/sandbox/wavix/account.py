"""The Wavix sandbox account's fixed facts: its API keys, SIP trunks and document types."""

from __future__ import annotations

DEFAULT_KEY = "wvx_sandbox_full_0000"
"""Full-access sandbox key (``scopes_enabled: false`` on the real platform)."""
READONLY_KEY = "wvx_sandbox_read_0000"
"""Sandbox key with ``numbers: read`` only: GETs work, PATCH gets 403."""
KEYS: dict[str, str] = {DEFAULT_KEY: "write", READONLY_KEY: "read"}

TRUNKS: dict[int, str] = {3107: "Detroit PBX trunk", 3108: "NYC sales trunk"}
"""SIP trunks of the sandbox account: ``trunk_id`` → ``trunk_label`` (transport 5 needs one)."""

DOC_TYPES = [
    {"id": 1, "name": "id", "title": "Proof of identity"},
    {"id": 2, "name": "address", "title": "Proof of address"},
    {"id": 3, "name": "localaddress", "title": "Proof of local address"},
]
