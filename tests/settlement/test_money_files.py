"""The payment list (Excel for print, CSV; totals equal the statements), the institutions' report as an Excel upload
(R-SET-3) and the daily rectification follow-up (R-SET-5, 000 附件2 第五条)."""
import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from openpyxl import Workbook, load_workbook

from apps.core.exceptions import ApplicationError
from apps.core.models import Event, Sanction
from apps.registries import designation
from apps.settlement import money_services, services
from apps.settlement.models import InstitutionMonthlyReport, RectificationFollowUp, Statement
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)
D = Decimal


def test_r_set_5_payment_list_xlsx_and_csv_totals_equal_the_statements(zhongwei, api_as):
    """Two pharmacies: 3 packs (fund 1,984.50, deposit 99.23, payable 1,885.27) and 1 pack (fund 661.50, deposit
    33.08, payable 628.42), the second with a deduction of 100.00 → 528.42. Totals: fund 2,646.00, deposit 132.31,
    deductions 100.00, payable 2,413.69 — the statements' sums. Bank details come from the registry."""
    p1 = f.PharmacyFactory(bank_name="中国银行中卫分行", bank_account_no="6216600000001234567")
    p2 = f.PharmacyFactory()
    sf.dispensing(pharmacy=p1, quantity=3)
    sf.dispensing(pharmacy=p2, quantity=1)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    admin = f.bureau_admin()
    money_services.sanction_money_record(organisation=p2, kind=Sanction.Kind.DEDUCTION, amount=D("100.00"),
                                         decided_on=dt.date(2026, 12, 1), reason="超量配药", actor=admin, now=sf.AT)
    money_services.statements_confirm_month(period=NOV, region=admin.region, actor=admin, today=dt.date(2026, 12, 3),
                                            now=sf.AT)
    client = api_as(admin)
    body = client.get("/api/v1/settlements/payment-list/?period=2026-11").json()
    assert body["totals"] == {"fund_payment": "2646.00", "deposit": "132.31", "deductions": "100.00",
                              "payable": "2413.69", "held": "0.00", "pay_now": "2413.69"}
    sums = [str(sum(Statement.objects.values_list(k, flat=True))) for k in ("fund_payment", "deposit", "payable")]
    assert sums == ["2646.00", "132.31", "2413.69"]
    row = body["results"][0]
    assert (row["number"], row["bank_name"], row["bank_account_no"]) == (
        f"JS-202611-{p1.code}", "中国银行中卫分行", "6216600000001234567")
    response = client.get("/api/v1/settlements/payment-list/?period=2026-11&format=xlsx")
    ws = load_workbook(io.BytesIO(response.content))["拨付清单"]
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows in ("1:2", "$1:$2")
    assert ws["A5"].value == "合计" and D(str(ws["J5"].value)).quantize(D("0.01")) == D("2413.69")
    assert ws["J3"].number_format == "#,##0.00"
    text = client.get("/api/v1/settlements/payment-list/?period=2026-11&format=csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "结算单号" and rows[-1][0] == "合计" and rows[-1][9] == "2413.69"


@time_machine.travel(dt.datetime(2026, 12, 4, 9, 0, tzinfo=sf.TZ), tick=False)
def test_r_set_3_report_uploaded_as_excel(zhongwei, api_as):
    """One drug line 2 visits, 3,920.00, fund 2,646.00 and a 合计 row: stored as source excel, on time (12-04)."""
    pharmacy, drug = f.PharmacyFactory(), f.DrugFactory()
    wb = Workbook()
    ws = wb.active
    ws.append(["药品代码", "人次", "医疗费用总额", "统筹基金支付"])
    ws.append([drug.code, 2, 3920, 2646])
    ws.append(["合计", 2, 3920, 2646])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "report.xlsx"
    r = api_as(f.pharmacy_user(pharmacy=pharmacy)).post("/api/v1/monthly-reports/", {"period": "2026-11", "file": buf},
                                                         format="multipart")
    assert r.status_code == 201, r.content
    report = InstitutionMonthlyReport.objects.get()
    assert (report.source, report.visits, report.total, report.fund_payment, report.lines.count()) == (
        "excel", 2, D("3920.00"), D("2646.00"), 1)
    assert r.json()["late"] is False


def test_r_set_5_rectification_escalates_at_the_deadline_or_when_the_problem_recurs(zhongwei):
    """Deadline 12-10: open on 12-10, escalated on 12-11 (once). The same problem again on 2027-03-01 (within six
    months of 2026-12-01) escalates at once as 再次发现."""
    pharmacy, admin = f.PharmacyFactory(), f.bureau_admin()
    first = designation.sanction_record(pharmacy, actor=admin, kind=Sanction.Kind.RECTIFICATION,
                                        decided_on=dt.date(2026, 12, 1), reason="未按规定留存处方",
                                        deadline=dt.date(2026, 12, 10), now=dt.datetime(2026, 12, 1, 10, tzinfo=sf.TZ))
    now = sf.AT
    assert money_services.rectification_follow_up(today=dt.date(2026, 12, 10), now=now) == {
        "created": 1, "deadline": 0, "recurred": 0}
    assert money_services.rectification_follow_up(today=dt.date(2026, 12, 11), now=now)["deadline"] == 1
    assert money_services.rectification_follow_up(today=dt.date(2026, 12, 12), now=now)["deadline"] == 0
    follow = RectificationFollowUp.objects.get(sanction=first)
    assert (follow.status, follow.escalation) == ("escalated", "deadline")
    again = designation.sanction_record(pharmacy, actor=admin, kind=Sanction.Kind.RECTIFICATION,
                                        decided_on=dt.date(2027, 3, 1), reason="未按规定留存处方",
                                        deadline=dt.date(2027, 3, 31), now=dt.datetime(2027, 3, 1, 10, tzinfo=sf.TZ))
    assert money_services.rectification_follow_up(today=dt.date(2027, 3, 2), now=now)["recurred"] == 1
    follow = RectificationFollowUp.objects.get(sanction=again)
    assert (follow.escalation, follow.earlier.sanction_id) == ("recurred", first.pk)
    assert Event.objects.filter(action="rectification_escalated").count() == 2


def test_r_set_5_rectification_queue_page_lists_escalations_and_resolves_open_ones(zhongwei, client):
    """One escalated (deadline 12-10, checked 12-11) and one open (deadline 12-31): the queue shows the escalated one
    first; resolving the open one records who and when, and a second resolve is refused."""
    pharmacy, admin = f.PharmacyFactory(name="整改药房"), f.bureau_admin()
    designation.sanction_record(pharmacy, actor=admin, kind=Sanction.Kind.RECTIFICATION, decided_on=dt.date(2026, 12, 1),
                                reason="处方留存不全", deadline=dt.date(2026, 12, 10),
                                now=dt.datetime(2026, 12, 1, 10, tzinfo=sf.TZ))
    designation.sanction_record(pharmacy, actor=admin, kind=Sanction.Kind.RECTIFICATION, decided_on=dt.date(2026, 12, 2),
                                reason="冷链记录缺失", deadline=dt.date(2026, 12, 31),
                                now=dt.datetime(2026, 12, 2, 10, tzinfo=sf.TZ))
    money_services.rectification_follow_up(today=dt.date(2026, 12, 11), now=sf.AT)
    client.force_login(admin)
    html = client.get("/settlement/rectifications/").content.decode()
    assert html.index("逾期未整改") < html.index("冷链记录缺失") and "整改药房" in html
    open_one = RectificationFollowUp.objects.get(status="open")
    client.post(f"/settlement/rectifications/{open_one.pk}/resolve/", {"reason": "已补齐冷链记录"})
    open_one.refresh_from_db()
    assert (open_one.status, open_one.resolved_by_id) == ("resolved", admin.pk)
    with pytest.raises(ApplicationError) as exc:
        money_services.rectification_resolve(follow_up=open_one, actor=admin, reason="再次", now=sf.AT)
    assert exc.value.code == "invalid_status"


def test_r_set_5_bank_details_are_kept_in_the_registry(zhongwei, api_as):
    """The payment list reads bank details from the registry: the bureau sets them through the registry API."""
    pharmacy = f.PharmacyFactory()
    client = api_as(f.bureau_admin())
    r = client.patch(f"/api/v1/pharmacies/{pharmacy.pk}/", {"bank_name": "宁夏银行中卫分行",
                                                            "bank_account_no": "6228480000000000001"}, format="json")
    assert r.status_code == 200, r.content
    pharmacy.refresh_from_db()
    assert (pharmacy.bank_name, pharmacy.bank_account_no) == ("宁夏银行中卫分行", "6228480000000000001")
    assert r.json()["bank_account_no"] == "6228480000000000001"
