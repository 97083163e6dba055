"""The ``today`` marker (tests/conftest.py) fixes the clock for a test that goes through an edge, under any --clock."""
import datetime as dt

import pytest
from django.utils import timezone


@pytest.mark.today("2026-12-01")
def test_today_marker_fixes_the_clock_at_10_shanghai():
    now = timezone.localtime(timezone.now())
    assert now.date() == dt.date(2026, 12, 1) and now.hour == 10
    assert timezone.localdate() == dt.date(2026, 12, 1)
