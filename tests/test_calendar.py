"""Tests of working days and due dates: calendar file, chinesecalendar, holidays."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.interchange.calendar import ZONE, WorkCalendar, fixed_clock


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar(files=[])


def test_make_up_working_day_counts(calendar: WorkCalendar) -> None:
    """Sunday 2024-02-04 was worked (调休) and National Day 2024-10-01 was not."""
    assert calendar.is_working_day(date(2024, 2, 4))
    assert not calendar.is_working_day(date(2024, 10, 1))
    assert calendar.source_of(date(2024, 2, 4)) == "chinesecalendar"


def test_working_days_skip_national_day(calendar: WorkCalendar) -> None:
    """Five working days from Friday 2024-09-27 end on 2024-10-10, not 10-04."""
    due = calendar.due_date(date(2024, 9, 27), 5, "workingDays")

    assert due == date(2024, 10, 10)
    assert calendar.working_days_between(date(2024, 9, 27), due) == 5


def test_calendar_days_end_on_a_working_day(calendar: WorkCalendar) -> None:
    """Seven calendar days from 2024-09-24 fall on 10-01, so the due date is 10-08."""
    assert calendar.due_date(date(2024, 9, 24), 7, "calendarDays") == date(2024, 10, 8)


def test_example_case_due_date(calendar: WorkCalendar) -> None:
    """The example case accepted 2024-03-05 with 15 working days is due 2024-03-26."""
    assert calendar.due_date(date(2024, 3, 5), 15, "workingDays") == date(2024, 3, 26)


def test_calendar_file_wins(tmp_path: Path) -> None:
    """A year in a calendar file and a single-day override beat chinesecalendar."""
    path = tmp_path / "calendar-local.toml"
    path.write_text(
        '[years.2024]\nholidays = ["2024-03-06"]\nworkdays = ["2024-03-09"]\n'
        '[overrides]\n"2025-01-02" = "holiday"\n',
        encoding="utf-8",
    )
    calendar = WorkCalendar(files=[path])

    assert not calendar.is_working_day(date(2024, 3, 6))
    assert calendar.is_working_day(date(2024, 3, 9))
    assert not calendar.is_working_day(date(2024, 2, 4))
    assert not calendar.is_working_day(date(2025, 1, 2))
    assert calendar.source_of(date(2025, 1, 3)) == "chinesecalendar"


def test_later_year_falls_back_to_holidays_with_warning() -> None:
    """2027 is past chinesecalendar: holidays' rules decide and the year is named."""
    calendar = WorkCalendar(files=[])

    national_day = calendar.is_working_day(date(2027, 10, 1))

    assert calendar.source_of(date(2027, 10, 1)) == "holidays"
    assert national_day is False
    assert calendar.is_working_day(date(2027, 10, 12))
    assert list(calendar.warnings) == [2027]
    assert "2027" in calendar.warnings[2027]


def test_clock_is_injected() -> None:
    """today and working_days_left read the injected clock, in Asia/Shanghai."""
    moment = datetime(2024, 9, 26, 20, 0, tzinfo=ZONE)
    calendar = WorkCalendar(files=[], clock=fixed_clock(moment))

    assert calendar.today() == date(2024, 9, 26)
    assert calendar.working_days_left(date(2024, 10, 10)) == 6
    assert calendar.working_days_left(date(2024, 9, 24)) == -2


def test_bad_calendar_file_is_a_config_error(tmp_path: Path) -> None:
    """An override that is neither holiday nor workday names the file."""
    path = tmp_path / "calendar.toml"
    path.write_text('[overrides]\n"2024-05-06" = "maybe"\n', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        WorkCalendar(files=[path])

    assert str(path) in caught.value.message
