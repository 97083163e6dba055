"""R-SET-2 ward-delivery payments by the 10th and R-SET-3 institutions' monthly reports by the 5th, through the
services and the REST endpoints. Figures worked by hand in each docstring.

A ward delivery ``sf.dispensing(quantity=3, delivery=WARD)``: 3 × 980.00 = 2,940.00 total (what the hospital owes
the pharmacy); fund 1,984.50."""
import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from apps.core.exceptions import ApplicationError
from apps.prescriptions.models import Delivery
from apps.settlement import money_selectors, money_services, services
from apps.settlement.models import InstitutionMonthlyReport, Statement, WardPayment
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)
AT = sf.AT
D = Decimal


@pytest.fixture
def ward(zhongwei):
    hospital, pharmacy = f.InstitutionFactory(), f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, institution=hospital, quantity=3, delivery=Delivery.WARD)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    statement = Statement.objects.get(institution=hospital, period=NOV)
    return {"hospital": hospital, "pharmacy": pharmacy, "statement": statement, "admin": f.bureau_admin(),
            "h_user": f.hospital_user(institution=hospital), "p_user": f.pharmacy_user(pharmacy=pharmacy)}


def confirm(w):
    services.statement_confirm(statement=w["statement"], actor=w["admin"], today=dt.date(2026, 12, 3), now=AT)


def status(w, today):
    return money_selectors.ward_payment_status(statements=Statement.objects.filter(pk=w["statement"].pk), today=today)[0]


def test_r_set_2_payment_refused_before_the_month_is_confirmed(ward):
    with pytest.raises(ApplicationError) as exc:
        money_services.ward_payment_record(statement=ward["statement"], actor=ward["h_user"], paid_on=dt.date(2026, 12, 2),
                                           amount="100.00", reference="B1", now=AT)
    assert exc.value.code == "period_not_confirmed" and not WardPayment.objects.exists()


