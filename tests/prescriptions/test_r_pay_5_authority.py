"""R-PAY-5 (revision 2): the cross-region filing is granted by the *insured* region's bureau and names the treatment
region; manual claims are paid only for a drug covered by an approved, unexpired application (R-APP-1)."""
import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.applications.models import Application
from apps.prescriptions.models import CrossRegionFiling, ManualClaim, PatientYearUsage
from tests import factories as f
from tests.prescriptions import factories as rx

pytestmark = pytest.mark.django_db


@pytest.fixture
def hunan_patient(changsha):
    """A Changsha resident (insured 430102) with an approved application, treated in Zhongwei."""
    s = rx.setup(insurance_type="resident")
    s.person.insured_region = f.region("430102")
    s.person.save()
    return s


def _filing(s):
    return {"id_number": s.person.id_number, "treatment_region": "640500", "filing_no": "YD-R2-1",
            "valid_from": "2026-01-01", "valid_until": None, "direct_settlement": True}


def test_r_pay_5_treatment_region_bureau_cannot_grant_filing(api_as, hunan_patient):
    """Zhongwei's bureau (the treatment region) → 403 not_insured_region_bureau, nothing written; Changsha's bureau
    (the insured region) → 201 naming 640500 as the treatment region."""
    s = hunan_patient
    r = api_as(f.bureau_admin("640500")).post("/api/v1/cross-region-filings/", _filing(s), format="json")
    assert r.status_code == 403 and r.json()["code"] == "not_insured_region_bureau"
    assert "参保地" in r.json()["detail"]
    assert CrossRegionFiling.objects.count() == 0
    r = api_as(f.bureau_admin("430100")).post("/api/v1/cross-region-filings/", _filing(s), format="json")
    assert r.status_code == 201, r.content
    assert (r.json()["insured_region"], r.json()["treatment_region"]) == ("430102", "640500")


def _claim(s):
    return {"id_number": s.person.id_number, "invoice_no": "FP-R2-1", "invoice_date": "2026-11-20",
            "provider_name": s.pharmacy.name, "care_setting": "outpatient",
            "lines": [{"drug_code": s.drug.code, "quantity": 2, "unit_price": "1000.00"}]}


def test_r_pay_5_manual_claim_needs_approved_unexpired_application(api_as, hunan_patient):
    """The application ends 2026-10-31, the invoice is dated 2026-11-20 → 400 no_valid_application, nothing written.
    With the application valid to 2027-12-31 the same claim is paid under hunan-2026 (resident, no deductible, 60 %):
    2 × 1000.00 = 2000.00, first self-pay 10 % = 200.00, in scope 1800.00, fund 1800.00 × 0.60 = 1080.00."""
    s = hunan_patient
    Application.objects.filter(pk=s.application.pk).update(valid_until=dt.date(2026, 10, 31))
    bureau = api_as(f.bureau_admin("430100"))
    r = bureau.post("/api/v1/manual-claims/", _claim(s), format="json")
    assert r.status_code == 400 and r.json()["code"] == "no_valid_application"
    assert "lines.0.drug_code" in r.json()["fields"]
    assert ManualClaim.objects.count() == 0
    assert not PatientYearUsage.objects.filter(person=s.person, fund_paid__gt=0).exists()
    Application.objects.filter(pk=s.application.pk).update(valid_until=dt.date(2027, 12, 31))
    r = bureau.post("/api/v1/manual-claims/", _claim(s), format="json")
    assert r.status_code == 201, r.content
    assert r.json()["settlement"]["fund_payment"] == "1080.00"
    assert ManualClaim.objects.get().fund_payment == D("1080.00")
