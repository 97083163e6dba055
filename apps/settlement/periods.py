"""Settlement months (期间): the first day of a month stands for the month."""
from __future__ import annotations

import calendar
import datetime as dt
import re

from apps.core.exceptions import ApplicationError

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(value: str | None, *, field: str = "period") -> dt.date:
    """``"2026-11"`` → ``date(2026, 11, 1)``; anything else is a clear ``invalid`` error."""
    match = _PERIOD_RE.match((value or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ApplicationError("invalid", "月份格式应为 YYYY-MM，例如 2026-11", fields={field: ["月份格式应为 YYYY-MM"]})
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def period_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_period(period: dt.date) -> dt.date:
    return (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_period(period: dt.date) -> dt.date:
    return (period.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def period_last_day(period: dt.date) -> dt.date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def ward_payment_due(period: dt.date) -> dt.date:
    """R-SET-2 / 000 五(三): the hospital pays the pharmacy for ward deliveries by the 10th of the next month."""
    return next_period(period).replace(day=10)


def label(period: dt.date) -> str:
    return f"{period:%Y-%m}"
