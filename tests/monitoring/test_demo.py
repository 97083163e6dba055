"""The monitoring demo raises at least one alert of every rule (section 9) in Zhongwei, and a second load raises
nothing twice — as of the loader's date, not the machine's."""
import datetime as dt

import pytest

from apps.demo import catalogue, monitoring, regions
from apps.demo.loader import moment_of
from apps.monitoring.models import Alert, Rule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("today", [dt.date(2026, 12, 1), dt.date(2027, 3, 15)])
def test_section_9_demo_raises_every_rule_once(today):
    now = moment_of(today)
    regions.load(today=today, now=now)
    catalogue.load(today=today, now=now)
    monitoring.load(today=today, now=now)
    first = dict((r, Alert.objects.filter(rule=r, region__code__startswith="6405").count()) for r in Rule)
    assert all(n >= 1 for n in first.values()), first
    monitoring.load(today=today, now=now)
    assert dict((r, Alert.objects.filter(rule=r, region__code__startswith="6405").count()) for r in Rule) == first
    assert set(Alert.objects.values_list("period", flat=True)) == {today.replace(day=1)}
