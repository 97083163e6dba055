"""The catalogue demo loads, is re-runnable, and its payment-standard history and withdrawal follow R-CAT-3/5."""
import datetime as dt

import pytest

from apps.demo import catalogue as demo
from apps.demo.loader import moment_of
from apps.catalogue.models import Drug, PaymentStandard
from apps.catalogue.selectors import payment_standard_on

pytestmark = pytest.mark.django_db


def test_demo_catalogue_is_rerunnable_with_history_and_a_withdrawn_drug():
    today = dt.date(2026, 11, 25)
    demo.load(today=today, now=moment_of(today))
    demo.load(today=today, now=moment_of(today))
    assert Drug.objects.count() == len(demo.DRUGS) + 1
    osimertinib = Drug.objects.get(generic_name="奥希替尼")
    assert payment_standard_on(drug=osimertinib, on=today) == osimertinib.payment_standard
    assert payment_standard_on(drug=osimertinib, on=dt.date(2026, 1, 1)) > osimertinib.payment_standard
    assert PaymentStandard.objects.filter(drug=osimertinib).count() == 2
    withdrawn = Drug.objects.get(withdrawn_on__isnull=False)
    assert not withdrawn.is_listed_on(today) and withdrawn.withdrawal_reason == "18.4"
    for drug in Drug.objects.filter(withdrawn_on__isnull=True):
        assert payment_standard_on(drug=drug, on=today) == drug.payment_standard
