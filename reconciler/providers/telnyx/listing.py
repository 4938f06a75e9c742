"""Reading Telnyx's two listings: decoding their items, joining them on ``id``, and knowing when
a listing has ended.

A number's settings are split over ``GET /phone_numbers`` and ``GET /phone_numbers/voice``
(``shared/carriers/telnyx.md`` §5). The two are separate paged reads of a live account, sorted by
``created_at`` descending, so while they are read numbers may be bought (the next page repeats a
number) or released (the next page skips one), and a number may sit in one listing and not the
other. ``Join`` keeps one entry per id and names the *orphans* (ids seen in one listing only),
which the provider reads one by one; nothing is ever built from a missing half.

``PageInfo`` says when a listing ends: at an empty page, at a page shorter than its size, or at
``meta.total_pages`` when the totals stayed the same through the read. ``total_pages`` is not
required by the spec: without it the provider reads on until a short or empty page, as the SDK
does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ...errors import ProviderError
from ...gcpause import without_gc
from ...models import LiveNumber
from .settings import canonical_reference, canonical_tags

log = logging.getLogger(__name__)

PAGE_SIZE = 250
T = TypeVar("T")

NUMBER_PATHS = (
    "tags",
    "connection_id",
    "customer_reference",
    "billing_group_id",
    "external_pin",
    "hd_voice_enabled",
    "deletion_lock_enabled",
    "voice.caller_id_name_enabled",
)
"""Settings read from ``GET /phone_numbers`` (``caller_id_name_enabled`` is only there)."""
VOICE_PATHS = (
    "voice.call_forwarding.call_forwarding_enabled",
    "voice.call_forwarding.forwarding_type",
    "voice.call_forwarding.forwards_to",
    "voice.call_recording.inbound_call_recording_enabled",
    "voice.call_recording.inbound_call_recording_channels",
    "voice.call_recording.inbound_call_recording_format",
    "voice.cnam_listing.cnam_listing_enabled",
    "voice.cnam_listing.cnam_listing_details",
    "voice.inbound_call_screening",
    "voice.media_features.accept_any_rtp_packets_enabled",
    "voice.media_features.rtp_auto_adjust_enabled",
    "voice.media_features.t38_fax_gateway_enabled",
    "voice.tech_prefix_enabled",
    "voice.translated_number",
    "voice.usage_payment_method",
)
"""Settings read from ``GET /phone_numbers/voice``, in ``voice_values`` order."""


def _in_model_order(numbers: tuple[Any, ...], voice: tuple[Any, ...]) -> tuple[Any, ...]:
    """Both value tuples → one, in ``field_paths("telnyx")`` order (caller_id_name_enabled sits
    between voice.call_recording and voice.cnam_listing)."""
    return numbers[:7] + voice[:6] + numbers[7:] + voice[6:]


SETTING_PATHS: tuple[str, ...] = _in_model_order(NUMBER_PATHS, VOICE_PATHS)
_EMPTY: dict[str, Any] = {}


def number_values(item: dict[str, Any]) -> tuple[Any, ...]:
    """One ``GET /phone_numbers`` item → values in ``NUMBER_PATHS`` order, hashable (tags as a
    tuple, a list once in the settings) so equal rows are shared (``Join``)."""
    get = item.get
    return (
        tuple(canonical_tags(get("tags"))),
        get("connection_id"),
        canonical_reference(get("customer_reference")),
        get("billing_group_id"),
        get("external_pin"),
        get("hd_voice_enabled"),
        get("deletion_lock_enabled"),
        get("caller_id_name_enabled", False),
    )


def voice_values(item: dict[str, Any]) -> tuple[Any, ...]:
    """One ``GET /phone_numbers/voice`` item → values in ``VOICE_PATHS`` order. A leaf the
    carrier leaves out takes the spec's default, so the diff never shows noise."""
    get = item.get
    fwd = get("call_forwarding") or _EMPTY
    rec = get("call_recording") or _EMPTY
    cnam = get("cnam_listing") or _EMPTY
    media = get("media_features") or _EMPTY
    return (
        fwd.get("call_forwarding_enabled", True),
        fwd.get("forwarding_type"),
        fwd.get("forwards_to"),
        rec.get("inbound_call_recording_enabled", False),
        rec.get("inbound_call_recording_channels", "single"),
        rec.get("inbound_call_recording_format", "wav"),
        cnam.get("cnam_listing_enabled", False),
        cnam.get("cnam_listing_details"),
        get("inbound_call_screening", "disabled"),
        media.get("accept_any_rtp_packets_enabled", False),
        media.get("rtp_auto_adjust_enabled", True),
        media.get("t38_fax_gateway_enabled", False),
        get("tech_prefix_enabled", False),
        get("translated_number", ""),
        get("usage_payment_method", "pay-per-minute"),
    )


