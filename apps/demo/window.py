"""The demo's time window (issue 15 item 14): twelve full months before the month of ``today``, plus the current
month so far. On 2026-12-01 it starts on 2025-12-01. The demo catalogue, the agreements, the physicians' filings
and the Changsha policy begin on its first day, so every month of the window can be dispensed and settled."""
from __future__ import annotations

import datetime as dt


def demo_start(today: dt.date) -> dt.date:
    """The first day of the month twelve months before ``today``'s month."""
    return dt.date(today.year - 1, today.month, 1)
