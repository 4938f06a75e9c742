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

Nothing of the paging is trusted blindly (docs/reliability.md, "Carrier data"): ``PageInfo.checked``
refuses meta fields that are negative or not integers, a ``total_pages`` that disagrees with
``total_results`` and ``page_size``, and counts above ``MAX_PAGES``; ``read_listing`` keeps at
most ``window`` pages in flight (their coroutines made as slots free) and refuses full pages past
what ``total_results`` allows and full pages that bring no new number (a carrier ignoring
``page[number]``). Each is an ``Unusable`` naming the page and the field, which the provider
turns into a "carrier data" error for the account.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

from ...errors import ProviderError
from ...gcpause import without_gc
from ...models import LiveNumber
from .settings import UNAVAILABLE, canonical_reference, canonical_tags

log = logging.getLogger(__name__)

PAGE_SIZE = 250
MAX_PAGES = 100_000
"""No listing is read past this many pages (25 million numbers at 250 a page): a carrier
announcing more is refused, whatever its other fields say."""
T = TypeVar("T")


class Unusable(ValueError):
    """A listing page the client cannot use; the message names the page and the field."""


NUMBER_PATHS = (
    "tags",
    "connection_id",
    "customer_reference",
    "billing_group_id",
    "external_pin",
    "hd_voice_enabled",
    "deletion_lock_enabled",
    "voice.caller_id_name_enabled",
    "messaging_profile_id",
    "emergency_enabled",
    "emergency_address_id",
)
"""Settings read from ``GET /phone_numbers`` (``caller_id_name_enabled`` is only there; the
last three are set by the messaging and emergency operations, issue 17)."""
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
    between voice.call_recording and voice.cnam_listing; the messaging and emergency fields come
    last)."""
    return numbers[:7] + voice[:6] + numbers[7:8] + voice[6:] + numbers[8:]


SETTING_PATHS: tuple[str, ...] = _in_model_order(NUMBER_PATHS, VOICE_PATHS)
_EMPTY: dict[str, Any] = {}
_by_e164 = attrgetter("e164")


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
        # A profile lookup that failed shows UNAVAILABLE or leaves the key out: unknown,
        # never "differs" (Carrier.unreadable); null is "no profile".
        (get("messaging_profile_id") or "") if "messaging_profile_id" in item else UNAVAILABLE,
        get("emergency_enabled", False),
        get("emergency_address_id") or "",
        get("emergency_status"),
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


_NUMBER_IDENT = itemgetter("id", "phone_number", "status", "tags")
_NUMBER_RAW = itemgetter(*(p.removeprefix("voice.") for p in NUMBER_PATHS[1:]), "emergency_status")
"""A ``GET /phone_numbers`` item's raw settings but tags, in one C call (``KeyError`` when one
is absent): with the tags, the key of the row ``number_values`` makes of them."""
MAX_MEMO = 1 << 16
"""Raw-value memos are emptied at this many entries (a read that shares nothing)."""


class Join:
    """Both listings, decoded page by page as they arrive, one entry per id, joined on id as
    soon as both halves of a number are read.

    Memory is what bounds a big read, so a number is held once, as its final ``LiveNumber``,
    from the moment its second half arrives: ``numbers`` maps each id (in the order the
    numbers listing first showed it) to that ``LiveNumber``, or to its numbers half while the
    voice half is not read yet; ``voice`` holds voice halves whose numbers half is not read
    yet. The two listings are read side by side, so the halves waiting are a few pages' worth.
    Equal values are held once: a row of settings (a listing item's values) and a status are
    shared by value within the read (accounts are configured by the hundred, not number by
    number), and numbers with equal rows share one settings dict. Nothing else of a page
    outlives it.

    Decoding ``GET /phone_numbers`` has a fast path: an item with every field present whose
    raw values were seen before in this read takes the row made from them then
    (``number_values`` is a pure function of them); any other item is decoded in full.
    """

    def __init__(self) -> None:
        self.numbers: dict[str, LiveNumber | tuple[str, str, bool, tuple[Any, ...]]] = {}
        self.voice: dict[str, tuple[Any, ...]] = {}
        self.repeats = 0
        """Items seen twice (a listing shifted under the read: a number was bought)."""
        self._same: dict[Any, Any] = {}  # value → the one instance this read keeps
        self._rows: dict[Any, tuple[Any, ...]] = {}  # raw values → their shared row
        self._statuses: dict[Any, tuple[str, bool]] = {}  # raw status → (status, patchable)
        # (id(row), id(voice)) → (settings, row, voice): the rows are kept in the entry so that
        # no id is reused by another object while the read runs (an unshared row may be freed).
        self._pairs: dict[tuple[int, int], tuple[dict[str, Any], Any, Any]] = {}
        self._halves: dict[int, tuple[Any, Any]] = {}  # id(settings) → (row, voice)

    @without_gc
    def numbers_page(self, body: dict[str, Any]) -> int:
        """Decode a ``GET /phone_numbers`` page → how many ids it added (``Unusable`` when an
        item cannot be read)."""
        data = _data(body)
        numbers, waiting, rows, statuses = self.numbers, self.voice, self._rows, self._statuses
        ident, raw, joined = _NUMBER_IDENT, _NUMBER_RAW, self._joined
        added = 0
        for item in data:
            try:
                id_, e164, status, tags = ident(item)
                row = rows[raw(item), tuple(tags)]
                status, patchable = statuses[status]
            except (KeyError, TypeError):  # a field absent, a value unhashable, or new
                id_, e164, status, patchable, row = self._number(item, data)
            if type(id_) is not str or type(e164) is not str or not _is_e164(e164):
                raise Unusable(f"the item with id {_shown(id_)} has phone_number {_shown(e164)}")
            entry = numbers.get(id_)
            if entry is None:
                added += 1
                voice = waiting.pop(id_, None)
                if voice is None:
                    numbers[id_] = (e164, status, patchable, row)
                else:
                    numbers[id_] = joined(id_, e164, status, patchable, row, voice)
            elif isinstance(entry, tuple):  # seen again, still waiting for its voice half
                numbers[id_] = (e164, status, patchable, row)
            else:  # seen again once joined: its voice half stays
                voice = self._halves[id(entry.settings)][1]
                numbers[id_] = joined(id_, e164, status, patchable, row, voice)
        self.repeats += len(data) - added
        return added

    def _number(self, item: Any, data: Any) -> tuple[Any, Any, str, bool, tuple[Any, ...]]:
        """One ``GET /phone_numbers`` item decoded in full (and its raw values remembered)."""
        try:
            id_, e164, status = item["id"], item["phone_number"], item.get("status")
            row = self._shared(number_values(item))
        except (KeyError, TypeError, AttributeError):
            raise Unusable(_culprit(data, number_values, "phone_number")) from None
        shown = status if type(status) is str else ""
        try:
            _remember(self._statuses, status, (shown, shown == "active"))
            _remember(self._rows, (_NUMBER_RAW(item), tuple(item["tags"])), row)
        except (KeyError, TypeError):
            pass  # not remembered: the next item alike is decoded in full too
        return id_, e164, shown, shown == "active", row

    @without_gc
    def voice_page(self, body: dict[str, Any]) -> int:
        """Decode a ``GET /phone_numbers/voice`` page → how many ids it added."""
        data = _data(body)
        numbers, waiting, pairs, same = self.numbers, self.voice, self._pairs, self._same
        added = 0
        for item in data:
            try:
                id_ = item["id"]
                voice = same.setdefault(row := voice_values(item), row)
                entry = numbers.get(id_)
            except (KeyError, TypeError, AttributeError):  # malformed, or a value unhashable
                id_, voice, entry = self._voice(item, data)
            if entry is None:
                added += id_ not in waiting
                waiting[id_] = voice
            elif isinstance(entry, tuple):  # the usual case: joined as its second half arrives
                added += 1
                e164, status, patchable, row = entry
                pair = pairs.get((id(row), id(voice))) or self._pair(row, voice)
                numbers[id_] = LiveNumber(id_, e164, status, pair[0], patchable)
            else:  # seen again once joined: its numbers half stays
                row = self._halves[id(entry.settings)][0]
                numbers[id_] = self._joined(
                    id_, entry.e164, entry.status, entry.patchable, row, voice
                )
        self.repeats += len(data) - added
        return added

    def _voice(self, item: Any, data: Any) -> tuple[Any, tuple[Any, ...], Any]:
        """One ``GET /phone_numbers/voice`` item the fast path could not take: its id, its row
        (kept as it came when unhashable) and its entry in ``numbers``."""
        try:
            id_, voice = item["id"], self._shared(voice_values(item))
            return id_, voice, self.numbers.get(id_)
        except (KeyError, TypeError, AttributeError):
            raise Unusable(_culprit(data, voice_values, None)) from None

    def _joined(
        self,
        id_: str,
        e164: str,
        status: str,
        patchable: bool,
        row: tuple[Any, ...],
        voice: tuple[Any, ...],
    ) -> LiveNumber:
        """The number from its two halves; numbers whose rows are the same objects share one
        settings dict (rows are shared, so identity says equality)."""
        pair = self._pairs.get((id(row), id(voice))) or self._pair(row, voice)
        return LiveNumber(id_, e164, status, pair[0], patchable)

    def _pair(
        self, row: tuple[Any, ...], voice: tuple[Any, ...]
    ) -> tuple[dict[str, Any], Any, Any]:
        """The settings of a pair of rows not joined before in this read."""
        pair = self._pairs[id(row), id(voice)] = (_settings(row, voice), row, voice)
        self._halves[id(pair[0])] = (row, voice)
        return pair

    def _shared(self, value: T) -> T:
        """The instance of ``value`` this read keeps (``value`` itself when unhashable: a
        malformed item is kept as it came, only not shared)."""
        try:
            return self._same.setdefault(value, value)  # type: ignore[no-any-return]
        except TypeError:
            return value

    def orphans(self) -> tuple[list[str], list[str]]:
        """(ids without a voice row, ids with only a voice row), to be read one by one."""
        return [i for i, e in self.numbers.items() if isinstance(e, tuple)], list(self.voice)

    def forget(self, id_: str) -> None:
        """The number is gone (released while the listings were read)."""
        self.numbers.pop(id_, None)
        self.voice.pop(id_, None)

    def result(self) -> list[LiveNumber]:
        """Sorted by e164. Only numbers read from both listings: half a number is never built
        (``orphans`` must be settled first; any left are dropped with a warning)."""
        out = [e for e in self.numbers.values() if not isinstance(e, tuple)]
        if len(out) < len(self.numbers):
            for id_, entry in self.numbers.items():
                if isinstance(entry, tuple):
                    log.warning(
                        "%s (%s) has no voice settings; left out of this read", entry[0], id_
                    )
        for memo in (self._same, self._rows, self._statuses, self._pairs):
            memo.clear()
        self._halves.clear()
        out.sort(key=_by_e164)
        return out


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """``memo[key] = value``, the memo emptied first when full (``TypeError``: unhashable)."""
    if len(memo) >= MAX_MEMO:
        memo.clear()
    memo[key] = value


EMERGENCY_STATUS = "emergency_status"
SETTLED = frozenset({"active", "disabled", None})
"""``emergency_status`` values that need no key in the settings: the provider's verify reads the
others (``provisioning``, ``deprovisioning``, ``provisioning-failed``) to wait or fail."""


def _settings(values: tuple[Any, ...], voice: tuple[Any, ...]) -> dict[str, Any]:
    """A number's flat canonical settings from its two rows; ``emergency_status`` too while the
    carrier has not settled it (not a setting: nothing sets it; verify reads it)."""
    *row, status = _in_model_order(values, voice)
    settings = dict(zip(SETTING_PATHS, row, strict=True))
    if status not in SETTLED:
        settings[EMERGENCY_STATUS] = status
    settings["tags"] = list(settings["tags"])
    return settings


def _data(body: dict[str, Any]) -> Any:
    data = body.get("data") or ()
    if type(data) is not list and data != ():
        raise Unusable(f"data is {_shown(data)}, not a list")
    return data


def _culprit(data: Any, values: Callable[[dict[str, Any]], Any], key: str | None) -> str:
    """What is wrong with the first item of ``data`` that cannot be decoded."""
    for n, item in enumerate(data, 1):
        if type(item) is not dict:
            return f"item {n} is {_shown(item)}, not an object"
        id_ = item.get("id")
        if type(id_) is not str:
            return f"item {n} has id {_shown(id_)} (expected a string)"
        if key is not None and key not in item:
            return f"the item with id {id_} has no {key}"
        try:
            values(item)
        except (TypeError, AttributeError):
            return f"the item with id {id_} has a setting of an unexpected type"
    return "an item cannot be read"


def _is_e164(text: str) -> bool:
    return text[:1] == "+" and text[1:].isdigit() and text[1:].isascii()


def _shown(value: Any) -> str:
    return "null" if value is None else f"{value!r}"[:40]


@dataclass(frozen=True)
class PageInfo:
    """What one listing page says about where the listing ends."""

    count: int
    size: int
    total_pages: int | None
    total_results: int | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> PageInfo:
        """Leniently (the jobs listings, read a bounded number of pages): a field that is not
        a usable count reads as absent."""
        meta = body.get("meta")
        meta = meta if type(meta) is dict else _EMPTY
        data = body.get("data")
        size = _int(meta.get("page_size"))
        return cls(
            len(data) if type(data) is list else 0,
            size if size else PAGE_SIZE,
            _int(meta.get("total_pages")),
            _int(meta.get("total_results")),
        )

    @classmethod
    def checked(cls, body: dict[str, Any], page: int) -> PageInfo:
        """Strictly (the numbers listings): ``Unusable`` when page ``page``'s paging cannot
        be trusted (module docstring)."""
        meta = body.get("meta")
        if meta is not None and type(meta) is not dict:
            raise Unusable(f"page {page}: meta is {_shown(meta)}, not an object")
        meta = meta or _EMPTY
        fields = {}
        for name, least in (("page_size", 1), ("total_pages", 0), ("total_results", 0)):
            value = meta.get(name)
            if value is not None and (_int(value) is None or value < least):
                raise Unusable(
                    f"page {page}: meta.{name} is {_shown(value)} (expected a whole number "
                    f"≥ {least})"
                )
            fields[name] = value
        size = fields["page_size"] or PAGE_SIZE
        pages, results = fields["total_pages"], fields["total_results"]
        if pages is not None and pages > MAX_PAGES:
            raise Unusable(
                f"page {page}: meta.total_pages is {pages}, above the ceiling of {MAX_PAGES} "
                "pages a listing is read to"
            )
        if results is not None and results > MAX_PAGES * size:
            raise Unusable(
                f"page {page}: meta.total_results is {results}, above the ceiling of "
                f"{MAX_PAGES} pages of {size}"
            )
        if pages is not None and results is not None:
            expected = -(-results // size)
            if pages != expected and not (results == 0 and pages <= 1):
                raise Unusable(
                    f"page {page}: meta.total_pages is {pages}, but total_results {results} at "
                    f"page_size {size} make {expected}"
                )
        return cls(len(_data(body)), size, pages, results)

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
    decode: Callable[[dict[str, Any]], int],
    *,
    opening: int,
    wave: int,
    window: int,
    progress: Callable[[PageInfo], None],
) -> tuple[int, PageInfo, PageInfo]:
    """Read one listing to its end, ``fetch(page)`` → body, decoding pages as they arrive
    (``decode`` → ids the page added) → (pages it had, page 1's info, its last page's info).

    Pages are asked for in order, at most ``window`` at once, each fetch started only when a
    slot is free. Ahead of the page being judged: pages 1..``opening`` at first; then up to the
    count a page announced (``PageInfo.pages``), or ``wave`` pages when none does. A page that
    failed is an error only if it lies inside the listing. Raises ``Unusable`` for paging that
    cannot be trusted (module docstring).
    """
    seen: dict[int, tuple[PageInfo, int] | ProviderError | Unusable] = {}
    flying: set[asyncio.Task[None]] = set()

    async def one(page: int) -> None:
        try:
            body = await fetch(page)
        except ProviderError as exc:  # judged once we know whether the page is inside
            seen[page] = exc
            return
        try:
            info = PageInfo.checked(body, page)
            added = decode(body)  # decoded as it arrives: the raw page is dropped right away
        except Unusable as exc:  # judged in page order, like a refused page
            text = str(exc)
            seen[page] = Unusable(text if text.startswith("page ") else f"page {page}: {text}")
            return
        seen[page] = (info, added)
        progress(info)

    first: PageInfo | None = None
    asked = 0  # pages asked for so far: 1..asked
    most = 0  # the most results any page announced
    page = 1
    try:
        while True:
            if first is None:
                horizon = opening
            else:
                known = first.pages
                horizon = known if known is not None and known >= page else page + wave - 1
            horizon = min(horizon, MAX_PAGES + 1)
            while len(flying) < window and asked < horizon:
                asked += 1
                flying.add(asyncio.ensure_future(one(asked)))
            if page not in seen:
                done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                flying -= done
                failed = [e for e in (t.exception() for t in done) if e is not None]
                if failed:  # a bug, not a page: every failure retrieved, the first raised
                    raise failed[0]
                continue
            got = seen.pop(page)
            if isinstance(got, ProviderError | Unusable):
                raise got
            info, added = got
            first = first or info
            if info.ends(page, first):
                return page, first, info
            most = max(most, info.total_results or 0)
            if page > 1 and added == 0:
                raise Unusable(
                    f"page {page}: a full page with no number not already read (the listing "
                    "does not advance: page[number] ignored?)"
                )
            ceiling = -(-most // info.size) + 1 if most else MAX_PAGES
            if page >= min(ceiling, MAX_PAGES):
                raise Unusable(
                    f"page {page}: a full page past the {ceiling - 1} pages meta.total_results "
                    f"({most}) allows at page_size {info.size}"
                    if most
                    else f"page {page}: a full page past the ceiling of {MAX_PAGES} pages"
                )
            page += 1
    finally:
        # Pages still in flight past the end: awaited, not cancelled (a request half sent
        # stays whole); on an error they are cancelled.
        if flying:
            if sys.exc_info()[0] is not None:
                for task in flying:
                    task.cancel()
            await asyncio.gather(*flying, return_exceptions=True)


async def settle_orphans(
    join: Join, get: Callable[[str], Awaitable[dict[str, Any]]], *, numbers: str
) -> None:
    """Read alone (``get(path)`` → body, ``{}`` when 404) each number the join has from one
    listing only: ``{numbers}/{id}/voice`` or ``{numbers}/{id}``; forget those that are gone."""
    no_voice, no_number = join.orphans()

    async def one(id_: str, path: str, decode: Callable[[dict[str, Any]], int]) -> None:
        found = await get(path)
        if isinstance(found.get("data"), dict):
            decode({"data": [found["data"]]})
        else:
            join.forget(id_)  # released meanwhile

    await asyncio.gather(
        *(one(i, f"{numbers}/{i}/voice", join.voice_page) for i in no_voice),
        *(one(i, f"{numbers}/{i}", join.numbers_page) for i in no_number),
    )
