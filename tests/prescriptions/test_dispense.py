"""Dispensing: R-RX-5 refusals, R-PAY-3/4 amounts through the API, quote, snapshot, reversal, expiry, cancel,
decline, scoping."""
import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.utils import timezone

from apps.catalogue.models import PaymentStandard
from apps.policies.models import PaymentPolicy
from apps.prescriptions import tasks
from apps.prescriptions.models import (
    Dispensing, DispensingLine, PatientYearUsage, Prescription, TraceCode,
)
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


@pytest.fixture
def s():
    return rx.setup()


def upload(api_as, s, serial="RX0001", **kw):
    r = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(serial, **kw), format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def dispense(api_as, s, pid, body):
    return api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/dispense/", body, format="json")


def assert_nothing_dispensed(pid):
    assert Dispensing.objects.count() == 0 and TraceCode.objects.count() == 0
    assert not PatientYearUsage.objects.exclude(deductible_met=0, fund_paid=0).exists()
    assert Prescription.objects.get(pk=pid).status == "flowed"


def test_r_pay_4_first_and_second_purchase_through_the_api(api_as, s):
    first = dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3, "980.00"))
    assert first.status_code == 201, first.content
    assert first.json()["settlement"] == {"total": "2940.00", "first_self_pay": "294.00", "in_scope": "2646.00",
                                          "deductible": "500.00", "fund_payment": "1609.50",
                                          "personal_payment": "1330.50"}
    second = dispense(api_as, s, upload(api_as, s, "RX0002", quantity=1), rx.dispense_body(s.drug, 1, "980.00"))
    assert second.json()["settlement"] == {"total": "980.00", "first_self_pay": "98.00", "in_scope": "882.00",
                                           "deductible": "0.00", "fund_payment": "661.50",
                                           "personal_payment": "318.50"}
    usage = PatientYearUsage.objects.get(person=s.person, year=timezone.localdate().year)
    assert (usage.deductible_met, usage.fund_paid) == (D("500.00"), D("2271.00"))
    assert Prescription.objects.get(pk=first.json()["prescription"]).status == "dispensed"
    line = DispensingLine.objects.get(dispensing_id=first.json()["id"])
    assert (line.payment_standard, line.first_self_pay_ratio, line.reimbursement_ratio, line.fund_payment) == (
        D("1000.00"), D("0.1000"), D("0.7500"), D("1609.50"))
    assert TraceCode.objects.filter(line=line).count() == 3


def test_r_pay_4_hunan_resident(api_as, changsha):
    s = rx.setup(insurance_type="resident", ratio=D("0"))
    s.person.insured_region = f.region("430102")
    s.person.save()
    s.pharmacy.region = f.region("430102")
    s.pharmacy.save()
    r = dispense(api_as, s, upload(api_as, s, quantity=2), rx.dispense_body(s.drug, 2, "1000.00"))
    assert (r.json()["settlement"]["fund_payment"], r.json()["settlement"]["personal_payment"]) == ("1200.00", "800.00")


def test_r_pay_3_cap_and_deductible_across_a_year(api_as, s):
    year = timezone.localdate().year
    PatientYearUsage.objects.create(person=s.person, year=year, deductible_met=D("200.00"), fund_paid=D("399000.00"))
    r = dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3, "980.00"))
    st = r.json()["settlement"]
    assert st["deductible"] == "300.00"  # only what is left of 500
    assert st["fund_payment"] == "1000.00"  # (2646 - 300) × 0.75 = 1759.50, capped at 400000 - 399000
    usage = PatientYearUsage.objects.get(person=s.person, year=year)
    assert (usage.deductible_met, usage.fund_paid) == (D("500.00"), D("400000.00"))
    r2 = dispense(api_as, s, upload(api_as, s, "RX0002", quantity=1), rx.dispense_body(s.drug, 1, "980.00"))
    assert r2.json()["settlement"]["fund_payment"] == "0.00" and r2.json()["settlement"]["personal_payment"] == "980.00"


def test_r_pay_3_new_year_starts_a_new_accumulator(api_as, s):
    last_year = timezone.localdate().year - 1
    PatientYearUsage.objects.create(person=s.person, year=last_year, deductible_met=D("500.00"), fund_paid=D("5000"))
    r = dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3, "980.00"))
    assert r.json()["settlement"]["deductible"] == "500.00"


def test_r_rx_5_price_above_standard(api_as, s):
    pid = upload(api_as, s)
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, "1000.01"))
    assert r.status_code == 400 and r.json()["code"] == "price_above_standard"
    assert_nothing_dispensed(pid)


