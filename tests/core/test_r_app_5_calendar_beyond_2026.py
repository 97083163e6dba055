"""R-APP-5: a year without an imported official arrangement still knows its statutory holidays (``holidays``);
due dates computed that way are provisional and recomputed when the arrangement is imported; administrators are
warned from 1 November."""
import datetime as dt
import io

import pytest
import time_machine
from django.test import Client
from openpyxl import Workbook

from apps.core.working_days import add_working_days, is_provisional, missing_next_year_arrangement
from tests import factories as f
from tests.applications.factories import approve_through, setup_hospital, stage_actor, submit
from tests.prescriptions.factories import at

pytestmark = pytest.mark.django_db


def test_r_app_5_new_years_day_2027_is_a_holiday_without_arrangement():
    """Thursday 2026-12-31 + 1 working day: 2027-01-01 is 元旦 (statutory) → Monday 2027-01-04 (Fri 1 Jan holiday,
    Sat, Sun skipped). The span reaches 2027, which has no arrangement → provisional."""
    assert add_working_days(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 4)
    assert is_provisional(dt.date(2026, 12, 31), dt.date(2027, 1, 4))
    assert not is_provisional(dt.date(2026, 11, 2), dt.date(2026, 11, 3))  # 2026 is official


def test_r_app_5_spring_festival_2027_from_lunar_calendar():
    """Spring Festival 2027 (lunar): 5–10 Feb are holidays in the library. Received Thursday 4 Feb, 1 working day →
    Thursday 11 Feb."""
    assert add_working_days(dt.date(2027, 2, 4), 1) == dt.date(2027, 2, 11)


def _arrangement_2027(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["日期", "类型", "名称"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "2027.xlsx"
    return buf


def test_r_app_5_provisional_due_date_recomputed_on_import(api_as, zhongwei):
    """Bureau stage received Thursday 2026-12-31 with 15 working days: provisional (2027 not imported). Library:
    1 Jan holiday → working days 4–8, 11–15, 18–22 Jan → due Friday 2027-01-22, provisional. The official 2027
    arrangement is imported with Monday 4 Jan as a holiday too: the due date moves one working day to Monday
    2027-01-25 and is no longer provisional."""
    from apps.applications.models import Application
    from apps.core.services import calendar_import

    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    reviewer = f.reviewer("640500")
    app = submit(hospital, physician, now=at(dt.date(2026, 12, 31)))
    while app.current_stage != "bureau":
        from apps.applications import services

        app = services.application_decide(application=app, actor=stage_actor(app), decision="approve",
                                          now=at(dt.date(2026, 12, 31)))
    assert (app.stage_due_date, app.stage_due_provisional) == (dt.date(2027, 1, 22), True)
    data = api_as(reviewer).get(f"/api/v1/applications/{app.pk}/").json()
    assert data["stage_due_provisional"] is True
    result = calendar_import(actor=None, file=_arrangement_2027([  # the system (R-SEC-1: shared reference data)
        ["2027-01-01", "法定节假日", "元旦"], ["2027-01-04", "法定节假日", "元旦（测试）"]]),
        now=at(dt.date(2026, 12, 31)))
    assert result.recomputed == 1
    app = Application.objects.get(pk=app.pk)
    assert (app.stage_due_date, app.stage_due_provisional) == (dt.date(2027, 1, 25), False)


def test_r_app_5_admin_warned_from_1_november():
    """31 October 2026: no warning; 1 November 2026 without a 2027 arrangement: warn about 2027; the browser shows it
    to a bureau administrator, not to a reviewer."""
    assert missing_next_year_arrangement(dt.date(2026, 10, 31)) is None
    assert missing_next_year_arrangement(dt.date(2026, 11, 1)) == 2027
    admin, reviewer = f.bureau_admin(), f.reviewer()
    with time_machine.travel(at(dt.date(2026, 11, 1)), tick=False):
        for user, shown in ((admin, True), (reviewer, False)):
            client = Client()
            client.force_login(user)
            html = client.get("/accounts/password/", follow=True).content.decode()
            assert ("2027 年的正式节假日安排尚未导入" in html) is shown
