import datetime as dt
from decimal import Decimal

import pytest

from apps.core.exceptions import ApplicationError
from apps.policies.models import PaymentPolicy
from apps.policies.selectors import policy_for
from apps.policies.services import policy_create, policy_create_from_preset, policy_update
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_r_pay_2_presets_values():
    zw = policy_create_from_preset(region=f.region("640500"), preset="zhongwei-2021", valid_from=dt.date(2021, 1, 1))
    assert zw.deductible(care_setting="outpatient", insurance_type="employee") == Decimal("500.00")
    assert zw.ratio(care_setting="outpatient", insurance_type="employee") == Decimal("0.7500")
    assert zw.ratio(care_setting="outpatient", insurance_type="resident") == Decimal("0.6000")
    assert zw.annual_cap(insurance_type="employee") == Decimal("400000.00")
    assert zw.annual_cap(insurance_type="resident") == Decimal("130000.00")
    assert zw.deductible(care_setting="inpatient", insurance_type="employee") == Decimal("0.00")
    hn = policy_create_from_preset(region=f.region("430100"), preset="hunan-2026", valid_from=dt.date(2026, 1, 1))
    assert hn.deductible(care_setting="outpatient", insurance_type="resident") == Decimal("0.00")
    assert hn.ratio(care_setting="outpatient", insurance_type="employee") == Decimal("0.7000")
    assert hn.ratio(care_setting="outpatient", insurance_type="resident") == Decimal("0.6000")
    assert hn.annual_cap(insurance_type="employee") is None and hn.annual_cap(insurance_type="resident") is None
    # created again: the existing one is returned
    assert policy_create_from_preset(region=f.region("430100"), preset="hunan-2026",
                                     valid_from=dt.date(2026, 1, 1)) == hn
    with pytest.raises(ApplicationError):
        policy_create_from_preset(region=f.region("430100"), preset="nowhere", valid_from=dt.date(2026, 1, 1))


def test_r_pay_1_county_uses_its_citys_policy_unless_it_has_its_own():
    city = f.policy("640500", "zhongwei-2021")
    county = f.region("640521")
    assert policy_for(region=county, on=dt.date(2026, 6, 1)) == city
    own = policy_create(actor=None, region=county, valid_from=dt.date(2026, 1, 1), name="中宁县试点",
                        **{k: v for k, v in PaymentPolicy.objects.values().get(pk=city.pk).items()
                           if k.startswith(("deductible_", "ratio_", "annual_cap_"))})
    assert policy_for(region=county, on=dt.date(2026, 6, 1)) == own
    assert policy_for(region=county, on=dt.date(2025, 6, 1)) == city  # before its own starts
    assert policy_for(region=f.region("640522"), on=dt.date(2026, 6, 1)) == city  # another county


def test_r_pay_1_no_policy_anywhere_up_the_tree_is_an_error():
    with pytest.raises(ApplicationError) as exc:
        policy_for(region=f.region("430102"), on=dt.date(2026, 6, 1))
    assert exc.value.code == "no_policy"


def test_r_pay_1_new_period_closes_the_open_one_and_keeps_old_values():
    old = f.policy("640500", "zhongwei-2021")
    values = {k: v for k, v in PaymentPolicy.objects.values().get(pk=old.pk).items()
              if k.startswith(("deductible_", "ratio_", "annual_cap_"))}
    values["ratio_outpatient_employee"] = Decimal("0.8000")
    new = policy_create(actor=f.bureau_admin(), region=old.region, valid_from=dt.date(2027, 1, 1), name="2027", **values)
    old.refresh_from_db()
    assert old.valid_until == dt.date(2026, 12, 31)
    assert policy_for(region=old.region, on=dt.date(2026, 12, 31)).ratio_outpatient_employee == Decimal("0.7500")
    assert policy_for(region=old.region, on=dt.date(2027, 1, 1)) == new
    with pytest.raises(ApplicationError) as exc:  # inside the closed period: overlap
        policy_create(actor=None, region=old.region, valid_from=dt.date(2025, 1, 1), name="x", **values)
    assert exc.value.code == "policy_overlap"


def test_r_pay_1_update_validates_ratio_range():
    policy = f.policy("640500", "zhongwei-2021")
    with pytest.raises(ApplicationError) as exc:
        policy_update(policy=policy, actor=None, data={"ratio_outpatient_employee": Decimal("1.5")})
    assert "ratio_outpatient_employee" in exc.value.fields
    policy.refresh_from_db()
    assert policy.ratio_outpatient_employee == Decimal("0.7500")