@time_machine.travel(dt.datetime(2026, 12, 9, 10, 0, tzinfo=sf.TZ), tick=False)
def test_r_set_2_part_paid_statement_is_overdue_after_the_10th_and_payments_add_up(ward, api_as):
    """Owed 2,940.00. 1,000.00 paid on 12-08 → part paid, outstanding 1,940.00, overdue on 12-11 (not on 12-10).
    Then the pharmacy records receipt of 1,940.00 → paid, not overdue. A reversal of that one reopens 1,940.00."""
    confirm(ward)
    client = api_as(ward["h_user"])
    r = client.post(f"/api/v1/settlements/{ward['statement'].pk}/payments/",
                    {"paid_on": "2026-12-08", "amount": "1000.00", "reference": "银行回单001"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["paid_total"] == "1000.00" and r.json()["outstanding"] == "1940.00"
    row = status(ward, dt.date(2026, 12, 10))
    assert (row["owed"], row["paid"], row["outstanding"], row["status"], row["overdue"]) == (
        D("2940.00"), D("1000.00"), D("1940.00"), "part_paid", False)
    assert status(ward, dt.date(2026, 12, 11))["overdue"] is True
    second = money_services.ward_payment_record(statement=ward["statement"], actor=ward["p_user"],
                                                paid_on=dt.date(2026, 12, 3), amount="1940.00", reference="收款002", now=AT)
    row = status(ward, dt.date(2026, 12, 11))
    assert (row["paid"], row["outstanding"], row["status"], row["overdue"]) == (D("2940.00"), D("0.00"), "paid", False)
    money_services.ward_payment_reverse(payment=second, actor=ward["p_user"], reason="重复登记", now=AT)
    row = status(ward, dt.date(2026, 12, 11))
    assert (row["paid"], row["outstanding"], row["overdue"]) == (D("1000.00"), D("1940.00"), True)


def test_r_set_2_unpaid_statement_is_late_only_after_the_10th(ward):
    """Nothing paid: on 12-10 not yet overdue, on 12-11 overdue (unpaid)."""
    confirm(ward)
    assert status(ward, dt.date(2026, 12, 10))["overdue"] is False
    row = status(ward, dt.date(2026, 12, 11))
    assert (row["status"], row["overdue"], row["outstanding"]) == ("unpaid", True, D("2940.00"))


@time_machine.travel(dt.datetime(2026, 12, 9, 10, 0, tzinfo=sf.TZ), tick=False)
def test_r_set_2_bad_payments_change_nothing(ward, api_as):
    confirm(ward)
    client = api_as(ward["h_user"])
    url = f"/api/v1/settlements/{ward['statement'].pk}/payments/"
    for body, code in (({"paid_on": "2026-12-08", "amount": "-5.00", "reference": "x"}, "invalid"),
                       ({"paid_on": "2026-12-08", "amount": "2940.01", "reference": "x"}, "overpayment"),
                       ({"paid_on": "2026-12-08", "amount": "10.001", "reference": "x"}, "invalid")):
        r = client.post(url, body, format="json")
        assert r.status_code in (400, 409) and r.json()["code"] == code, r.content
    assert client.post("/api/v1/settlements/999999/payments/", {"paid_on": "2026-12-08", "amount": "1.00",
                                                                "reference": "x"}, format="json").status_code == 404
    other = api_as(f.hospital_user(institution=f.InstitutionFactory()))
    assert other.post(url, {"paid_on": "2026-12-08", "amount": "1.00", "reference": "x"},
                      format="json").status_code == 404
    assert not WardPayment.objects.exists()


# --------------------------------------------------------------------------- R-SET-3

@pytest.fixture
def reporting(zhongwei):
    pharmacy = f.PharmacyFactory()
    drug = f.DrugFactory()
    d1 = sf.dispensing(pharmacy=pharmacy, drug=drug, quantity=3)  # total 2,940.00, fund 1,984.50
    d2 = sf.dispensing(pharmacy=pharmacy, drug=drug, quantity=1)  # total 980.00, fund 661.50
    return {"pharmacy": pharmacy, "drug": drug, "d1": d1, "d2": d2, "user": f.pharmacy_user(pharmacy=pharmacy)}


def test_r_set_3_report_after_the_5th_is_late_and_missing_ones_are_listed(reporting, api_as):
    """Due 2026-12-05. Submitted 12-07 → late; a second admitted pharmacy that never reported → missing (overdue
    on 12-07). System: 2 visits, 3,920.00, fund 2,646.00 — the report matches."""
    silent = f.PharmacyFactory()
    late_at = dt.datetime(2026, 12, 7, 10, 0, tzinfo=sf.TZ)
    money_services.institution_report_submit(
        organisation=reporting["pharmacy"], period=NOV, actor=reporting["user"], source="api", now=late_at,
        figures={"visits": 2, "total": "3920.00", "fund_payment": "2646.00"}, lines=[])
    rows = {r["code"]: r for r in money_selectors.report_status(period=NOV, region=None, today=dt.date(2026, 12, 7))}
    assert rows[reporting["pharmacy"].code]["status"] == "late"
    assert rows[reporting["pharmacy"].code]["differs"] is False
    assert rows[silent.code]["status"] == "missing_overdue"
    rows = {r["code"]: r for r in money_selectors.report_status(period=NOV, region=None, today=dt.date(2026, 12, 5))}
    assert rows[silent.code]["status"] == "missing"


def test_r_set_3_differing_report_shows_each_difference_with_its_dispensings(reporting, api_as):
    """Reported through REST on 12-03 (on time): visits 3 (system 2), total 3,920.00 (same), fund 2,700.00
    (system 2,646.00 → +54.00); drug line the same figures → differs, with both dispensings behind it."""
    client = api_as(reporting["user"])
    r = client.post("/api/v1/monthly-reports/", {
        "period": "2026-11", "visits": 3, "total": "3920.00", "fund_payment": "2700.00",
        "lines": [{"drug_code": reporting["drug"].code, "visits": 3, "total": "3920.00", "fund_payment": "2700.00"}],
    }, format="json")
    assert r.status_code == 201, r.content
    report = InstitutionMonthlyReport.objects.get()
    diff = money_selectors.report_differences(report)
    figures = {x["figure"]: x for x in diff["figures"]}
    assert (figures["visits"]["system"], figures["visits"]["difference"]) == (2, 1)
    assert figures["total"]["matches"] is True
    assert (figures["fund_payment"]["system"], figures["fund_payment"]["difference"]) == (D("2646.00"), D("54.00"))
    line = diff["lines"][0]
    assert line["matches"] is False and line["difference"]["fund_payment"] == D("54.00")
    assert line["dispensings"] == sorted([reporting["d1"].pk, reporting["d2"].pk])


@pytest.mark.today("2026-12-01")  # the API reads the clock: December 2026 has not ended yet, so its report is refused
def test_r_set_3_bad_report_writes_nothing(reporting, api_as):
    client = api_as(reporting["user"])
    r = client.post("/api/v1/monthly-reports/", {"period": "2026-11", "visits": -1, "total": "x",
                                                 "fund_payment": "1.00"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    r = client.post("/api/v1/monthly-reports/", {"period": "2026-12", "visits": 1, "total": "1.00",
                                                 "fund_payment": "1.00"}, format="json")
    assert r.status_code in (400, 409)
    bureau = api_as(f.bureau_admin())
    assert bureau.post("/api/v1/monthly-reports/", {"period": "2026-11", "visits": 1, "total": "1.00",
                                                    "fund_payment": "1.00"}, format="json").status_code == 403
    assert not InstitutionMonthlyReport.objects.exists()


def test_r_set_5_deposit_account_api_scoped(zhongwei, api_as):
    """The bureau of the region and the organisation itself see the account; another pharmacy and another region's
    bureau get 404."""
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, quantity=3)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    admin = f.bureau_admin()
    services.statement_confirm(statement=Statement.objects.get(pharmacy=pharmacy), actor=admin,
                               today=dt.date(2026, 12, 3), now=AT)
    url = f"/api/v1/deposit-accounts/{pharmacy.code}/"
    body = api_as(admin).get(url).json()
    assert body["balance"] == "99.23" and body["entries"][0]["kind"] == "withheld"
    assert api_as(f.pharmacy_user(pharmacy=pharmacy)).get(url).json()["balance"] == "99.23"
    assert api_as(f.pharmacy_user(pharmacy=f.PharmacyFactory())).get(url).status_code == 404
    assert api_as(f.bureau_admin(region_code="430100")).get(url).status_code == 404


def test_r_set_2_reconciliation_ward_list_is_overdue_only_when_unpaid(ward):
    """Owed 2,940.00: on 12-11 overdue while unpaid; after 2,940.00 is paid, no longer overdue (not the date alone)."""
    from apps.settlement.selectors import ward_delivery_statements

    confirm(ward)
    row = ward_delivery_statements(user=ward["h_user"], period=NOV, today=dt.date(2026, 12, 11))[0]
    assert (row["paid"], row["outstanding"], row["overdue"]) == ("0.00", "2940.00", True)
    money_services.ward_payment_record(statement=ward["statement"], actor=ward["h_user"], paid_on=dt.date(2026, 12, 3),
                                       amount="2940.00", reference="B9", now=AT)
    row = ward_delivery_statements(user=ward["h_user"], period=NOV, today=dt.date(2026, 12, 11))[0]
    assert (row["paid"], row["outstanding"], row["overdue"]) == ("2940.00", "0.00", False)


def test_r_set_5_statement_api_shows_deductions_held_and_lines(zhongwei, api_as):
    """Deduction 1,000.00 → deductions 1,000.00, payable 885.27, one line naming the sanction."""
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, quantity=3)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    admin = f.bureau_admin()
    sanction = money_services.sanction_money_record(organisation=pharmacy, kind="deduction", amount=D("1000.00"),
                                                    decided_on=dt.date(2026, 12, 1), reason="追回", actor=admin, now=AT)
    statement = Statement.objects.get(pharmacy=pharmacy)
    body = api_as(admin).get(f"/api/v1/settlements/{statement.pk}/").json()
    assert (body["deposit_rate"], body["deductions"], body["payable"], body["held"]) == (
        "0.0500", "1000.00", "885.27", "0.00")
    assert body["adjustments"][0]["sanction"] == sanction.pk and body["adjustments"][0]["amount"] == "1000.00"


def test_r_set_3_report_detail_and_status_api(reporting, api_as):
    """Report with fund 2,700.00 against the system's 2,646.00: detail says fund differs by 54.00, visits 3 vs 2;
    the bureau's status lists it (on time, differs)."""
    client = api_as(reporting["user"])
    r = client.post("/api/v1/monthly-reports/", {"period": "2026-11", "visits": 3, "total": "3920.00",
                                                 "fund_payment": "2700.00"}, format="json")
    assert r.status_code == 201, r.content
    body = client.get(f"/api/v1/monthly-reports/{r.json()['id']}/").json()
    figures = {x["figure"]: x for x in body["figures"]}
    assert (figures["visits"]["reported"], figures["visits"]["system"], figures["visits"]["difference"]) == ("3", "2", "1")
    assert figures["fund_payment"]["difference"] == "54.00" and body["matches"] is False
    assert sorted(body["dispensings"]) == sorted([reporting["d1"].pk, reporting["d2"].pk])
    status = api_as(f.bureau_admin()).get("/api/v1/monthly-reports/status/?period=2026-11").json()
    row = next(x for x in status["results"] if x["code"] == reporting["pharmacy"].code)
    assert (row["differs"], row["report"]) == (True, r.json()["id"])
