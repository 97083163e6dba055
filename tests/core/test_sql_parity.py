"""Issue 9: every rule computed twice — once with the ORM, once in the hand-written SQL of a hot path — gives the same
answer on the same data. Each test builds a small region tree (province 640000 → city 640500 → county 640502, and
an unrelated province 430000) and runs both forms on several cases, the edges included: the first and last day of
a version, the day after it ends, a gap between versions, and the walk up the region tree."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.catalogue.models import PaymentStandard
from apps.catalogue.selectors import payment_standard_version_on
from apps.core.exceptions import ApplicationError
from apps.core.models import RegionSettings
from apps.core.selectors import region_settings_for
from apps.policies.selectors import policy_for
from apps.prescriptions.models import Delivery, Dispensing
from apps.prescriptions.selectors import payment_standards_on
from apps.prescriptions.sql_reads import nearest_region_setting, payment_standards_in_force, policy_in_force
from apps.settlement.selectors import settling_organisation
from apps.settlement.settlement_sql import month_snapshot
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

D = dt.date


def _regions():
    return {code: f.region(code) for code in ("640000", "640500", "640502", "640521", "430000", "430100", "430102")}


# --- R-PAY-1: the policy in force (apps.policies.selectors.policy_for ↔ sql_reads.policy_in_force) ---------------------

def _policy_answer(fn, region, on):
    try:
        return fn(region=region, on=on).pk
    except ApplicationError as exc:
        return exc.code


def test_r_pay_1_policy_in_force_hand_sql_matches_orm():
    """Province 640000 has a policy from 2021-01-01 (open); city 640500 one for 2026-01-01..2026-06-30 and a newer one
    from 2026-07-01; county 640521 its own from 2026-03-01. Expected by hand: county 640502 on 2025-12-31 → the
    province's; on 2026-01-01 and 2026-06-30 → the city's first; on 2026-07-01 → the city's second; county 640521
    on 2026-02-28 → the city's first, on 2026-03-01 → its own; Hunan (no policy) → ``no_policy`` both ways."""
    r = _regions()
    province = f.policy("640000", "zhongwei-2021", valid_from=D(2021, 1, 1))
    city_a = f.policy("640500", "zhongwei-2021", valid_from=D(2026, 1, 1))
    city_a.valid_until = D(2026, 6, 30)
    city_a.save(update_fields=["valid_until"])
    city_b = f.policy("640500", "zhongwei-2021", valid_from=D(2026, 7, 1))
    county = f.policy("640521", "zhongwei-2021", valid_from=D(2026, 3, 1))
    expected = {
        ("640502", D(2025, 12, 31)): province.pk, ("640502", D(2026, 1, 1)): city_a.pk,
        ("640502", D(2026, 6, 30)): city_a.pk, ("640502", D(2026, 7, 1)): city_b.pk,
        ("640500", D(2026, 6, 30)): city_a.pk, ("640000", D(2026, 6, 30)): province.pk,
        ("640521", D(2026, 2, 28)): city_a.pk, ("640521", D(2026, 3, 1)): county.pk,
        ("640521", D(2027, 1, 1)): county.pk, ("430102", D(2026, 6, 30)): "no_policy",
        ("640502", D(2020, 12, 31)): "no_policy",
    }
    for (code, on), answer in expected.items():
        orm, sql = _policy_answer(policy_for, r[code], on), _policy_answer(policy_in_force, r[code], on)
        assert orm == sql == answer, (code, on, orm, sql)


# --- R-CAT-3: the payment standard in force (payment_standard_version_on / payment_standards_on ↔ the SQL fragment) --