def test_r_cat_3_price_checked_against_standard_in_force_on_dispensing_day(api_as, s):
    today = timezone.localdate()
    PaymentStandard.objects.filter(drug=s.drug).update(valid_until=today - dt.timedelta(days=1))
    PaymentStandard.objects.create(drug=s.drug, amount=D("900.00"), valid_from=today)
    pid = upload(api_as, s)
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, "980.00"))
    assert r.json()["code"] == "price_above_standard"
    assert dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, "900.00")).status_code == 201


def test_r_rx_5_trace_code_count_mismatch(api_as, s):
    pid = upload(api_as, s)
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, codes=rx.trace_codes(2)))
    assert r.status_code == 400 and r.json()["code"] == "trace_code_count_mismatch"
    assert_nothing_dispensed(pid)


def test_r_rx_5_duplicate_trace_code_anywhere_in_the_system(api_as, s):
    codes = rx.trace_codes(3)
    assert dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3, codes=codes)).status_code == 201
    other_person = rx.person()
    rx.approved_application(person=other_person, physician=s.physician, drug=s.drug)
    other_pharmacy = f.PharmacyFactory()
    other = rx.Setup(**{**s.__dict__, "person": other_person, "pharmacy": other_pharmacy,
                        "application": other_person.applications.get(),
                        "pharmacist": f.pharmacy_user(other_pharmacy)})
    pid = upload(api_as, other, "RX0002")
    r = dispense(api_as, other, pid, rx.dispense_body(s.drug, 1, codes=[codes[1]]))
    assert r.status_code == 400 and r.json()["code"] == "duplicate_trace_code"
    assert codes[1] in r.json()["fields"]["trace_codes"]
    assert Dispensing.objects.count() == 1 and TraceCode.objects.count() == 3
    assert not PatientYearUsage.objects.filter(person=other_person).exclude(deductible_met=0).exists()
    assert Prescription.objects.get(pk=pid).status == "flowed"


def test_r_rx_5_duplicate_trace_code_within_one_dispensing(api_as, s):
    pid = upload(api_as, s)
    code = rx.trace_codes(1)[0]
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, codes=[code, code, rx.trace_codes(1)[0]]))
    assert r.json()["code"] == "duplicate_trace_code"
    assert_nothing_dispensed(pid)


def test_r_rx_5_trace_code_unique_by_database_constraint(s):
    from django.db import IntegrityError, transaction

    line = _line(s)
    TraceCode.objects.create(code="12345678901234567890", line=line, drug=s.drug, pharmacy=s.pharmacy,
                             dispensed_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        TraceCode.objects.create(code="12345678901234567890", line=line, drug=s.drug, pharmacy=s.pharmacy,
                                 dispensed_at=timezone.now())


def _line(s):
    p = Prescription.objects.create(
        institution=s.institution, serial_no="X1", person=s.person, physician=s.physician, pharmacy=s.pharmacy,
        issued_at=timezone.now(), signature="s", expires_at=timezone.now(), content_hash="x")
    d = Dispensing.objects.create(
        prescription=p, pharmacy=s.pharmacy, institution=s.institution, person=s.person, insurance_type="employee",
        insured_region=s.person.insured_region, policy=PaymentPolicy.objects.first(), care_setting="outpatient",
        dispensed_at=timezone.now(), period=timezone.localdate().replace(day=1), total=0, first_self_pay=0,
        in_scope=0, deductible=0, fund_payment=0, personal_payment=0)
    return DispensingLine.objects.create(
        dispensing=d, period=d.period, drug=s.drug, quantity=1, unit_price=1, line_total=1, payment_standard=1, first_self_pay_ratio=0,
        reimbursement_ratio=0, first_self_pay=0, in_scope=1, fund_payment=0, personal_payment=1)


def test_r_rx_5_invalid_trace_code_format(api_as, s):
    pid = upload(api_as, s)
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 1, codes=["1234"]))
    assert r.status_code == 400 and r.json()["code"] == "invalid"


def test_r_rx_5_quantity_exceeds_prescription(api_as, s):
    pid = upload(api_as, s, quantity=2)
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, "980.00"))
    assert r.status_code == 400 and r.json()["code"] == "quantity_exceeds_prescription"
    assert_nothing_dispensed(pid)


