"""The working-day calendar (R-APP-5): weekends off, public holidays off, make-up working days (调休) on.

A year whose official arrangement (国务院办公厅通知) administrators have imported (``CalendarArrangement``) uses the
imported days only. A year without one still knows its statutory holidays, the lunar ones included, from the
``holidays`` library (``holidays.China``); days entered by hand for that year override the library. Dates computed
for such a year are *provisional* and recomputed when the arrangement is imported."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

from apps.core.models import CalendarArrangement, CalendarDay


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[dt.date, str]:
    """China's statutory holidays of ``year`` as the ``holidays`` library computes them (lunar dates included)."""
    return dict(holidays.China(years=year, language="zh_CN"))


def official_years(years) -> set[int]:
    """The years among ``years`` whose official arrangement is imported."""
    return set(CalendarArrangement.objects.filter(year__in=list(years)).values_list("year", flat=True))


def _exceptions_between(start: dt.date, end: dt.date) -> dict[dt.date, str]:
    exceptions: dict[dt.date, str] = {}
    years = range(start.year, end.year + 1)
    official = official_years(years)
    for year in years:
        if year in official:
            continue
        for day in statutory_holidays(year):
            if start <= day <= end:
                exceptions[day] = CalendarDay.Kind.HOLIDAY
    exceptions.update(CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "kind"))
    return exceptions


def exceptions_between(start: dt.date, end: dt.date) -> dict[dt.date, str]:
    """The calendar's holidays and 调休 workdays in [start, end], for a caller that asks ``is_working_day`` about
    many days of the span (one query)."""
    return _exceptions_between(start, end)


def is_provisional(start: dt.date, end: dt.date) -> bool:
    """R-APP-5: a date computed over (start, end] is provisional when a year of the span has no official
    arrangement."""
    years = set(range(min(start, end).year, max(start, end).year + 1))
    return bool(years - official_years(years))


def is_working_day(day: dt.date, exceptions: dict[dt.date, str] | None = None) -> bool:
    if exceptions is None:
        exceptions = _exceptions_between(day, day)
    kind = exceptions.get(day)
    if kind == CalendarDay.Kind.HOLIDAY:
        return False
    if kind == CalendarDay.Kind.WORKDAY:
        return True
    return day.weekday() < 5


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The date ``n`` working days after ``start`` (``start`` itself not counted), e.g. the due date of a
    review received on ``start``. ``n == 0`` gives ``start`` if it is a working day, else the next one.
    One query for the calendar exceptions of the span."""
    if n < 0:
        raise ValueError("n must be >= 0")
    # Long holidays are at most ~9 days; 3n+30 calendar days always cover n working days.
    exceptions = _exceptions_between(start, start + dt.timedelta(days=3 * n + 30))
    day = start
    if n == 0:
        while not is_working_day(day, exceptions):
            day += dt.timedelta(days=1)
        return day
    remaining = n
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day, exceptions):
            remaining -= 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end < start:
        return -working_days_between(end, start)
    exceptions = _exceptions_between(start, end)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day, exceptions):
            count += 1
    return count


def missing_next_year_arrangement(today: dt.date) -> int | None:
    """R-APP-5: from 1 November, the next year when its official arrangement is not imported yet (administrators
    are warned), else ``None``."""
    if (today.month, today.day) < (11, 1):
        return None
    year = today.year + 1
    return None if official_years([year]) else year
