"""E.164 validity: ``check_e164`` (the verdict and its wording) and ``PlainE164`` (a fast
exact verdict for the usual number, from the same ``phonenumbers`` metadata).

``check_e164`` is what every E.164 setting and exact selector is validated with; ``PlainE164``
answers only for the plain shape and leaves the rest (and every error message) to it.
``tests/test_loader.py`` checks the two agree on every region's example numbers and random digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import phonenumbers


def check_e164(value: str) -> str:
    """A valid +E.164 number (phonenumbers decides validity), returned in E.164 form."""
    if not value.startswith("+"):
        raise ValueError(f"{value!r} is not in +E.164 form (it must start with '+')")
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164 != value:
        raise ValueError(f"{value!r} is not in E.164 form; write {e164!r}")
    return value


class PlainE164:
    """A fast exact verdict for the usual exact number: ``+`` and digits in E.164 form, valid.

    For ``+<country code><national number>`` whose national number has no leading zero and does
    not start with the country's national prefix, parsing changes nothing: the number is
    ``PhoneNumber(country_code, national_number)``, so ``phonenumbers.is_valid_number`` on it is
    check_e164's verdict. That verdict is computed here from the same metadata, the same way, but
    with each region's patterns compiled once (see ``_Region``) instead of ~20 Python calls and
    regex-cache look-ups per number (``_number_type_helper``), which made validity half of a large
    load. Anything else answers False: ask ``check_e164`` (which also words the error).
    ``tests/test_loader.py`` checks this verdict equals ``is_valid_number`` on every region's
    example numbers and random digits, both ways.
    """

    _SHAPE = re.compile(r"\+[1-9][0-9]{2,19}")

    def __init__(self) -> None:
        self._codes: dict[int, _Code] = {}
        # First three digits → (length of the calling code, its table), None when no code fits:
        # a calling code is one to three digits, so these decide it.
        self._heads: dict[str, tuple[int, _Code] | None] = {}

    def valid(self, value: str) -> bool:
        if not self._SHAPE.fullmatch(value):
            return False
        head = value[1:4]
        if head in self._heads:
            found = self._heads[head]
        else:
            found = self._heads[head] = self._code_of(head)
        if found is None:
            return False
        size, table = found
        national = value[1 + size :]
        if not 2 <= len(national) <= 17 or national[0] == "0":
            return False
        if table.prefix is not None and table.prefix.match(national):
            return False
        return table.valid(national)

    def _code_of(self, head: str) -> tuple[int, _Code] | None:
        for size in (1, 2, 3):
            code = int(head[:size])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                break
        else:
            return None
        table = self._codes.get(code)
        if table is None:
            table = self._codes[code] = _Code(code)
        return size, table


class _Region:
    """``_number_type_helper(nsn, meta) != UNKNOWN`` for one region's metadata, compiled once.

    phonenumbers calls a number valid for a region when the general description matches it and
    so does one of the type descriptions (premium rate … voicemail, fixed line, and mobile unless
    ``same_mobile_and_fixed_line_pattern``: then mobile is never consulted on its own). A
    description matches when it exists, its ``possible_length`` is empty or holds the length, and
    its non-empty pattern matches the whole number. Per length, the type patterns that may match
    are joined into one alternation (a full match of ``(?:a)|(?:b)`` is a full match of one),
    behind a lookahead for the general pattern: ``(?=(?:g)\\Z)`` holds when ``g`` matches it all.
    """

    _TYPES = (
        "premium_rate",
        "toll_free",
        "shared_cost",
        "voip",
        "personal_number",
        "pager",
        "uan",
        "voicemail",
        "fixed_line",
    )

    def __init__(self, meta: Any) -> None:
        self.general = meta.general_desc
        self.descs = [getattr(meta, name) for name in self._TYPES]
        if not meta.same_mobile_and_fixed_line_pattern:
            self.descs.append(meta.mobile)
        self.by_length: dict[int, re.Pattern[str] | None] = {}

    def valid(self, nsn: str) -> bool:
        size = len(nsn)
        if size not in self.by_length:
            self.by_length[size] = self._compile(size)
        pattern = self.by_length[size]
        return pattern is not None and pattern.fullmatch(nsn) is not None

    def _compile(self, size: int) -> re.Pattern[str] | None:
        general = _pattern_for(self.general, size)
        kinds = [p for p in (_pattern_for(d, size) for d in self.descs) if p is not None]
        if general is None or not kinds:
            return None
        return re.compile(f"(?=(?:{general})\\Z)(?:" + "|".join(f"(?:{p})" for p in kinds) + ")")


def _pattern_for(desc: Any, size: int) -> str | None:
    """The description's pattern if a number of ``size`` digits may match it."""
    if desc is None or (desc.possible_length and size not in desc.possible_length):
        return None
    return desc.national_number_pattern or None


_Step = tuple[re.Pattern[str] | None, _Region | None, _Region | None]
"""One region of a calling code's walk: (leading digits, the metadata the walk tests, the
region's own verdict)."""


class _Code:
    """``is_valid_number`` for the numbers of one country calling code.

    The region is found as ``region_code_for_number`` does: the only region, or the first of the
    list whose ``leading_digits`` match the start of the number, or (without ``leading_digits``)
    for which the number is valid. The number is then valid for that region when the region's
    calling code is this one (``is_valid_number_for_region``) and the region's patterns match.
    The walk is built as far as a number needs it: a region's metadata (one module of
    ``phonenumbers.data`` each, 25 of them behind +1) is loaded when the walk first reaches it.
    """

    def __init__(self, code: int) -> None:
        meta = phonenumbers.PhoneMetadata
        self.code = code
        self.regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
        main = meta.metadata_for_region_or_calling_code(
            code, phonenumbers.region_code_for_country_code(code)
        )
        pattern = main.national_prefix_for_parsing if main is not None else None
        self.prefix = re.compile(pattern) if pattern else None
        self.single = len(self.regions) == 1
        self.walk: list[_Step] = []
        self._built = 0  # regions of ``self.regions`` looked at so far

    def valid(self, nsn: str) -> bool:
        if self.single:
            first = next(self._steps(), None)
            verdict = first[2] if first is not None else None
            return verdict is not None and verdict.valid(nsn)
        for leading, tested, verdict in self._steps():
            if leading is not None:
                if leading.match(nsn):
                    return verdict is not None and verdict.valid(nsn)
            elif tested is not None and tested.valid(nsn):
                # The same metadata (the usual case) has just said yes.
                return verdict is not None and (verdict is tested or verdict.valid(nsn))
        return False

    def _steps(self) -> Iterator[_Step]:
        """The walk in region order, each region's step built the first time it is reached."""
        i = 0
        while True:
            while i == len(self.walk):
                if self._built == len(self.regions):
                    return
                step = self._step(self.regions[self._built])
                self._built += 1
                if step is not None:
                    self.walk.append(step)
            yield self.walk[i]
            i += 1

    def _step(self, region: str) -> _Step | None:
        meta = phonenumbers.PhoneMetadata
        listed = meta.metadata_for_region(region.upper(), None)
        if listed is None and not self.single:
            return None  # the walk skips a region without metadata
        own = meta.metadata_for_region_or_calling_code(self.code, region.upper())
        ok = own is not None and (
            region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
            or (listed is not None and listed.country_code == self.code)
        )
        verdict = _Region(own) if ok else None
        tested = None if listed is None else verdict if listed is own else _Region(listed)
        leading = None
        if listed is not None and listed.leading_digits is not None:
            leading = re.compile(listed.leading_digits)
        return leading, tested, verdict