def test_r_rx_6_cannot_dispense_twice(api_as, s):
    pid = upload(api_as, s)
    assert dispense(api_as, s, pid, rx.dispense_body(s.drug, 3)).status_code == 201
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3))
    assert r.status_code == 409 and r.json()["code"] == "prescription_not_dispensable"
    assert Dispensing.objects.count() == 1


def test_r_rx_4_past_expiry_not_dispensable_even_before_the_task_runs(api_as, s):
    pid = upload(api_as, s, issued_at=timezone.now() - dt.timedelta(days=3, minutes=1))
    r = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3))
    assert r.status_code == 409 and r.json()["code"] == "prescription_not_dispensable"
    assert_nothing_dispensed(pid)


def test_r_rx_4_expiry_task_expires_due_prescriptions_idempotently(api_as, s):
    old = upload(api_as, s, issued_at=timezone.now() - dt.timedelta(days=4))
    fresh = upload(api_as, s, "RX0002")
    assert tasks.expire_prescriptions() == 1
    assert tasks.expire_prescriptions() == 0
    assert Prescription.objects.get(pk=old).status == "expired"
    assert Prescription.objects.get(pk=fresh).status == "flowed"
    assert dispense(api_as, s, old, rx.dispense_body(s.drug, 3)).json()["code"] == "prescription_not_dispensable"


def test_r_rx_6_hospital_cancels_with_reason_then_not_dispensable(api_as, s):
    pid = upload(api_as, s)
    assert api_as(s.hospital).post(f"/api/v1/prescriptions/{pid}/cancel/", {}, format="json").status_code == 400
    r = api_as(s.hospital).post(f"/api/v1/prescriptions/{pid}/cancel/", {"reason": "剂量调整"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "剂量调整"
    assert dispense(api_as, s, pid, rx.dispense_body(s.drug, 3)).json()["code"] == "prescription_not_dispensable"
    again = api_as(s.hospital).post(f"/api/v1/prescriptions/{pid}/cancel/", {"reason": "x"}, format="json")
    assert again.status_code == 409


def test_r_rx_6_hospital_cannot_cancel_a_dispensed_prescription(api_as, s):
    pid = upload(api_as, s)
    dispense(api_as, s, pid, rx.dispense_body(s.drug, 3))
    r = api_as(s.hospital).post(f"/api/v1/prescriptions/{pid}/cancel/", {"reason": "x"}, format="json")
    assert r.status_code == 409 and Prescription.objects.get(pk=pid).status == "dispensed"


def test_r_rx_6_pharmacy_declines_with_reason_from_fixed_list(api_as, s):
    pid = upload(api_as, s)
    bad = api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/decline/", {"reason": "不想卖"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    r = api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/decline/", {"reason": "out_of_stock"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "declined" and r.json()["decline_reason"] == "out_of_stock"
    hospital_view = api_as(s.hospital).get(f"/api/v1/prescriptions/{pid}/").json()
    assert hospital_view["status"] == "declined" and hospital_view["decline_reason"] == "out_of_stock"


def test_r_sec_1_pharmacy_cannot_dispense_another_pharmacys_prescription(api_as, s):
    pid = upload(api_as, s)
    other = f.pharmacy_user()
    for action in ("dispense", "quote", "decline"):
        r = api_as(other).post(f"/api/v1/prescriptions/{pid}/{action}/",
                               {**rx.dispense_body(s.drug, 3), "reason": "out_of_stock"}, format="json")
        assert r.status_code == 404, action
    assert_nothing_dispensed(pid)


def test_r_sec_1_hospital_may_not_dispense(api_as, s):
    pid = upload(api_as, s)
    r = api_as(s.hospital).post(f"/api/v1/prescriptions/{pid}/dispense/", rx.dispense_body(s.drug, 3), format="json")
    assert r.status_code == 403


def test_quote_returns_figures_and_changes_nothing(api_as, s):
    pid = upload(api_as, s)
    body = rx.dispense_body(s.drug, 3, "980.00")
    del body["items"][0]["trace_codes"]
    r = api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/quote/", body, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["settlement"]["fund_payment"] == "1609.50"
    assert r.json()["settlement"]["personal_payment"] == "1330.50"
    assert_nothing_dispensed(pid)
    assert not PatientYearUsage.objects.exists()
    # a quote does not use up the deductible: dispensing after it gives the same figures
    assert dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, "980.00")).json()["settlement"]["deductible"] == "500.00"


def test_quote_refuses_what_dispensing_would_refuse(api_as, s):
    pid = upload(api_as, s)
    r = api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/quote/", rx.dispense_body(s.drug, 3, "1200.00"),
                                  format="json")
    assert r.json()["code"] == "price_above_standard"


