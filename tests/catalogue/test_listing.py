"""R-CAT-4 validity: a negotiated drug's listing ends with its agreement; a regular drug's runs one year;
the set-based filter agrees with ``Drug.is_listed_on``."""
import datetime as dt

import pytest

from apps.catalogue.models import Drug
from apps.catalogue.selectors import drugs_listed_on
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_r_cat_4_negotiated_listing_ends_with_the_agreement():
    drug = f.DrugFactory(category=Drug.Category.NEGOTIATED, agreement_start=dt.date(2026, 1, 1),
                         agreement_end=dt.date(2027, 12, 31))
    assert drug.listing_end == dt.date(2027, 12, 31)
    assert drug.is_listed_on(dt.date(2027, 12, 31)) and not drug.is_listed_on(dt.date(2028, 1, 1))
    assert not drug.is_listed_on(dt.date(2025, 12, 31))


def test_r_cat_4_regular_class_b_listing_runs_one_year():
    drug = f.DrugFactory(category=Drug.Category.REGULAR_B, agreement_start=dt.date(2026, 3, 1),
                         agreement_end=dt.date(2028, 12, 31))
    assert drug.listing_end == dt.date(2027, 2, 28)
    assert drug.is_listed_on(dt.date(2027, 2, 28)) and not drug.is_listed_on(dt.date(2027, 3, 1))


@pytest.mark.parametrize("day", [dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2026, 12, 31),
                                 dt.date(2027, 1, 1), dt.date(2027, 6, 30), dt.date(2027, 12, 31),
                                 dt.date(2028, 1, 1)])
def test_r_cat_4_listed_on_filter_agrees_with_is_listed_on(day):
    f.DrugFactory(category=Drug.Category.NEGOTIATED, agreement_start=dt.date(2026, 1, 1),
                  agreement_end=dt.date(2027, 12, 31))
    f.DrugFactory(category=Drug.Category.REGULAR_B, agreement_start=dt.date(2026, 1, 1),
                  agreement_end=dt.date(2027, 12, 31))
    f.DrugFactory(category=Drug.Category.NEGOTIATED, agreement_start=dt.date(2026, 1, 1), agreement_end=None)
    f.DrugFactory(agreement_start=dt.date(2026, 1, 1), withdrawn_on=dt.date(2027, 1, 1),
                  withdrawal_reason=Drug.WithdrawalReason.FRAUD)
    expected = {d.pk for d in Drug.objects.all() if d.is_listed_on(day)}
    assert set(drugs_listed_on(Drug.objects.all(), day).values_list("pk", flat=True)) == expected
