"""Wavix response bodies → canonical ``LiveNumber`` values, read as the live API really answers.

The spec marks every ``Number`` field required and most of them non-null, but Wavix's own MCP
server widens every response scalar to nullable ("the live API can still return null"), and the
docs show destinations without ``transport``. So nothing here trusts the schema, and nothing is
guessed. The rules:

* ``id`` and ``number`` identify a number; an item without a usable one is a ``BadData`` error
  (the provider turns it into a ``ProviderError`` "carrier data: …" naming what is known).
* Documented defaults are applied: ``sms_relay_url`` and ``call_status_url`` are nullable in the
  spec (null or absent: unset); a destination's ``trunk_id`` is "set only when transport is 5,
  otherwise null" (absent: null); ``status`` is not a setting (absent or null: "").
* Every other setting (the three booleans, ``transcription_threshold``, ``destination`` and each
  destination's ``destination``, ``priority``, ``transport``) has no documented default. A null,
  absent or mistyped value there is never read as a value: the number is returned with that
  setting ``None`` and ``patchable=False``, its ``status`` saying ``carrier data: …``. The planner
  then lists it (when the YAML manages it and it differs) and never patches it from a guess.

The well-formed case runs once per number of the account (millions): ``live_all`` decodes a page's
items of the exact documented shape inline (every field present, every type exact, values seen
before in this read) with a handful of type checks, and hands any other item to ``live``, the
careful path, which works the problems out. Both give the same ``LiveNumber`` for the same item
(tests/test_decode_fast.py checks it on generated items).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from ...models import LiveNumber
from .settings import canonical_destinations


class Interned:
    """Values shared by value within one read, as the Telnyx listing shares its rows: canonical
    destination lists (numbers routed alike) and whole settings dicts (numbers configured alike;
    a million numbers under a few profiles hold a few hundred dicts, not a million). Both live as
    long as this object, which lives for one read; shared settings are never mutated
    (``reconciler.intern`` states the contract the planner relies on)."""

    __slots__ = ("destinations", "settings")

    def __init__(self) -> None:
        self.destinations: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self.settings: dict[tuple[Any, ...], dict[str, Any]] = {}


FLAGS = ("sms_enabled", "call_recording_enabled", "transcription_enabled")
NULLABLE_URLS = ("sms_relay_url", "call_status_url")
DESTINATION_KEYS = (("destination", str), ("priority", int), ("transport", int))


class BadData(ValueError):
    """A response that breaks the carrier's documented shape where no default applies."""


MAX_PAGES = 100_000
"""No listing is read past this many pages (10 million numbers at 100 a page)."""


@dataclass(frozen=True)
class Paging:
    """What a listing page's ``pagination`` says: pages in all, and the page size."""

    total_pages: int
    per_page: int | None
    total: int | None


