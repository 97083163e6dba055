"""R-STK-2 / R-STK-3 (revision 2): stocking counts varieties (generic name + dosage form), targets follow the corrected
classes, and the tertiary share is of all tertiary hospitals in the region (the administrator's figure)."""
import datetime as dt
from decimal import Decimal as D

import pytest

from apps.core.models import RegionSettings
from apps.settlement import services
from apps.settlement.stocking_selectors import stocking_metrics
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def world(zhongwei):
    start = dt.date(2025, 1, 1)
    a1 = f.DrugFactory(generic_name="甲", dosage_form="片剂", manufacturer="企业一", agreement_start=start)
    a2 = f.DrugFactory(generic_name="甲", dosage_form="片剂", manufacturer="企业二", agreement_start=start)
    a_inj = f.DrugFactory(generic_name="甲", dosage_form="注射剂", route="injection", agreement_start=start)
    b = f.DrugFactory(generic_name="乙", dosage_form="片剂", agreement_start=start)
    grade_a = f.InstitutionFactory(region=f.region("640502"), level=3, hospital_type="general", grade_a=True)
    tertiary_b = f.InstitutionFactory(region=f.region("640502"), level=3, hospital_type="general", grade_a=False)
    secondary = f.InstitutionFactory(region=f.region("640521"), level=2, kind="treating")
    key = f.InstitutionFactory(region=f.region("640521"), level=2, kind="treating", is_key_hospital=True)
    on = dt.date(2026, 1, 10)
    for inst, drug in [(grade_a, a1), (grade_a, a2), (tertiary_b, a2), (key, a1)]:
        services.stocking_report_create(institution=inst, drug=drug, kind="formal", listed_on=on)
    return {"a1": a1, "b": b, "a_inj": a_inj, "grade_a": grade_a, "tertiary_b": tertiary_b,
            "secondary": secondary, "key": key, "city": zhongwei}


def test_r_stk_2_two_manufacturers_are_one_variety(world):
    """Catalogue varieties: 甲片剂 (two manufacturers), 甲注射剂, 乙片剂 → 3, not 4 products. The grade-A hospital
    stocks both manufacturers' 甲片剂 → 1 variety, rate 1/3 = 0.3333. Per variety: 甲片剂 is one row, stocked by 3
    institutions."""
    m = stocking_metrics(on=TODAY, region=world["city"])
    row = next(r for r in m["institutions"] if r["code"] == world["grade_a"].code)
    assert (row["stocked"], row["catalogue"], row["rate"]) == (1, 3, D("0.3333"))
    varieties = [(r["generic_name"], r["dosage_form"]) for r in m["drugs"]]
    assert sorted(varieties) == [("乙", "片剂"), ("甲", "注射剂"), ("甲", "片剂")]
    tablet = next(r for r in m["drugs"] if (r["generic_name"], r["dosage_form"]) == ("甲", "片剂"))
    assert tablet["institutions"] == 3


def test_r_stk_3_corrected_targets(world):
    """Grade-A tertiary public general → 30 % (0.3333 ≥ 0.30: not below); tertiary not grade A → no target; a
    secondary hospital → no target (never "below"); the region's key hospital → 50 % (1/3 = 0.3333 < 0.50:
    below). A region setting for others (20 %) gives the secondary hospital a target (0/3 → below)."""
    m = stocking_metrics(on=TODAY, region=world["city"])
    rows = {r["code"]: r for r in m["institutions"]}
    assert rows[world["grade_a"].code]["target"] == D("0.3000") and not rows[world["grade_a"].code]["below_target"]
    assert rows[world["tertiary_b"].code]["target"] is None and not rows[world["tertiary_b"].code]["below_target"]
    assert rows[world["secondary"].code]["target"] is None and not rows[world["secondary"].code]["below_target"]
    assert rows[world["key"].code]["target"] == D("0.5000") and rows[world["key"].code]["below_target"]
    RegionSettings.objects.create(region=world["city"], target_other=D("0.2000"))
    rows = {r["code"]: r for r in stocking_metrics(on=TODAY, region=world["city"])["institutions"]}
    assert rows[world["secondary"].code]["target"] == D("0.2000") and rows[world["secondary"].code]["below_target"]


def test_r_stk_2_tertiary_share_of_all_tertiary_hospitals_in_region(world):
    """Designated tertiary hospitals: 2, both stock 甲片剂. Without the administrator's figure the share is 2/2 =
    1.0000; with 5 tertiary hospitals in the region (3 not designated) it is 2/5 = 0.4000."""
    tablet = lambda m: next(r for r in m["drugs"] if (r["generic_name"], r["dosage_form"]) == ("甲", "片剂"))  # noqa
    assert tablet(stocking_metrics(on=TODAY, region=world["city"]))["tertiary_share"] == D("1.0000")
    RegionSettings.objects.create(region=world["city"], tertiary_hospital_count=5)
    m = stocking_metrics(on=TODAY, region=world["city"])
    assert (tablet(m)["tertiary"], tablet(m)["tertiary_share"]) == (2, D("0.4000"))
