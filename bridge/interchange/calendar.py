"""Working days and due dates by mainland China's official calendar.

Sources, first match wins (DESIGN.md §4): the calendar files
``config/calendar*.toml`` (a year's announced schedule, or single-day local
overrides); the chinesecalendar package (2004-2026, make-up working days
included); the holidays package's rules for China, which know later years but
no make-up working days, with a warning naming the year. Whatever reads
"today" takes a clock, so tests run on fixed dates.

A calendar file looks like this::

    [years.2027]                 # the announced schedule of a whole year
    holidays = ["2027-01-01", "2027-02-05"]
    workdays = ["2027-02-07"]    # weekend days worked (调休)

    [overrides]                  # single days, whatever the source says
    "2026-05-06" = "holiday"
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]
import holidays as holidays_pkg
import structlog

from bridge.errors import ConfigError

log = structlog.get_logger()

ZONE = ZoneInfo("Asia/Shanghai")
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now in Asia/Shanghai: the default clock."""
    return datetime.now(ZONE)


def fixed_clock(moment: datetime) -> Clock:
    """A clock that always answers ``moment`` (for tests and replays)."""
    return lambda: moment


@dataclass
class CalendarFile:
    """What the calendar files of config/ say: whole years and single days."""

    years: dict[int, tuple[frozenset[date], frozenset[date]]] = field(
        default_factory=dict
    )
    overrides: dict[date, bool] = field(default_factory=dict)


def load_calendar_files(paths: Iterable[Path]) -> CalendarFile:
    """Read calendar TOML files; a later file's entries win over an earlier one's."""
    loaded = CalendarFile()
    for path in sorted(paths):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            _merge(loaded, data)
        except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"calendar file {path}: {exc}", system="calendar", field=str(path)
            ) from exc
    return loaded


def _merge(loaded: CalendarFile, data: dict[str, object]) -> None:
    years = data.get("years", {})
    if not isinstance(years, dict):
        raise TypeError("[years] must be a table of years")
    for year, table in years.items():
        off = frozenset(_dates(table.get("holidays", [])))
        on = frozenset(_dates(table.get("workdays", [])))
        loaded.years[int(year)] = (off, on)

    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise TypeError("[overrides] must be a table of dates")
    for day, kind in overrides.items():
        if kind not in ("holiday", "workday"):
            raise ValueError(f"override {day}: expected holiday or workday")
        loaded.overrides[date.fromisoformat(day)] = kind == "workday"


def _dates(values: Iterable[str]) -> list[date]:
    return [date.fromisoformat(value) for value in values]


class WorkCalendar:
    """Answers whether a day is a working day, and moves dates by working days."""

    def __init__(
        self,
        files: Iterable[Path] | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if files is None:
            from bridge.paths import config_dir

            files = config_dir().glob("calendar*.toml")
        self.file = load_calendar_files(files)
        self.clock = clock
        self.warnings: dict[int, str] = {}

    def source_of(self, day: date) -> str:
        """Which source decides ``day``: override, file, chinesecalendar, holidays."""
        if day in self.file.overrides:
            return "override"
        if day.year in self.file.years:
            return "file"
        if _chinese_calendar_knows(day):
            return "chinesecalendar"
        return "holidays"

    def is_working_day(self, day: date) -> bool:
        """True when offices are open on ``day``."""
        source = self.source_of(day)
        if source == "override":
            return self.file.overrides[day]
        if source == "file":
            off, on = self.file.years[day.year]
            return day in on or (day.weekday() < 5 and day not in off)
        if source == "chinesecalendar":
            return bool(chinese_calendar.is_workday(day))
        return self._holidays_rule(day)

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself not
        counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def due_date(self, start: date, limit: int, unit: str) -> date:
        """The due date of a limit counted from ``start``.

        Working days: the ``limit``-th working day after ``start``. Calendar
        days: ``start`` plus ``limit`` days, moved to the next working day when
        that falls on a day off (as the civil code counts a period's end).
        """
        if unit == "workingDays":
            return self.add_working_days(start, limit)
        if unit != "calendarDays":
            raise ValueError(f"unknown limit unit {unit!r}")

        day = start + timedelta(days=limit)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``."""
        days = (end - start).days
        return sum(
            1
            for offset in range(1, days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )

    def today(self) -> date:
        """Today's date by the injected clock, in Asia/Shanghai."""
        return self.clock().astimezone(ZONE).date()

    def working_days_left(self, due: date) -> int:
        """Working days from today to ``due``; negative when it has passed."""
        today = self.today()
        if due >= today:
            return self.working_days_between(today, due)
        return -self.working_days_between(due, today)

    def _holidays_rule(self, day: date) -> bool:
        if day.year not in self.warnings:
            text = (
                f"no announced calendar for {day.year}: statutory holidays only, "
                "no make-up working days; add config/calendar.toml for that year"
            )
            self.warnings[day.year] = text
            log.warning("calendar.fallback", year=day.year, source="holidays")
        return day.weekday() < 5 and day not in _china_holidays(day.year)


def _chinese_calendar_knows(day: date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


_HOLIDAY_CACHE: dict[int, holidays_pkg.HolidayBase] = {}


def _china_holidays(year: int) -> holidays_pkg.HolidayBase:
    if year not in _HOLIDAY_CACHE:
        _HOLIDAY_CACHE[year] = holidays_pkg.country_holidays("CN", years=year)
    return _HOLIDAY_CACHE[year]
