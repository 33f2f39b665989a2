"""Quirk profiles: what is peculiar about one counterpart, declared in its config.

A profile names the counterpart's encoding (used when neither the body nor
the HTTP header says), the date formats it writes, its SOAP version, the size
cap of one answer, its zone, and how it answers a write it already holds.
Adapters read these values; nothing about a counterpart's habits is coded
anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridge.clock import LOCAL_FORMAT
from bridge.errors import ConfigError, ValidationError
from bridge.mapping.converters import DATE_FORMATS

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class QuirkProfile:
    """How one counterpart really answers."""

    encoding: str | None = None
    date_formats: tuple[str, ...] = ("yyyy-MM-dd HH:mm:ss",)
    soap_version: str = "1.1"
    max_bytes: int = DEFAULT_MAX_BYTES
    zone: str = "Asia/Shanghai"
    already_done_prefix: str = "当前业务已"
    already_done_statuses: tuple[str, ...] = ("200", "300")
    already_done_messages: tuple[str, ...] = ("已存在",)
    drop_nil: bool = True

    def __post_init__(self) -> None:
        unknown = [name for name in self.date_formats if name not in DATE_FORMATS]
        if unknown:
            raise ConfigError(f"quirks.date_formats: unknown formats {unknown}")
        if self.soap_version not in ("1.1", "1.2"):
            raise ConfigError("quirks.soap_version: must be 1.1 or 1.2")
        if self.max_bytes <= 0:
            raise ConfigError("quirks.max_bytes: must be positive")
        ZoneInfo(self.zone)

    def parse_time(
        self, text: str | None, *, field: str, record: str | None = None
    ) -> datetime:
        """A zone-less time in a declared format, as a UTC instant; else an error."""
        value = (text or "").strip()
        for name in self.date_formats:
            try:
                naive = datetime.strptime(value, DATE_FORMATS[name])
            except ValueError:
                continue
            local = naive.replace(microsecond=0, tzinfo=ZoneInfo(self.zone))
            return local.astimezone(UTC)
        raise ValidationError(
            f"time {value!r} is in none of the declared formats "
            f"{', '.join(self.date_formats)}",
            field=field,
            record=record,
        )

    def local_text(
        self, text: str | None, *, field: str, record: str | None = None
    ) -> str:
        """The same time written ``yyyy-MM-dd HH:mm:ss`` in the counterpart's zone."""
        instant = self.parse_time(text, field=field, record=record)
        return instant.astimezone(ZoneInfo(self.zone)).strftime(LOCAL_FORMAT)

    def is_already_done(self, status: str, desc: str) -> bool:
        """Whether a center answer says the write was already applied."""
        return status in self.already_done_statuses and desc.startswith(
            self.already_done_prefix
        )


def profile_from(
    data: dict[str, Any] | QuirkProfile | None, where: str
) -> QuirkProfile:
    """A profile from a config sub-table; lists become tuples, names are checked."""
    if isinstance(data, QuirkProfile):
        return data
    known = {item.name for item in fields(QuirkProfile)}
    values: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key not in known:
            raise ConfigError(f"{where}.quirks.{key}: unknown setting")
        if isinstance(value, list):
            value = tuple(str(item) for item in value)
        values[key] = value
    return QuirkProfile(**values)
