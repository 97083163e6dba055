"""API.md Catalogue: GET /api/v1/drugs/ fields and filters for every role (R-SEC-1), writes for bureau
administrators only (403 for a pharmacy user), R-CAT-3 through the API."""
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.catalogue.models import Drug, PaymentStandard
from tests import factories as f

pytestmark = pytest.mark.django_db

API_FIELDS = {"code", "generic_name", "dosage_form", "specification", "manufacturer", "category", "therapeutic_area",
              "payment_standard", "first_self_pay_ratio", "agreement_start", "agreement_end", "active"}


def _today():
    return timezone.localdate()


@pytest.fixture
def catalogue():
    today = _today()
    start, end = today - dt.timedelta(days=30), today + dt.timedelta(days=700)
    return {
        "osimertinib": f.DrugFactory(code="XL01XEA0000000000000001", generic_name="奥希替尼",
                                     agreement_start=start, agreement_end=end),
        "semaglutide": f.DrugFactory(code="XA10BJA0000000000000002", generic_name="司美格鲁肽", dosage_form="注射液",
                                     manufacturer="诺和诺德（中国）制药有限公司", route=Drug.Route.INJECTION,
                                     therapeutic_area=f.area("endocrine"), first_self_pay_ratio=Decimal("0"),
                                     payment_standard=Decimal("478.00"), agreement_start=start, agreement_end=end),
        "empagliflozin": f.DrugFactory(code="XA10BKA0000000000000003", generic_name="恩格列净",
                                       category=Drug.Category.REGULAR_B, therapeutic_area=f.area("endocrine"),
                                       agreement_start=start, agreement_end=end),
        "expired": f.DrugFactory(code="ZL01XEA0000000000000004", generic_name="过期药",
                                 agreement_start=start - dt.timedelta(days=800),
                                 agreement_end=start - dt.timedelta(days=1)),
    }


@pytest.mark.parametrize("make_user", [f.bureau_admin, f.reviewer, f.hospital_user, f.pharmacy_user])
def test_api_drugs_list_has_the_api_md_fields_for_every_role(api_as, catalogue, make_user):
    response = api_as(make_user()).get("/api/v1/drugs/", {"code": "XL01XEA0000000000000001"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    drug = body["results"][0]
    assert API_FIELDS <= set(drug)
    assert drug["payment_standard"] == "1000.00" and drug["first_self_pay_ratio"] == "0.10"
    assert drug["therapeutic_area"] == "肿瘤" and drug["category"] == "negotiated" and drug["active"] is True


def test_api_drugs_filters(api_as, catalogue):
    client = api_as(f.pharmacy_user())

    def codes(**params):
        return {d["code"] for d in client.get("/api/v1/drugs/", params).json()["results"]}

    assert codes(generic_name="司美") == {"XA10BJA0000000000000002"}
    assert codes(active="true") == {"XL01XEA0000000000000001", "XA10BJA0000000000000002", "XA10BKA0000000000000003"}
    assert codes(active="false") == {"ZL01XEA0000000000000004"}
    assert codes(category="regular_b") == {"XA10BKA0000000000000003"}
    assert codes(therapeutic_area="endocrine") == codes(therapeutic_area="内分泌与代谢") == {
        "XA10BJA0000000000000002", "XA10BKA0000000000000003"}
    assert codes(route="injection", dosage_form="注射液") == {"XA10BJA0000000000000002"}
    assert codes(q="诺和诺德") == {"XA10BJA0000000000000002"}
    expired_day = catalogue["expired"].agreement_end.isoformat()
    assert codes(listed_on=expired_day) == {"ZL01XEA0000000000000004"}
    assert client.get("/api/v1/drugs/", {"listed_on": "not-a-date"}).json()["code"] == "invalid"


def test_api_drugs_payment_standard_is_the_one_in_force_today(api_as, catalogue):
    admin = f.system_admin()
    client = api_as(admin)
    drug = catalogue["osimertinib"]
    tomorrow = _today() + dt.timedelta(days=1)
    response = client.patch(f"/api/v1/drugs/{drug.pk}/", {"payment_standard": "900.00",
                                                           "effective_date": tomorrow.isoformat()}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["payment_standard"] == "1000.00"  # the new value starts tomorrow (R-CAT-3)
    assert [(v["amount"], v["valid_from"], v["valid_until"]) for v in body["payment_standards"]] == [
        ("900.00", tomorrow.isoformat(), None),
        ("1000.00", drug.agreement_start.isoformat(), _today().isoformat()),
    ]


def test_r_sec_1_pharmacy_user_cannot_create_or_change_drugs(api_as, catalogue):
    client = api_as(f.pharmacy_user())
    body = {"code": "XL01XEA0000000000000099", "generic_name": "新药", "dosage_form": "片剂", "specification": "1mg",
            "manufacturer": "某药企", "category": "negotiated", "therapeutic_area": "oncology",
            "payment_standard": "100.00", "agreement_start": "2026-01-01"}
    response = client.post("/api/v1/drugs/", body, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert client.patch(f"/api/v1/drugs/{catalogue['osimertinib'].pk}/", {"generic_name": "x"},
                        format="json").status_code == 403
    assert not Drug.objects.filter(code="XL01XEA0000000000000099").exists()


def test_api_bureau_admin_creates_a_drug_with_its_first_payment_standard(api_as):
    client = api_as(f.system_admin())
    body = {"code": "XL01XEA0000000000000099", "generic_name": "新药", "dosage_form": "片剂", "specification": "1mg",
            "manufacturer": "某药企", "category": "negotiated", "therapeutic_area": "肿瘤",
            "payment_standard": "100.00", "first_self_pay_ratio": "0.05", "agreement_start": "2026-01-01",
            "agreement_end": "2027-12-31"}
    response = client.post("/api/v1/drugs/", body, format="json")
    assert response.status_code == 201, response.json()
    drug = Drug.objects.get(code="XL01XEA0000000000000099")
    assert drug.first_self_pay_ratio == Decimal("0.0500")
    assert list(PaymentStandard.objects.filter(drug=drug).values_list("amount", flat=True)) == [Decimal("100.00")]
    again = client.post("/api/v1/drugs/", body, format="json")
    assert again.status_code == 400 and again.json()["code"] == "invalid" and "code" in again.json()["fields"]
    bad = client.post("/api/v1/drugs/", {**body, "code": "BAD"}, format="json")
    assert bad.status_code == 400 and Drug.objects.count() == 1


def test_api_drug_detail_by_code_or_id_and_404(api_as, catalogue):
    client = api_as(f.hospital_user())
    drug = catalogue["semaglutide"]
    assert client.get(f"/api/v1/drugs/{drug.code}/").json()["id"] == drug.pk
    assert client.get(f"/api/v1/drugs/{drug.pk}/").json()["code"] == drug.code
    assert client.get("/api/v1/drugs/XL01XEA9999999999999999/").status_code == 404
