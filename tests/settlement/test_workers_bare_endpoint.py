"""Issue 16 "REST": the load benchmark's floor, a bare DRF create of the prescription upload's body
(benchmarks/bare_endpoint.py), writes the same rows as the real upload and is mounted only for the benchmark; and a
dispensing finds the month it counts in with one query (R-SET-1)."""
import datetime as dt
import importlib

import pytest
from django.test import override_settings
from django.urls import clear_url_caches

from apps.applications.models import Application
from apps.prescriptions.models import Prescription
from tests import factories as f
from tests.settlement import factories as sf


def _reload_urls():
    import config.urls

    clear_url_caches()
    importlib.reload(config.urls)


@pytest.fixture
def bench_urls():
    with override_settings(BENCHMARK_BARE_ENDPOINTS=True, ROOT_URLCONF="config.urls"):
        _reload_urls()
        yield
    _reload_urls()


@pytest.mark.django_db
def test_the_bare_endpoint_is_not_mounted_unless_the_benchmark_asks(api_as, zhongwei):
    client = api_as(f.bureau_admin())
    assert client.post("/bench/bare/prescriptions/", {}, format="json").status_code == 404


@pytest.mark.django_db
def test_the_bare_endpoint_creates_the_upload_s_rows_from_the_same_body(api_as, zhongwei, bench_urls):
    """One prescription with one item of 2 boxes for 30 days, for the application's patient; a bad body is 400."""
    institution, pharmacy, drug = f.InstitutionFactory(), f.PharmacyFactory(), f.DrugFactory()
    physician = f.PhysicianFactory(institution=institution)
    person = sf.person()
    application = Application.objects.create(
        number="SQ202600000001", person=person, insured_region=person.insured_region, institution=institution,
        pharmacy=pharmacy, physician=physician, generic_name=drug.generic_name, therapeutic_area=drug.therapeutic_area,
        diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤", usage="80mg qd", course_days=90,
        status=Application.Status.APPROVED, submitted_at=sf.AT, applied_on=dt.date(2026, 1, 5),
        valid_from=dt.date(2026, 1, 5), valid_until=dt.date(2027, 1, 4))
    hospital_user = f.hospital_user(application.institution)
    client = api_as(hospital_user)
    body = {"serial_no": "RXBARE00000001", "application": application.pk, "physician_code": physician.code,
            "pharmacy_code": pharmacy.code, "issued_at": "2026-11-30T09:00:00+08:00", "long_term": False,
            "care_setting": "outpatient", "items": [{"drug_code": drug.code, "quantity": 2, "days_supply": 30}],
            "signature": "SIG1"}
    response = client.post("/bench/bare/prescriptions/", body, format="json")
    assert response.status_code == 201, response.content
    rx = Prescription.objects.get(pk=response.json()["id"])
    assert (rx.institution_id, rx.person_id, rx.pharmacy_id, rx.serial_no) == (
        application.institution_id, application.person_id, pharmacy.pk, "RXBARE00000001")
    assert rx.expires_at - rx.issued_at == dt.timedelta(days=3)
    assert list(rx.items.values_list("drug_id", "quantity", "days_supply")) == [(drug.pk, 2, 30)]
    assert client.post("/bench/bare/prescriptions/", {**body, "items": []}, format="json").status_code == 400


@pytest.mark.django_db
def test_r_set_1_the_open_month_of_a_dispensing_is_one_query_whatever_is_locked(zhongwei, django_assert_num_queries):
    """A pharmacy with October and November confirmed, a hospital with November confirmed: an entry dated
    October for both counts in December, found in one query (not one .exists() per organisation and month)."""
    from apps.prescriptions.services.dispensing import settlement_period
    from apps.settlement.models import Statement

    pharmacy, hospital = f.PharmacyFactory(), f.InstitutionFactory()
    for org, kind, period in ((pharmacy, "pharmacy", dt.date(2026, 10, 1)), (pharmacy, "pharmacy", dt.date(2026, 11, 1)),
                              (hospital, "institution", dt.date(2026, 11, 1))):
        Statement.objects.create(organisation_kind=kind, **{kind: org}, period=period, status="confirmed",
                                 computed_at=sf.AT)
    with django_assert_num_queries(1):
        assert settlement_period(day=dt.date(2026, 10, 20), organisations=[pharmacy, hospital]) == dt.date(2026, 12, 1)
    with django_assert_num_queries(1):
        assert settlement_period(day=dt.date(2026, 10, 20), organisations=[hospital]) == dt.date(2026, 10, 1)
    with django_assert_num_queries(1):
        assert settlement_period(day=dt.date(2026, 12, 3), organisations=[pharmacy]) == dt.date(2026, 12, 1)
