"""The working-day calendar (R-APP-5): weekends off, public holidays off, make-up working days (调休) on."""
from __future__ import annotations

import datetime as dt

from apps.core.models import CalendarDay


def _exceptions_between(start: dt.date, end: dt.date) -> dict[dt.date, str]:
    return dict(CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "kind"))


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