class Join:
    """Both listings, decoded page by page as they arrive, one entry per id, joined on id at the
    end.

    Memory is what bounds a big read, so each page keeps only values, and equal values are held
    once: a row of settings (a listing item's values) and a status are shared by value within
    the read (accounts are configured by the hundred, not number by number), and numbers with
    equal settings share one settings dict. Nothing else of a page outlives it, so the pages'
    memory is reused by the next ones instead of being held by a few survivors each.
    """

    def __init__(self) -> None:
        self.numbers: dict[str, tuple[str, str, tuple[Any, ...]]] = {}
        self.voice: dict[str, tuple[Any, ...]] = {}
        self.repeats = 0
        """Items seen twice (a listing shifted under the read: a number was bought)."""
        self._same: dict[Any, Any] = {}  # value → the one instance this read keeps

    @without_gc
    def numbers_page(self, body: dict[str, Any]) -> None:
        data = body.get("data") or ()
        before = len(self.numbers)
        same = self._shared
        self.numbers.update(
            (item["id"], (item["phone_number"], same(item["status"]), same(number_values(item))))
            for item in data
        )
        self.repeats += len(data) - (len(self.numbers) - before)

    @without_gc
    def voice_page(self, body: dict[str, Any]) -> None:
        data = body.get("data") or ()
        before = len(self.voice)
        same = self._shared
        self.voice.update((item["id"], same(voice_values(item))) for item in data)
        self.repeats += len(data) - (len(self.voice) - before)

    def _shared(self, value: T) -> T:
        """The instance of ``value`` this read keeps (``value`` itself when unhashable: a
        malformed item is kept as it came, only not shared)."""
        try:
            return self._same.setdefault(value, value)  # type: ignore[no-any-return]
        except TypeError:
            return value

    def orphans(self) -> tuple[list[str], list[str]]:
        """(ids without a voice row, ids with only a voice row), to be read one by one."""
        numbers, voice = self.numbers, self.voice
        return [i for i in numbers if i not in voice], [i for i in voice if i not in numbers]

    def forget(self, id_: str) -> None:
        """The number is gone (released while the listings were read)."""
        self.numbers.pop(id_, None)
        self.voice.pop(id_, None)

    @without_gc
    def result(self) -> list[LiveNumber]:
        """Sorted by e164. Only numbers read from both listings: half a number is never built
        (``orphans`` must be settled first; any left are dropped with a warning). Numbers with
        equal settings share one settings dict (rows are shared, so identity says equality)."""
        pop = self.voice.pop
        # By identity: equal rows are one object. The rows are kept in the entry so that no
        # id is reused by another object while the loop runs (an unshared row may be freed).
        shared: dict[tuple[int, int], tuple[dict[str, Any], tuple[Any, ...], tuple[Any, ...]]]
        shared = {}
        out = []
        for id_, (e164, status, values) in self.numbers.items():
            voice = pop(id_, None)
            if voice is None:
                log.warning("%s (%s) has no voice settings; left out of this read", e164, id_)
                continue
            key = (id(values), id(voice))
            entry = shared.get(key)
            if entry is None:
                entry = shared[key] = (_settings(values, voice), values, voice)
            out.append(LiveNumber(id_, e164, status, entry[0], status == "active"))
        self._same.clear()
        out.sort(key=_by_e164)
        return out


