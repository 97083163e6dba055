"""R-PAY-5: the insured region's policy, cross-region filing, self-paid dispensing and manual claims."""
import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.prescriptions.services import claims as rx_claims
from apps.prescriptions.models import PatientYearUsage
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


@pytest.fixture
def hunan_patient_in_zhongwei(changsha):
    """A Changsha resident (hunan-2026: no deductible, resident 60 %) treated in Zhongwei."""
    s = rx.setup(insurance_type="resident")
    s.person.insured_region = f.region("430102")
    s.person.save()
    return s


def _dispense(api_as, s):
    pid = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(quantity=2), format="json").json()["id"]
    return api_as(s.pharmacist).post(f"/api/v1/prescriptions/{pid}/dispense/",
                                     rx.dispense_body(s.drug, 2, "1000.00"), format="json")


def test_r_pay_5_with_direct_filing_paid_under_insured_region_policy(api_as, hunan_patient_in_zhongwei):
    s = hunan_patient_in_zhongwei
    rx_claims.cross_region_filing_create(user=f.bureau_admin("430100"), person=s.person, treatment_region=f.region("640500"),
                                        filing_no="YD001", valid_from=dt.date(2026, 1, 1), valid_until=None)
    r = _dispense(api_as, s)
    assert r.status_code == 201, r.content
    # hunan-2026 resident: no deductible, 60 % of in scope (2000 − 10 % first self-pay = 1800) = 1080
    assert r.json()["settlement"]["deductible"] == "0.00"
    assert r.json()["settlement"]["fund_payment"] == "1080.00"
    assert r.json()["settlement_mode"] == "direct"


def test_r_pay_5_without_filing_patient_pays_in_full_then_manual_claim(api_as, hunan_patient_in_zhongwei):
    s = hunan_patient_in_zhongwei
    r = _dispense(api_as, s)
    assert r.json()["settlement"]["fund_payment"] == "0.00"
    assert r.json()["settlement"]["personal_payment"] == "2000.00"
    assert r.json()["settlement_mode"] == "self_paid"
    assert PatientYearUsage.objects.get(person=s.person).fund_paid == D("0.00")

    from apps.prescriptions.models import Dispensing

    admin = f.bureau_admin("430100")
    claim = rx_claims.manual_claim_record(
        user=admin, person=s.person, invoice_no="FP0001", invoice_date=timezone.localdate(),
        provider_name=s.pharmacy.name, lines=[rx_claims.ClaimLine(s.drug.code, 2, D("1000.00"))],
        dispensing=Dispensing.objects.get(pk=r.json()["id"]), now=timezone.now())
    assert (claim.total, claim.fund_payment, claim.personal_payment) == (D("2000.00"), D("1080.00"), D("920.00"))
    assert PatientYearUsage.objects.get(person=s.person).fund_paid == D("1080.00")
    with pytest.raises(ApplicationError) as exc:
        rx_claims.manual_claim_record(
            user=admin, person=s.person, invoice_no="FP0001", invoice_date=timezone.localdate(),
            provider_name=s.pharmacy.name, lines=[rx_claims.ClaimLine(s.drug.code, 2, D("1000.00"))],
            now=timezone.now())
    assert exc.value.code == "duplicate_claim"


def test_r_pay_5_manual_claim_uses_same_engine_with_deductible(db):
    f.policy("640500", "zhongwei-2021")
    rx.ensure_areas()
    drug = f.DrugFactory()
    person = rx.person()
    rx.approved_application(person=person, physician=f.PhysicianFactory(), drug=drug)  # R-PAY-5: covered drug
    claim = rx_claims.manual_claim_record(
        user=f.bureau_admin(), person=person, invoice_no="FP9", invoice_date=timezone.localdate(),
        provider_name="外地医院", lines=[rx_claims.ClaimLine(drug.code, 3, D("980.00"))], now=timezone.now())
    assert (claim.deductible, claim.fund_payment, claim.personal_payment) == (D("500.00"), D("1609.50"), D("1330.50"))


def test_r_pay_5_policy_walks_up_region_tree(api_as):
    # policy only on the province: a county-insured patient is settled under it
    s = rx.setup()
    from apps.policies.models import PaymentPolicy

    PaymentPolicy.objects.all().delete()
    f.policy("640000", "hunan-2026", valid_from=dt.date(2026, 1, 1))
    r = _dispense(api_as, s)
    assert r.json()["settlement"]["deductible"] == "0.00"
    assert r.json()["settlement"]["fund_payment"] == "1260.00"  # 1800 × 0.70 employee
