import datetime as dt
from io import BytesIO

import pytest
from openpyxl import Workbook

from apps.core.exceptions import ApplicationError, api_exception_handler
from apps.core.idnumber import check_digit, make_id_number, parse_id_number
from apps.core.masking import mask_id_number, mask_phone
from apps.core.models import CalendarDay
from apps.core.services import calendar_import, region_create
from apps.core.working_days import add_working_days, is_working_day, working_days_between
from tests import factories as f

#: R-APP-5: importing records the arrangement's import time, given by the caller
NOW_FOR_IMPORT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_r_app_3_check_digit_of_a_known_number():
    # GB 11643 example: 11010519491231002X
    assert check_digit("11010519491231002") == "X"
    info = parse_id_number("11010519491231002x", today=dt.date(2026, 12, 1))
    assert info.number == "11010519491231002X"
    assert info.birth_date == dt.date(1949, 12, 31)
    assert info.sex == "female"
    assert info.age_on(dt.date(2026, 11, 25)) == 76


def test_r_app_3_sex_and_birth_from_generated_number():
    number = make_id_number("640502", dt.date(1980, 2, 29), 7)
    info = parse_id_number(number, today=dt.date(2026, 12, 1))
    assert info.sex == "male" and info.birth_date == dt.date(1980, 2, 29) and info.region_code == "640502"
    assert info.age_on(dt.date(2026, 2, 28)) == 45 and info.age_on(dt.date(2026, 3, 1)) == 46


@pytest.mark.parametrize("bad, message", [
    ("11010519491231002", "18位"),
    ("110105194912310021", "校验位"),
    ("110105194902300020", "出生日期"),
    ("1101051949123100AX", "18位"),
])
def test_r_app_3_bad_numbers_refused_with_invalid_id_number(bad, message):
    with pytest.raises(ApplicationError) as exc:
        parse_id_number(bad, today=dt.date(2026, 12, 1))
    assert exc.value.code == "invalid_id_number" and message in exc.value.message
    assert "id_number" in exc.value.fields


def test_r_app_3_birth_after_the_callers_today_is_refused():
    """Born 2026-12-02: invalid on 2026-12-01, valid from that day on (the caller's date, not the clock)."""
    number = make_id_number("640502", dt.date(2026, 12, 2), 1)
    with pytest.raises(ApplicationError) as exc:
        parse_id_number(number, today=dt.date(2026, 12, 1))
    assert exc.value.code == "invalid_id_number" and "出生日期" in exc.value.message
    assert parse_id_number(number, today=dt.date(2026, 12, 2)).birth_date == dt.date(2026, 12, 2)


def test_r_sec_2_masking_of_id_and_phone_numbers():
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13912345678") == "139****5678"
    assert mask_id_number("") == "" and mask_phone(None) == ""


@pytest.mark.django_db
def test_r_app_5_add_working_days_across_2026_national_day_and_make_up_day():
    # the shipped 2026 calendar: 10-01..10-07 holidays, Saturday 10-10 a make-up working day
    assert not is_working_day(dt.date(2026, 10, 5))
    assert is_working_day(dt.date(2026, 10, 10))
    # received Wednesday 30 September: 1 working day later is Thursday 8 October
    assert add_working_days(dt.date(2026, 9, 30), 1) == dt.date(2026, 10, 8)
    # 2 → Friday 9 October, 3 → Saturday 10 October (调休), 4 → Monday 12 October
    assert add_working_days(dt.date(2026, 9, 30), 3) == dt.date(2026, 10, 10)
    assert add_working_days(dt.date(2026, 9, 30), 4) == dt.date(2026, 10, 12)
    # R-APP-5: the bureau's 15 working days from 2026-09-24 (Mid-Autumn 09-25..27, National Day)
    # 09-28,29,30, 10-08,09,10(调休),12..16, 19,20,21,22 → 15th is 10-22
    assert add_working_days(dt.date(2026, 9, 24), 15) == dt.date(2026, 10, 22)
    assert working_days_between(dt.date(2026, 9, 24), dt.date(2026, 10, 22)) == 15
    # a received-on-holiday item with n=0 is due on the next working day
    assert add_working_days(dt.date(2026, 10, 3), 0) == dt.date(2026, 10, 8)