def test_snapshot_later_catalogue_and_policy_change_leave_past_amounts(api_as, s):
    r = dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3, "980.00"))
    did = r.json()["id"]
    PaymentStandard.objects.filter(drug=s.drug).update(amount=D("500.00"))
    s.drug.first_self_pay_ratio = D("0.3000")
    s.drug.save()
    PaymentPolicy.objects.update(ratio_outpatient_employee=D("0.5000"), deductible_outpatient_employee=D("0"))
    detail = api_as(s.pharmacist).get(f"/api/v1/dispensings/{did}/").json()
    assert detail["settlement"]["fund_payment"] == "1609.50"
    line = detail["lines"][0]
    assert (line["payment_standard"], line["first_self_pay_ratio"], line["reimbursement_ratio"]) == (
        "1000.00", "0.1000", "0.7500")


def test_r_rx_6_reversal_once_restores_deductible_and_cap(api_as, s):
    pid = upload(api_as, s)
    first = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, "980.00")).json()
    r = api_as(s.pharmacist).post(f"/api/v1/dispensings/{first['id']}/reverse/", {"reason": "单价录错"}, format="json")
    assert r.status_code == 201, r.content
    rev = r.json()
    assert rev["kind"] == "reversal" and rev["reverses"] == first["id"]
    assert rev["settlement"]["fund_payment"] == "-1609.50" and rev["settlement"]["total"] == "-2940.00"
    assert rev["lines"][0]["quantity"] == -3
    usage = PatientYearUsage.objects.get(person=s.person)
    assert (usage.deductible_met, usage.fund_paid) == (D("0.00"), D("0.00"))
    # once
    again = api_as(s.pharmacist).post(f"/api/v1/dispensings/{first['id']}/reverse/", {"reason": "单价录错"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "not_reversible"
    assert Dispensing.objects.filter(kind="reversal").count() == 1
    # the net of the two rows is zero, the prescription can be dispensed again with the released codes
    assert Prescription.objects.get(pk=pid).status == "flowed"
    codes = list(TraceCode.objects.values_list("code", flat=True))
    redo = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3, "950.00", codes=codes))
    assert redo.status_code == 201, redo.content
    assert redo.json()["settlement"]["deductible"] == "500.00"  # the restored deductible is used again


def test_r_rx_6_reversal_only_within_settlement_month(api_as, s):
    pid = upload(api_as, s)
    did = dispense(api_as, s, pid, rx.dispense_body(s.drug, 3)).json()["id"]
    period = Dispensing.objects.get(pk=did).period  # a dispensing's month never changes (its lines' key: issue 16)
    nxt = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    with time_machine.travel(rx.at(nxt.replace(day=2)), tick=False):  # the day after its month ended
        r = api_as(s.pharmacist).post(f"/api/v1/dispensings/{did}/reverse/", {"reason": "单价录错"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "not_reversible"


def test_r_rx_6_other_pharmacy_cannot_reverse(api_as, s):
    did = dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3)).json()["id"]
    r = api_as(f.pharmacy_user()).post(f"/api/v1/dispensings/{did}/reverse/", {"reason": "单价录错"}, format="json")
    assert r.status_code == 404


def test_r_set_1_reversal_goes_to_next_month_when_statement_confirmed(api_as, s):
    from apps.settlement.models import Statement

    did = dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3)).json()["id"]
    period = Dispensing.objects.get(pk=did).period
    Statement.objects.create(organisation_kind="pharmacy", pharmacy=s.pharmacy, period=period,
                             status=Statement.Status.CONFIRMED, computed_at=timezone.now())
    r = api_as(s.pharmacist).post(f"/api/v1/dispensings/{did}/reverse/", {"reason": "单价录错"}, format="json")
    assert r.status_code == 201, r.content
    nxt = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    assert r.json()["period"] == f"{nxt:%Y-%m}"


def test_r_rx_6_reversal_in_open_month_keeps_original_period(api_as, s):
    did = dispense(api_as, s, upload(api_as, s), rx.dispense_body(s.drug, 3)).json()["id"]
    r = api_as(s.pharmacist).post(f"/api/v1/dispensings/{did}/reverse/", {"reason": "单价录错"}, format="json")
    assert r.json()["period"] == f"{Dispensing.objects.get(pk=did).period:%Y-%m}"