def paging(body: Any, page: int) -> Paging:
    """``pagination`` of a listing page, checked (``BadData`` naming the page and the field):
    counts are whole numbers (``per_page`` ≥ 1), ``total_pages`` agrees with ``total`` and
    ``per_page`` and stays under ``MAX_PAGES``."""
    pagination = body.get("pagination") if type(body) is dict else None
    if type(pagination) is not dict:
        raise BadData(f"page {page} has no pagination object")
    fields: dict[str, int | None] = {}
    for name, least in (("total_pages", 0), ("per_page", 1), ("total", 0)):
        value = pagination.get(name)
        if value is None and name != "total_pages":
            fields[name] = None
            continue
        if value is None:
            raise BadData(f"page {page} has no pagination.total_pages")
        if type(value) is not int or value < least:
            raise BadData(
                f"page {page}: pagination.{name} is {_shown(value)} (expected a whole number "
                f"≥ {least})"
            )
        fields[name] = value
    pages, size, total = fields["total_pages"], fields["per_page"], fields["total"]
    assert pages is not None
    if pages > MAX_PAGES:
        raise BadData(
            f"page {page}: pagination.total_pages is {pages}, above the ceiling of {MAX_PAGES} "
            "pages a listing is read to"
        )
    if size is not None and total is not None:
        expected = -(-total // size)
        if pages != expected and not (total == 0 and pages <= 1):
            raise BadData(
                f"page {page}: pagination.total_pages is {pages}, but total {total} at per_page "
                f"{size} make {expected}"
            )
    return Paging(pages, size, total)


def page_items(body: Any, page: int) -> list[Any]:
    items = body.get("items") if type(body) is dict else None
    if type(items) is not list:
        raise BadData(f"page {page} has no items list")
    return items


_WIRE = itemgetter(
    "id",
    "number",
    "destination",
    "sms_enabled",
    "sms_relay_url",
    "call_recording_enabled",
    "transcription_enabled",
    "transcription_threshold",
    "call_status_url",
    "status",
)
"""A ``Number``'s fields this client reads, in one C call (``KeyError`` when one is absent)."""
_DESTINATION = itemgetter("destination", "priority", "transport", "trunk_id")


def live_all(items: list[Any], interned: Interned) -> list[LiveNumber]:
    """``[live(item, interned) for item in items]``, the common shape decoded inline.

    An item takes the inline path when every field is present with its exact type and its
    destination list and settings were seen before in this read (then they are the shared
    values ``live`` handed out); anything else, or anything new, goes through ``live``, which
    checks it field by field and shares what it builds, so the next item alike takes the
    inline path.
    """
    out: list[LiveNumber] = []
    append = out.append
    known_destinations = interned.destinations
    known_settings = interned.settings
    wire, destination = _WIRE, _DESTINATION
    for item in items:
        try:
            id_, number, items_, sms, relay, recording, transcription, threshold, url, status = (
                wire(item)
            )
            key = tuple(map(destination, items_))
        except (KeyError, TypeError):  # not an object, a field absent, destinations odd
            append(live(item, interned))
            continue
        if not (
            type(id_) is int
            and id_ > 0
            and type(number) is str
            and number.isdigit()
            and type(status) is str
            and type(sms) is bool
            and type(recording) is bool
            and type(transcription) is bool
            and type(threshold) is int
            and (relay is None or type(relay) is str)
            and (url is None or type(url) is str)
        ):
            append(live(item, interned))
            continue
        for _, priority, transport, trunk in key:
            # Exact types: a key of equal values (True == 1 == 1.0) must not find the list.
            if type(priority) is not int or type(transport) is not int:
                break
            if trunk is not None and type(trunk) is not int:
                break
        else:
            try:
                destinations = known_destinations.get(key)
            except TypeError:  # a destination that is unhashable: not the usual shape
                destinations = None
            if destinations is not None:
                alike = _settings_key(
                    sms, destinations, relay, recording, transcription, threshold, url
                )
                settings = known_settings.get(alike)
                if settings is not None:
                    append(LiveNumber(str(id_), "+" + number, status, settings))
                    continue
        append(live(item, interned))
    return out


def live(item: Any, interned: Interned) -> LiveNumber:
    """A response ``Number`` → ``LiveNumber`` (see the module docstring for what is tolerated)."""
    id_ = _id(item)
    number = item.get("number")
    if type(number) is not str or not number.lstrip("+").isdigit():
        raise BadData(f"number id {id_} has no phone number")
    destinations = _destinations(item.get("destination"), interned)
    get = item.get
    sms, relay, recording = get("sms_enabled"), get("sms_relay_url"), get("call_recording_enabled")
    transcription, threshold = get("transcription_enabled"), get("transcription_threshold")
    status_url = get("call_status_url")
    e164 = number if number.startswith("+") else "+" + number
    status = get("status")
    status = status if type(status) is str else ""
    settings = {
        "sms_enabled": sms,
        "destinations": destinations,
        "sms_relay_url": relay,
        "call_recording_enabled": recording,
        "transcription_enabled": transcription,
        "transcription_threshold": threshold,
        "call_status_url": status_url,
    }
    if (
        type(sms) is bool
        and type(recording) is bool
        and type(transcription) is bool
        and type(threshold) is int
        and destinations is not None
        and type(relay) in (str, type(None))
        and type(status_url) in (str, type(None))
    ):
        key = _settings_key(
            sms, destinations, relay, recording, transcription, threshold, status_url
        )
        shared = interned.settings.setdefault(key, settings)
        return LiveNumber(id=id_, e164=e164, status=status, settings=shared)
    problems = _problems(item)
    for field in (*FLAGS, "transcription_threshold", *NULLABLE_URLS):
        if any(p.startswith(field + " ") for p in problems):
            settings[field] = None  # unreadable: never a guess
    return LiveNumber(
        id=id_,
        e164=e164,
        status="carrier data: " + "; ".join(problems),
        settings=settings,
        patchable=False,
    )


def _settings_key(
    sms: bool,
    destinations: list[dict[str, Any]],
    relay: str | None,
    recording: bool,
    transcription: bool,
    threshold: int,
    status_url: str | None,
) -> tuple[Any, ...]:
    """The key equal settings share within a read (``Interned.settings``), written once for the
    inline path and the careful one. Only for values of their exact types (bool is not int), so
    equal keys mean equal content; the destination list is interned, so its id stands for its
    content while the read runs."""
    return (sms, id(destinations), relay, recording, transcription, threshold, status_url)


def _id(item: Any) -> str:
    if type(item) is not dict:
        raise BadData(f"an item is not an object: {str(item)[:60]}")
    id_ = item.get("id")
    if type(id_) is int and id_ > 0:
        return str(id_)
    if type(id_) is str and id_.isascii() and id_.isdigit():
        return id_
    number = item.get("number")
    raise BadData(f"the item of number {number!r} has no usable id ({id_!r})")


def _destinations(items: Any, interned: Interned) -> list[dict[str, Any]] | None:
    """The canonical list (shared by value through ``interned``), or None when unreadable."""
    if type(items) is not list:
        return None
    try:
        key = tuple(
            (d["destination"], d["priority"], d["transport"], d.get("trunk_id")) for d in items
        )
    except (KeyError, TypeError, AttributeError):
        return None
    # Types checked before the lookup: equal keys may differ in type (True == 1 == 1.0), and
    # a priority of true is carrier data even when a list with priority 1 was read before.
    for dest, prio, transport, trunk in key:
        if type(dest) is not str or type(prio) is not int or type(transport) is not int:
            return None
        if trunk is not None and type(trunk) is not int:
            return None
    out = interned.destinations.get(key)
    if out is None:
        out = interned.destinations[key] = canonical_destinations(items)
    return out


def _problems(item: dict[str, Any]) -> list[str]:
    """What is wrong with an item that failed the fast checks, one phrase per field."""
    checks = [*((f, bool) for f in FLAGS), ("transcription_threshold", int)]
    out = [p for p in (_kind(item, f, kind) for f, kind in checks) if p]
    out += [
        f"{f} is not a string" for f in NULLABLE_URLS if type(item.get(f)) not in (str, type(None))
    ]
    items = item.get("destination")
    if type(items) is not list:
        out.append(_kind(item, "destination", list) or "destination is not a list")
        return out
    for n, d in enumerate(items, 1):
        if type(d) is not dict:
            out.append(f"destination {n} is not an object")
            continue
        for key, kind in DESTINATION_KEYS:
            if key not in d:
                out.append(f"destination {n} has no {key}")
            elif type(d[key]) is not kind:
                out.append(f"destination {n} has a {key} that is {_shown(d[key])}")
        if d.get("trunk_id") is not None and type(d["trunk_id"]) is not int:
            out.append(f"destination {n} has a trunk_id that is {_shown(d['trunk_id'])}")
    return out


def _kind(item: dict[str, Any], field: str, kind: type) -> str | None:
    if field not in item:
        return f"{field} is missing"
    if type(item[field]) is not kind:  # type(True) is bool, never int
        return f"{field} is {_shown(item[field])}"
    return None


def _shown(value: Any) -> str:
    return "null" if value is None else f"{value!r}"[:40]
