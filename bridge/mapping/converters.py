"""The fixed converter library that mapping files may name.

Dates (from an explicit list of native formats to a zoned xs:dateTime and
back), trimming, full-width to half-width, split and join, and code tables
in both directions. Mapping files cannot add converters: a new need is a
new function here, with its tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

DATE_FORMATS: dict[str, str] = {
    "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S",
    "yyyy-MM-dd HH:mm:ss.S": "%Y-%m-%d %H:%M:%S.%f",
    "yyyy-MM-dd'T'HH:mm:ss": "%Y-%m-%dT%H:%M:%S",
    "yyyy/MM/dd HH:mm:ss": "%Y/%m/%d %H:%M:%S",
    "yyyyMMddHHmmss": "%Y%m%d%H%M%S",
    "yyyy年MM月dd日 HH:mm:ss": "%Y年%m月%d日 %H:%M:%S",
    "yyyy年MM月dd日": "%Y年%m月%d日",
    "yyyy-MM-dd": "%Y-%m-%d",
    "yyyyMMdd": "%Y%m%d",
}

#: the commonest native format, read without strptime when the text has exactly
#: its shape (two digits everywhere; strptime reads the rest, one-digit forms too)
_PLAIN_FORMAT = "yyyy-MM-dd HH:mm:ss"
_PLAIN = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})"
)

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH[0x3000] = 0x20


def halfwidth(text: str) -> str:
    """Full-width ASCII forms and the ideographic space as their ASCII twins."""
    return text.translate(_FULL_WIDTH)


def to_zoned(text: str, formats: list[str], zone: str) -> str:
    """A zone-less native time read with the first fitting format, as xs:dateTime.

    Raises ValueError when no listed format fits.
    """
    for name in formats:
        try:
            naive = _read_time(text, name)
        except ValueError:
            continue
        zoned = naive.replace(microsecond=0, tzinfo=ZoneInfo(zone))
        return zoned.isoformat(timespec="seconds")
    raise ValueError(f"{text!r} fits none of the formats {', '.join(formats)}")


def _read_time(text: str, name: str) -> datetime:
    if name == _PLAIN_FORMAT:
        plain = _PLAIN.fullmatch(text)
        if plain is not None:
            year, month, day, hour, minute, second = map(int, plain.groups())
            return datetime(year, month, day, hour, minute, second)
    return datetime.strptime(text, DATE_FORMATS[name])


def from_zoned(text: str, format_name: str, zone: str) -> str:
    """An xs:dateTime with an offset, written as local time of ``zone``.

    Raises ValueError for a time without an offset or in another form.
    """
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} carries no zone offset")
    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime(DATE_FORMATS[format_name])


def split(text: str, separator: str) -> list[str]:
    """The non-empty, trimmed parts of ``text`` between separators."""
    return [part.strip() for part in text.split(separator) if part.strip()]


def join(values: list[str], separator: str, trailing: bool = False) -> str:
    """The non-empty values joined, with a trailing separator when asked."""
    kept = [value for value in values if value]
    joined = separator.join(kept)
    return joined + separator if trailing and kept else joined


@dataclass
class CodeTable:
    """A code table: native codes to interchange codes, and back.

    Going back, the first native code listed for an interchange code wins,
    unless ``outbound`` names one explicitly. A code found in neither is an
    error, unless the table has an ``otherwise`` value.
    """

    name: str
    inbound: dict[str, str]
    outbound: dict[str, str] = field(default_factory=dict)
    otherwise: str | None = None

    def __post_init__(self) -> None:
        merged: dict[str, str] = {}
        for native, interchange in self.inbound.items():
            merged.setdefault(interchange, native)
        merged.update(self.outbound)
        self.outbound = merged

    def to_interchange(self, code: str) -> str:
        """The interchange code for native ``code``; KeyError when unknown."""
        if code not in self.inbound and self.otherwise is not None:
            return self.otherwise
        return self.inbound[code]

    def to_native(self, code: str) -> str:
        """The native code for interchange ``code``; KeyError when unknown."""
        if code not in self.outbound and self.otherwise is not None:
            return self.otherwise
        return self.outbound[code]
