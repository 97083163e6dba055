"""Issue 15: forms a hospital, a pharmacy and a reviewer fill in Chromium, and what was saved."""
from decimal import Decimal

import pytest
from django.core.cache import cache

from apps.applications.models import Application
from tests import factories as f
from tests.applications.factories import setup_hospital

# the pages read "now" from the clock; the set-up (agreements, policies, applications) is dated around 2026-12-01
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.today("2026-12-01")]


def test_r_app_2_hospital_fills_new_application_and_the_patient_name_is_saved(login_page, live_server):
    """Each 申请表 field appears once (姓名 and 年龄 used to be repeated because "name" is inside
    "diagnosis_name" and "age" inside "usage"); the name typed in 姓名 is the name saved."""
    f.policy("640500", "zhongwei-2021")
    cache.clear()
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    page = login_page(hospital.username)
    page.goto(f"{live_server.url}/applications/new/")
    labels = page.locator("#create-form label").all_inner_texts()
    names = page.locator("#create-form [name]").evaluate_all("els => els.map(e => e.name)")
    for field in ("name", "age", "usage", "diagnosis_name"):
        assert names.count(field) == 1, (field, names)
    assert sum(1 for label in labels if label.strip().startswith("姓名")) == 1
    assert sum(1 for label in labels if label.strip().startswith("年龄")) == 1

    page.fill("input[name=name]", "王小明")
    page.fill("input[name=id_number]", f.id_number(seq=7))
    page.select_option("select[name=insurance_type]", "employee")
    page.fill("input[name=insured_region]", "640500")
    page.fill("input[name=phone]", "13900000007")
    page.select_option("select[name=pharmacy_code]", pharmacy.code)
    page.fill("input[name=diagnosis_code]", "C34.9")
    page.fill("input[name=diagnosis_name]", "肺恶性肿瘤")
    page.fill("input[name=generic_name]", "奥希替尼")
    page.select_option("select[name=physician_code]", physician.code)
    page.fill("input[name=usage]", "80mg qd")
    page.fill("input[name=course_days]", "90")
    page.click("#create-form button[type=submit]")
    page.wait_for_load_state()

    application = Application.objects.get()
    assert application.person.name == "王小明"
    assert application.diagnosis_name == "肺恶性肿瘤" and application.usage == "80mg qd"
    assert application.course_days == 90 and application.pharmacy_id == pharmacy.pk
    assert application.number in page.locator("body").inner_text()


def _rx_setup_with_dispensing():
    """A flowed prescription dispensed now (3 packs at 980.00: fund 1,609.50) and a second one still flowed."""
    from django.utils import timezone

    from apps.prescriptions.services import dispensing as rx_dispensing
    from apps.prescriptions.services import upload as rx_upload
    from tests.prescriptions import factories as rx

    s = rx.setup()
    now = timezone.now()
    made = []
    for serial in ("UI001", "UI002"):
        prescription, _ = rx_upload.prescription_upload(user=s.hospital, now=now, data=rx_upload.UploadData(
            serial_no=serial, application=s.application.pk, physician_code=s.physician.code,
            pharmacy_code=s.pharmacy.code, issued_at=now, signature="sig",
            items=[rx_upload.UploadItem(s.drug.code, 3, 30)]))
        made.append(prescription)
    dispensing = rx_dispensing.prescription_dispense(
        prescription_id=made[0].pk, user=s.pharmacist, dispensed_at=now, now=now,
        items=[rx_dispensing.DispenseItem(s.drug.code, 3, Decimal("980.00"), rx.trace_codes(3))])
    return s, made, dispensing


