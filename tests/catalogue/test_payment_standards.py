"""R-CAT-3: payment standards are versioned by effective date; ``payment_standard_on`` is the lookup."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.catalogue.models import PaymentStandard
from apps.catalogue.selectors import payment_standard_on
from apps.catalogue.services import drug_create, drug_update
from apps.core.exceptions import ApplicationError
from apps.core.models import Event
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_r_cat_3_change_closes_the_old_period_the_day_before_and_opens_a_new_one():
    admin = f.system_admin()
    drug = f.DrugFactory(payment_standard=Decimal("1000.00"))
    drug_update(drug=drug, actor=admin, payment_standard=Decimal("950.00"), effective_date=dt.date(2026, 7, 1))
    drug_update(drug=drug, actor=admin, payment_standard=Decimal("900.00"), effective_date=dt.date(2027, 1, 1))
    versions = list(PaymentStandard.objects.filter(drug=drug).order_by("valid_from")
                    .values_list("amount", "valid_from", "valid_until", "created_by"))
    assert versions == [
        (Decimal("1000.00"), dt.date(2026, 1, 1), dt.date(2026, 6, 30), None),
        (Decimal("950.00"), dt.date(2026, 7, 1), dt.date(2026, 12, 31), admin.pk),
        (Decimal("900.00"), dt.date(2027, 1, 1), None, admin.pk),
    ]
    drug.refresh_from_db()
    assert drug.payment_standard == Decimal("900.00")
    assert Event.objects.filter(action="payment_standard_changed").count() == 2


def test_r_cat_3_lookup_by_date_uses_the_version_in_force_that_day():
    admin = f.system_admin()
    drug = f.DrugFactory(payment_standard=Decimal("1000.00"))
    drug_update(drug=drug, actor=admin, payment_standard=Decimal("950.00"), effective_date=dt.date(2026, 7, 1))
    assert payment_standard_on(drug=drug, on=dt.date(2026, 1, 1)) == Decimal("1000.00")
    assert payment_standard_on(drug=drug, on=dt.date(2026, 6, 30)) == Decimal("1000.00")
    assert payment_standard_on(drug=drug, on=dt.date(2026, 7, 1)) == Decimal("950.00")
    assert payment_standard_on(drug=drug, on=dt.date(2027, 12, 31)) == Decimal("950.00")


def test_r_cat_3_lookup_outside_the_listing_is_drug_not_listed():
    drug = f.DrugFactory()
    for day in (dt.date(2025, 12, 31), dt.date(2028, 1, 1)):
        with pytest.raises(ApplicationError) as exc:
            payment_standard_on(drug=drug, on=day)
        assert exc.value.code == "drug_not_listed"


def test_r_cat_3_change_effective_on_or_before_the_current_version_is_refused():
    admin = f.system_admin()
    drug = f.DrugFactory(payment_standard=Decimal("1000.00"))
    with pytest.raises(ApplicationError) as exc:
        drug_update(drug=drug, actor=admin, payment_standard=Decimal("900.00"), effective_date=dt.date(2026, 1, 1))
    assert "须晚于" in exc.value.message
    drug.refresh_from_db()
    assert drug.payment_standard == Decimal("1000.00") and PaymentStandard.objects.filter(drug=drug).count() == 1


def test_r_cat_3_same_amount_is_no_new_version():
    admin = f.system_admin()
    drug = f.DrugFactory(payment_standard=Decimal("1000.00"))
    drug_update(drug=drug, actor=admin, payment_standard=Decimal("1000.00"), effective_date=dt.date(2026, 7, 1))
    assert PaymentStandard.objects.filter(drug=drug).count() == 1


def test_r_cat_1_create_validates_code_and_opens_the_first_version():
    admin = f.system_admin()
    common = dict(actor=admin, generic_name="奥希替尼", dosage_form="片剂", specification="80mg*30片",
                  manufacturer="阿斯利康", category="negotiated", therapeutic_area=f.area("oncology"), route="oral",
                  payment_standard=Decimal("4788.00"), first_self_pay_ratio=Decimal("0.1"),
                  agreement_start=dt.date(2026, 1, 1), agreement_end=dt.date(2027, 12, 31))
    with pytest.raises(ApplicationError) as exc:
        drug_create(code="AL01XEA0000000000000001", **common)
    assert exc.value.code == "invalid" and "code" in exc.value.fields
    drug = drug_create(code="xl01xea0000000000000001", **common)
    assert drug.code == "XL01XEA0000000000000001"
    assert list(drug.payment_standards.values_list("amount", "valid_from")) == [(Decimal("4788.00"), dt.date(2026, 1, 1))]
    with pytest.raises(ApplicationError):
        drug_create(code="XL01XEA0000000000000002", **{**common, "agreement_end": dt.date(2025, 1, 1)})
