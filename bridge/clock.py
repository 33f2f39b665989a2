"""Injectable clocks: everything that reads "now" takes one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


class Clock(Protocol):
    """A source of the current instant."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._instant = instant
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._instant

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._instant += timedelta(seconds=seconds)


class ZonedClock:
    """Wall-clock time in one zone, with an adjustable offset (skew tests)."""

    def __init__(
        self,
        zone: str = "Asia/Shanghai",
        offset_seconds: float = 0.0,
        base: Clock | None = None,
    ) -> None:
        self.zone = ZoneInfo(zone)
        self.offset_seconds = offset_seconds
        self._base = base or SystemClock()

    def now(self) -> datetime:
        shifted = self._base.now() + timedelta(seconds=self.offset_seconds)
        return shifted.astimezone(self.zone)

    def freeze(self) -> None:
        """Stop the clock where it is now (tests of equal timestamps)."""
        self._base = FixedClock(self._base.now())

    def thaw(self) -> None:
        """Let the clock run again from the instant it shows now."""
        if isinstance(self._base, FixedClock):
            stopped = self._base.now()
            self._base = SystemClock()
            self.offset_seconds += (stopped - self._base.now()).total_seconds()

    def local_naive(self) -> datetime:
        """Now as the legacy systems write it: local time without a zone."""
        return self.now().replace(tzinfo=None, microsecond=0)

    def local_text(self) -> str:
        return self.local_naive().strftime(LOCAL_FORMAT)


def parse_local(text: str, zone: str = "Asia/Shanghai") -> datetime:
    """Read a zone-less ``yyyy-MM-dd HH:mm:ss`` time as an instant in ``zone``."""
    naive = datetime.strptime(text.strip(), LOCAL_FORMAT)
    return naive.replace(tzinfo=ZoneInfo(zone))


def format_local(instant: datetime, zone: str = "Asia/Shanghai") -> str:
    """Write an instant as a zone-less local time of ``zone``."""
    return instant.astimezone(ZoneInfo(zone)).strftime(LOCAL_FORMAT)