def test_r_rx_6_pharmacist_records_stock_reverses_with_reason_and_declines(login_page, live_server):
    from apps.core.models import Event
    from apps.prescriptions.models import Dispensing, Prescription, StockMovement

    s, (dispensed, waiting), dispensing = _rx_setup_with_dispensing()
    page = login_page(s.pharmacist.username)

    # a purchase of 10 packs at 931.00
    page.goto(f"{live_server.url}/prescriptions/stock/")
    page.fill("input[name=drug_code]", s.drug.code)
    page.select_option("select[name=kind]", "purchase")
    page.fill("input[name=quantity]", "10")
    page.fill("input[name=unit_price]", "931.00")
    page.fill("input[name=occurred_at]", "2026-11-30T10:15")
    page.click("form button[type=submit]:has-text('登记')")
    page.wait_for_load_state()
    movement = StockMovement.objects.filter(kind="purchase").latest("id")
    assert (movement.quantity, movement.unit_price, movement.drug_id) == (10, Decimal("931.00"), s.drug.pk)

    # the reversal asks once, with the figures, and keeps its reason
    page.goto(f"{live_server.url}/prescriptions/{dispensed.pk}/")
    page.fill(f"#reason-{dispensing.pk}", "单价录入错误")
    page.click(f"#dispensing-{dispensing.pk} button:has-text('冲正')")
    page.wait_for_load_state()
    assert page.dialogs and "1,609.50" in page.dialogs[-1] and "不能撤销" in page.dialogs[-1]
    reversal = Dispensing.objects.get(reverses=dispensing)
    assert reversal.fund_payment == Decimal("-1609.50")
    assert Event.objects.filter(action="dispensing_reversed", reason="单价录入错误").exists()

    # decline the other prescription with a reason from the list
    page.goto(f"{live_server.url}/prescriptions/{waiting.pk}/")
    decline = page.locator(f"form[action$='/prescriptions/{waiting.pk}/decline/']")
    decline.locator("select[name=reason]").select_option(index=1)
    decline.locator("input[name=note]").fill("冷链到货延迟")
    decline.locator("button[type=submit]").click()
    page.wait_for_load_state()
    waiting.refresh_from_db()
    assert waiting.status == Prescription.Status.DECLINED and waiting.decline_note == "冷链到货延迟"


def test_r_rx_6_hospital_cancels_a_prescription_after_confirming(login_page, live_server):
    from apps.prescriptions.models import Prescription

    s, (_, waiting), _ = _rx_setup_with_dispensing()
    page = login_page(s.hospital.username)
    page.goto(f"{live_server.url}/prescriptions/{waiting.pk}/")
    cancel = page.locator(f"form[action$='/prescriptions/{waiting.pk}/cancel/']")
    cancel.locator("textarea[name=reason]").fill("患者住院，改为住院用药")
    cancel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.dialogs and "撤销后不能恢复" in page.dialogs[-1]
    waiting.refresh_from_db()
    assert waiting.status == Prescription.Status.CANCELLED and waiting.cancel_reason == "患者住院，改为住院用药"


def test_r_doc_3_r_app_8_reviewer_files_a_physician_and_terminates_an_application(login_page, live_server):
    from apps.physicians.models import Physician
    from tests.prescriptions import factories as rx

    s = rx.setup()
    reviewer = f.reviewer("640500", username="ui_reviewer")
    proposed = f.PhysicianFactory(institution=s.institution, status=Physician.Status.PROPOSED, filed_on=None)
    page = login_page(reviewer.username)

    page.goto(f"{live_server.url}/applications/filings/{proposed.pk}/")
    page.check("input[name=decision][value=file]")
    page.fill("input[name=valid_until]", "2027-12-31")
    page.click(".decision-box button[type=submit]")
    page.wait_for_load_state()
    proposed.refresh_from_db()
    assert proposed.status == Physician.Status.FILED and proposed.filing_valid_until.isoformat() == "2027-12-31"

    application = s.application
    page.goto(f"{live_server.url}/applications/{application.pk}/")
    page.click("#terminate summary")
    page.fill("#terminate textarea[name=reason]", "参保关系已转出")
    page.click("#terminate button[type=submit]")
    page.wait_for_load_state()
    assert page.dialogs and application.number in page.dialogs[-1] and "不能恢复" in page.dialogs[-1]
    application.refresh_from_db()
    assert application.status == Application.Status.TERMINATED and application.termination_reason == "参保关系已转出"
