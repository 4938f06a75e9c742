"""Numbers bought and released while a client reads the listings (knob ``telnyx.shift_listing``).

The listings are sorted by ``created_at`` descending, so a number bought between two page reads
is listed first and pushes every other number one place down (the next page repeats the last
number of the previous one); a released number pulls them up (the next page skips one). After
every listing page served the simulator releases ``release`` numbers from the top of the listing,
then buys ``buy`` new ones there.

Bought numbers take ordinals below every ordinal used so far (listing order is ordinal order, and
``number.new_number`` dates ordinal *n* ``n`` seconds before the seed's epoch, so lower is newer),
numbered ``+1872200000k`` with Telnyx's defaults. Once numbers are bought or released the ordinals
are no longer dense from 1, and the store's meta ``telnyx.sparse`` tells the listing to page with
LIMIT/OFFSET instead of rowid ranges.
"""

from __future__ import annotations

from typing import Any

from ..http import dumps
from ..store import SandboxStore
from .number import new_number
from .tables import NumberRow, insert_numbers

SPARSE = "telnyx.sparse"
LOWEST = "telnyx.lowest_ordinal"
BOUGHT_FIRST_LINE = 2_000_000
"""Bought number k (1, 2, ...) is ``+1872{2000000 + k:07d}``."""


def dense(store: SandboxStore) -> bool:
    """Are the ordinals still 1..N (nothing bought or released since the seed)?"""
    return store.get_meta(SPARSE) != "1"


def reset(store: SandboxStore) -> None:
    """The seed was (re)loaded: ordinals are dense again."""
    store.set_meta(SPARSE, "0")
    store.set_meta(LOWEST, "1")


def shift(store: SandboxStore, shifts: dict[str, Any]) -> None:
    """Release ``shifts["release"]`` numbers from the top of the listing, then buy
    ``shifts["buy"]`` new ones (listed first)."""
    release, buy = int(shifts.get("release", 0)), int(shifts.get("buy", 0))
    if not release and not buy:
        return
    with store.transaction() as conn:
        conn.execute(
            "DELETE FROM telnyx_numbers WHERE ordinal IN "
            "(SELECT ordinal FROM telnyx_numbers ORDER BY ordinal LIMIT ?)",
            (release,),
        )
        lowest = min(
            int(store.get_meta(LOWEST) or 1),
            conn.execute("SELECT min(ordinal) FROM telnyx_numbers").fetchone()[0] or 1,
        )
        rows: list[NumberRow] = []
        for ordinal in range(lowest - 1, lowest - 1 - buy, -1):
            e164 = f"+1872{BOUGHT_FIRST_LINE + 1 - ordinal:07d}"
            detailed, voice = new_number(ordinal, e164)
            rows.append((ordinal, detailed["id"], e164, "active", dumps(detailed), dumps(voice)))
        insert_numbers(conn, rows)
        store.set_meta(LOWEST, str(lowest - buy))
        store.set_meta(SPARSE, "1")
