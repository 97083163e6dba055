"""R-SET-3 (issue 16): the monthly report is compiled province-wide and for every region with a pharmacy; the report
page/API of a bureau user and the dashboard's month figures read the current snapshot of their scope instead of
summing the month's dispensings, and fall back to the live figures when a settlement run made the snapshot stale."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.settlement import services
from apps.settlement.models import MonthlyReportSnapshot
from apps.settlement.selectors import monthly_report, monthly_report_for, months_figures
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def month(zhongwei, changsha):
    drug = f.DrugFactory()
    p1 = f.PharmacyFactory()  # 640502, a county of Zhongwei
    p2 = f.PharmacyFactory(region=f.region("640521"))  # another county of Zhongwei
    cs = f.PharmacyFactory(region=f.region("430104"))  # Changsha: outside Zhongwei
    sf.dispensing(pharmacy=p1, drug=drug, quantity=3, deductible="500.00")
    sf.dispensing(pharmacy=p2, drug=drug, quantity=1, insurance_type="resident", fund_ratio="0.60")
    sf.dispensing(pharmacy=cs, drug=drug, quantity=2)
    return {"p1": p1, "p2": p2, "cs": cs, "drug": drug}


def _reads_dispensings(queries) -> bool:
    return any("prescriptions_dispensing" in q["sql"] for q in queries)


def test_r_set_3_compile_saves_a_snapshot_per_region_equal_to_the_live_report(month):
    services.monthly_report_compile(period=NOV, now=sf.AT)
    zhongwei, county, changsha = f.region("640500"), f.region("640502"), f.region("430100")
    for region in (zhongwei, county, changsha):
        snapshot = MonthlyReportSnapshot.objects.get(period=NOV, region=region)
        assert snapshot.data == monthly_report(period=NOV, region=region)
    assert MonthlyReportSnapshot.objects.get(period=NOV, region=None).data["totals"]["visits"] == 3
    assert MonthlyReportSnapshot.objects.get(period=NOV, region=zhongwei).data["totals"]["visits"] == 2
    assert MonthlyReportSnapshot.objects.get(period=NOV, region=county).data["totals"]["visits"] == 1
    # compiling again replaces, it does not add
    count = MonthlyReportSnapshot.objects.count()
    services.monthly_report_compile(period=NOV, now=sf.AT)
    assert MonthlyReportSnapshot.objects.count() == count


def test_r_set_3_city_report_reads_its_snapshot_until_a_run_makes_it_stale(month):
    zhongwei = f.region("640500")
    run = services.settlement_run_now(period=NOV, clock=sf.clock)
    assert run.status == "succeeded", run.error
    services.monthly_report_compile(period=NOV, now=sf.AT + dt.timedelta(minutes=5))
    live = monthly_report(period=NOV, region=zhongwei)
    with CaptureQueriesContext(connection) as queries:
        report = monthly_report_for(period=NOV, region=zhongwei)
    assert report == live and not _reads_dispensings(queries.captured_queries)

    # a late dispensing and a rerun after the compile: the snapshot is stale, the live report counts it
    sf.dispensing(pharmacy=month["p1"], drug=month["drug"], quantity=1)
    rerun = services.settlement_run_now(period=NOV, clock=lambda: sf.AT + dt.timedelta(hours=1))
    assert rerun.status == "succeeded", rerun.error
    with CaptureQueriesContext(connection) as queries:
        report = monthly_report_for(period=NOV, region=zhongwei)
    assert _reads_dispensings(queries.captured_queries)
    assert report["totals"]["visits"] == 3 == monthly_report(period=NOV, region=zhongwei)["totals"]["visits"]


def test_r_set_3_dashboard_month_figures_from_the_snapshot_equal_the_live_sums(month):
    zhongwei, county = f.region("640500"), f.region("640502")
    live = {region: months_figures(periods=[NOV], region=region)[NOV] for region in (None, zhongwei, county)}
    services.monthly_report_compile(period=NOV, now=sf.AT)
    for region, expected in live.items():
        with CaptureQueriesContext(connection) as queries:
            figures = months_figures(periods=[NOV, dt.date(2026, 10, 1)], region=region)
        assert figures[NOV] == expected
        assert figures[dt.date(2026, 10, 1)]["visits"] == 0
        # November from the snapshot: only October (no snapshot) is summed from dispensings
        assert not any("prescriptions_dispensing" in q["sql"] and "2026-11-01" in q["sql"]
                       for q in queries.captured_queries)
    assert live[None]["visits"] == 3 and live[zhongwei]["visits"] == 2 and live[county]["visits"] == 1