def _xlsx(rows):
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


@pytest.mark.django_db
def test_r_app_5_calendar_import_is_all_or_nothing_with_row_errors():
    admin = f.system_admin()
    bad = _xlsx([["日期", "类型", "名称"], ["2027-01-01", "法定节假日", "元旦"], ["2027-02-30", "法定节假日", "春节"],
                 ["2027-02-06", "加班", "春节调休"]])
    with pytest.raises(ApplicationError) as exc:
        calendar_import(actor=admin, file=bad)
    assert exc.value.code == "import_invalid"
    assert exc.value.data["errors"] == [
        {"row": 3, "column": "日期", "message": "日期无效：2027-02-30"},
        {"row": 4, "column": "类型", "message": "类型应为“法定节假日”或“调休上班”：加班"},
    ]
    assert not CalendarDay.objects.filter(date__year=2027).exists()

    good = [["日期", "类型", "名称"], ["2027-01-01", "法定节假日", "元旦"], [dt.date(2027, 2, 6), "调休上班", "春节调休"]]
    preview = calendar_import(actor=admin, file=_xlsx(good), dry_run=True)
    assert (preview.created, preview.updated, preview.unchanged) == (2, 0, 0)
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    result = calendar_import(actor=admin, file=_xlsx(good), now=NOW_FOR_IMPORT)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert is_working_day(dt.date(2027, 2, 6)) and not is_working_day(dt.date(2027, 1, 1))
    again = calendar_import(actor=admin, file=_xlsx(good), now=NOW_FOR_IMPORT)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


@pytest.mark.django_db
def test_calendar_import_refuses_wrong_header_and_non_excel():
    with pytest.raises(ApplicationError) as exc:
        calendar_import(actor=None, file=_xlsx([["date", "kind", "name"]]))
    assert exc.value.code == "invalid_file"
    with pytest.raises(ApplicationError) as exc:
        calendar_import(actor=None, file=BytesIO(b"not an excel file"))
    assert exc.value.code == "invalid_file"


@pytest.mark.django_db
def test_region_create_derives_level_and_parent_from_code():
    admin = f.bureau_admin()
    f.region("640500")
    county = region_create(actor=admin, code="640599", name="测试县")
    assert county.level == "county" and county.parent.code == "640500"
    with pytest.raises(ApplicationError) as exc:
        region_create(actor=None, code="650101", name="无上级")
    assert "650100" in exc.value.message
    with pytest.raises(ApplicationError):
        region_create(actor=admin, code="64059", name="短")


def test_error_body_of_application_error_through_the_handler():
    response = api_exception_handler(
        ApplicationError("physician_not_filed", "医师未备案", fields={"physician_code": ["未备案"]}), {})
    assert response.status_code == 400
    assert response.data == {"code": "physician_not_filed", "detail": "医师未备案",
                             "fields": {"physician_code": ["未备案"]}}


@pytest.mark.django_db
def test_error_body_of_drf_validation_through_the_api(api_as):
    client = api_as(f.bureau_admin())
    resp = client.post("/api/v1/regions/", {"code": "", "name": ""}, format="json")
    body = resp.json()
    assert resp.status_code == 400
    assert body["code"] == "invalid" and set(body) == {"code", "detail", "fields"}
    assert "code" in body["fields"] and "name" in body["fields"]


@pytest.mark.django_db
def test_r_sec_1_bureau_admin_maintains_only_regions_below_its_own():
    f.region("430100")
    f.region("640500")
    admin_cs = f.bureau_admin("430100")
    with pytest.raises(ApplicationError) as exc:
        region_create(actor=admin_cs, code="640599", name="外省县")
    assert exc.value.status == 403
    assert region_create(actor=admin_cs, code="430199", name="长沙测试区").parent.code == "430100"