def _settings(values: tuple[Any, ...], voice: tuple[Any, ...]) -> dict[str, Any]:
    """A number's flat canonical settings from its two rows."""
    settings = dict(zip(SETTING_PATHS, _in_model_order(values, voice), strict=True))
    settings["tags"] = list(settings["tags"])
    return settings


def _by_e164(number: LiveNumber) -> str:
    return number.e164


@dataclass(frozen=True)
class PageInfo:
    """What one listing page says about where the listing ends."""

    count: int
    size: int
    total_pages: int | None
    total_results: int | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> PageInfo:
        meta = body.get("meta") or _EMPTY
        return cls(
            len(body.get("data") or ()),
            _int(meta.get("page_size")) or PAGE_SIZE,
            _int(meta.get("total_pages")),
            _int(meta.get("total_results")),
        )

    @property
    def pages(self) -> int | None:
        """How many pages the listing has, as this page tells (None: it does not say)."""
        if self.total_pages is not None:
            return self.total_pages
        if self.total_results is not None:
            return -(-self.total_results // self.size)
        return None

    def ends(self, page: int, first: PageInfo) -> bool:
        """Is ``page`` (this one) the listing's last? An empty or short page always is; the
        page ``total_pages`` names is when the totals did not move since ``first`` (page 1)."""
        if self.count < self.size:
            return True
        pages = self.pages
        stable = self.total_results == first.total_results
        return pages is not None and page >= pages and stable


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def read_listing(
    fetch: Callable[[int], Awaitable[dict[str, Any]]],
    decode: Callable[[dict[str, Any]], None],
    *,
    opening: int,
    wave: int,
    progress: Callable[[PageInfo], None],
) -> tuple[int, PageInfo, PageInfo]:
    """Read one listing to its end, ``fetch(page)`` → body, decoding pages as they arrive →
    (pages it had, page 1's info, its last page's info).

    Pages 1..``opening`` are asked for at once. Once a page tells how many pages there are, the
    rest are asked for at once; when none does, waves of ``wave`` pages go on until the listing
    ends (``PageInfo.ends``). A page that failed is an error only if it lies inside the listing.
    """
    seen: dict[int, PageInfo | ProviderError] = {}

    async def one(page: int) -> None:
        try:
            body = await fetch(page)
        except ProviderError as exc:  # judged once we know whether the page is inside
            seen[page] = exc
            return
        decode(body)  # decoded as it arrives: the raw page is dropped right away
        seen[page] = info = PageInfo.of(body)
        progress(info)

    await asyncio.gather(*(one(p) for p in range(1, opening + 1)))
    first: PageInfo | None = None
    page = 1
    while True:
        if page not in seen:
            known = first.pages if first is not None else None
            last = known if known is not None and known >= page else page + wave - 1
            await asyncio.gather(*(one(p) for p in range(page, last + 1) if p not in seen))
        info = seen[page]
        if isinstance(info, ProviderError):
            raise info
        first = first or info
        if info.ends(page, first):
            return page, first, info
        page += 1


async def settle_orphans(
    join: Join, get: Callable[[str], Awaitable[dict[str, Any]]], *, numbers: str
) -> None:
    """Read alone (``get(path)`` → body, ``{}`` when 404) each number the join has from one
    listing only: ``{numbers}/{id}/voice`` or ``{numbers}/{id}``; forget those that are gone."""
    no_voice, no_number = join.orphans()

    async def one(id_: str, path: str, decode: Callable[[dict[str, Any]], None]) -> None:
        found = await get(path)
        if isinstance(found.get("data"), dict):
            decode({"data": [found["data"]]})
        else:
            join.forget(id_)  # released meanwhile

    await asyncio.gather(
        *(one(i, f"{numbers}/{i}/voice", join.voice_page) for i in no_voice),
        *(one(i, f"{numbers}/{i}", join.numbers_page) for i in no_number),
    )