def test_r_cat_3_payment_standard_in_force_hand_sql_matches_orm():
    """Drug A: 1000.00 for 2026-01-01..2026-05-31, 900.00 from 2026-06-01 (open). Drug B: 500.00 for
    2026-01-01..2026-03-31, then nothing until 480.00 from 2026-05-01. Expected by hand: A on 2025-12-31 → none,
    2026-01-01 → 1000.00, 2026-05-31 → 1000.00, 2026-06-01 → 900.00; B on 2026-03-31 → 500.00, 2026-04-15 → none
    (the gap), 2026-05-01 → 480.00."""
    a, b = f.DrugFactory(), f.DrugFactory()
    PaymentStandard.objects.filter(drug__in=[a, b]).delete()
    PaymentStandard.objects.create(drug=a, amount=Decimal("1000.00"), valid_from=D(2026, 1, 1), valid_until=D(2026, 5, 31))
    PaymentStandard.objects.create(drug=a, amount=Decimal("900.00"), valid_from=D(2026, 6, 1))
    PaymentStandard.objects.create(drug=b, amount=Decimal("500.00"), valid_from=D(2026, 1, 1), valid_until=D(2026, 3, 31))
    PaymentStandard.objects.create(drug=b, amount=Decimal("480.00"), valid_from=D(2026, 5, 1))
    expected = {
        D(2025, 12, 31): {}, D(2026, 1, 1): {a.pk: Decimal("1000.00"), b.pk: Decimal("500.00")},
        D(2026, 3, 31): {a.pk: Decimal("1000.00"), b.pk: Decimal("500.00")},
        D(2026, 4, 15): {a.pk: Decimal("1000.00")}, D(2026, 5, 1): {a.pk: Decimal("1000.00"), b.pk: Decimal("480.00")},
        D(2026, 5, 31): {a.pk: Decimal("1000.00"), b.pk: Decimal("480.00")},
        D(2026, 6, 1): {a.pk: Decimal("900.00"), b.pk: Decimal("480.00")},
    }
    for on, answer in expected.items():
        one_by_one = {}
        for drug in (a, b):
            version = payment_standard_version_on(drug=drug, on=on)
            if version is not None:
                one_by_one[drug.pk] = version.amount
        batch = payment_standards_on(drugs=[a, b], on=on)
        sql = payment_standards_in_force(drug_ids=[a.pk, b.pk], on=on)
        assert one_by_one == batch == sql == answer, (on, one_by_one, batch, sql)


# --- R-RX-4 / R-DOC-2: the nearest region settings (region_settings_for ↔ the SQL fragment of the upload) ------------

def test_r_rx_4_nearest_region_settings_hand_sql_matches_orm():
    """Settings: province 640000 (validity 5 days), county 640521 (validity 2 days, role split on); Hunan city 430100
    (validity 7 days). Expected by hand: county 640502 (none of its own, city 640500 none) → the province's 5 days;
    city 640500 → 5; county 640521 → its own 2 days and role split; county 430102 → its city's 7; province 430000
    (nothing above or at it) → the model default 3 days. The upload reads NULL as the default, as here."""
    r = _regions()
    RegionSettings.objects.create(region=r["640000"], prescription_validity_days=5)
    RegionSettings.objects.create(region=r["640521"], prescription_validity_days=2, role_split=True)
    RegionSettings.objects.create(region=r["430100"], prescription_validity_days=7)
    default = RegionSettings()
    expected = {"640502": (5, False), "640500": (5, False), "640000": (5, False), "640521": (2, True),
                "430102": (7, False), "430100": (7, False), "430000": (3, False)}
    for code, answer in expected.items():
        orm = region_settings_for(r[code])
        validity = nearest_region_setting(region=r[code], column="prescription_validity_days")
        split = nearest_region_setting(region=r[code], column="role_split")
        sql = (default.prescription_validity_days if validity is None else validity,
               default.role_split if split is None else bool(split))
        assert (orm.prescription_validity_days, orm.role_split) == sql == answer, (code, orm, sql)


# --- R-SET-1: the settling organisation (settling_organisation ↔ the month snapshot of settlement_sql) ---------------

def test_r_set_1_settling_organisation_hand_sql_matches_orm():
    """November 2026: a pickup and a delivery to the hospital (injections) are settled with the pharmacy, a ward delivery with the institution
    (000 五(三)); a self-paid dispensing and one of October are not on November's statements at all."""
    pharmacy, institution = f.PharmacyFactory(), f.InstitutionFactory()
    pickup = sf.dispensing(pharmacy=pharmacy, institution=institution, delivery=Delivery.PICKUP)
    ward = sf.dispensing(pharmacy=pharmacy, institution=institution, delivery=Delivery.WARD)
    home = sf.dispensing(pharmacy=pharmacy, institution=institution, delivery=Delivery.HOSPITAL)
    self_paid = sf.dispensing(pharmacy=pharmacy, institution=institution, settlement=Dispensing.Settlement.SELF_PAID)
    october = sf.dispensing(pharmacy=pharmacy, institution=institution, period=D(2026, 10, 1))
    from django.db import connection

    with month_snapshot(D(2026, 11, 1)) as table, connection.cursor() as cur:
        cur.execute(f"SELECT id, org_kind, org_id FROM {table}")
        sql = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
    orm = {d.pk: (type(settling_organisation(d))._meta.model_name, settling_organisation(d).pk)
           for d in (pickup, ward, home)}
    assert sql == orm == {pickup.pk: ("pharmacy", pharmacy.pk), ward.pk: ("institution", institution.pk),
                          home.pk: ("pharmacy", pharmacy.pk)}
    assert self_paid.pk not in sql and october.pk not in sql
