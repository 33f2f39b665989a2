"""The working-day calendar the reports use: bridge/interchange/calendar.py's
WorkCalendar when present, else a stand-in on the chinesecalendar package."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")


class Calendar(Protocol):
    """What a report asks of a working-day calendar."""

    def due_date(self, start: date, limit: int, unit: str) -> date: ...

    def working_days_between(self, start: date, end: date) -> int: ...

    def working_days_left(self, due: date) -> int: ...

    def today(self) -> date: ...


def work_calendar(clock: Callable[[], datetime] | None = None) -> Any:
    """The project's calendar (its files, chinesecalendar, holidays) on ``clock``."""
    try:
        from bridge.interchange.calendar import WorkCalendar
    except ImportError:
        return _ChineseCalendar(clock or (lambda: datetime.now(ZONE)))
    return WorkCalendar(clock=clock) if clock else WorkCalendar()


class _ChineseCalendar:
    """Working days by chinesecalendar alone (2004-2026, 调休 included)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def is_working_day(self, day: date) -> bool:
        import chinese_calendar  # type: ignore[import-untyped]

        return bool(chinese_calendar.is_workday(day))

    def due_date(self, start: date, limit: int, unit: str) -> date:
        day = start
        if unit == "calendarDays":
            day += timedelta(days=limit)
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        for _ in range(limit):
            day += timedelta(days=1)
            while not self.is_working_day(day):
                day += timedelta(days=1)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        days = (end - start).days
        return sum(
            self.is_working_day(start + timedelta(days=n)) for n in range(1, days + 1)
        )

    def working_days_left(self, due: date) -> int:
        today = self.today()
        if due >= today:
            return self.working_days_between(today, due)
        return -self.working_days_between(due, today)

    def today(self) -> date:
        return self.clock().astimezone(ZONE).date()
