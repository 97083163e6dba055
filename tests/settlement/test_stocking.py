"""Stocking and coverage on a small hand-computed data set: R-STK-1..4, R-INS-5, R-DOC-4, R-CAT-7."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus, RegionSettings
from apps.institutions.models import Institution, PharmacyCommitteeMeeting
from apps.physicians.models import Physician
from apps.settlement import services
from apps.settlement.models import CataloguePublication, StockingReport
from apps.settlement.stocking_selectors import (
    committee_deadlines, counties_without_coverage, departments_short_of_physicians, stocking_metrics,
    zero_use_drugs,
)
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 25)
D = Decimal


@pytest.fixture
def world(zhongwei):
    city = zhongwei
    c1, c2, c3 = f.region("640502", "沙坡头区"), f.region("640521", "中宁县"), f.region("640522", "海原县")
    RegionSettings.objects.create(region=city, pharmacy_committee_deadline_months=2)
    start = dt.date(2025, 1, 1)
    A = f.DrugFactory(generic_name="甲", therapeutic_area=f.area("oncology"), route="oral", agreement_start=start)
    B = f.DrugFactory(generic_name="乙", therapeutic_area=f.area("hematology"), route="injection", agreement_start=start)
    C = f.DrugFactory(generic_name="丙", therapeutic_area=f.area("endocrine"), route="oral", agreement_start=start)
    D_ = f.DrugFactory(generic_name="丁", therapeutic_area=f.area("rare_disease"), route="injection", agreement_start=start)
    E = f.DrugFactory(generic_name="戊", category="regular_b", route="oral", agreement_start=start,
                      agreement_end=dt.date(2025, 12, 31))
    F = f.DrugFactory(generic_name="己", therapeutic_area=f.area("hepatitis"), route="oral", agreement_start=start,
                      withdrawn_on=dt.date(2026, 6, 1), withdrawal_reason="18.4")
    H1 = f.InstitutionFactory(region=c1, level=3, hospital_type="general", grade_a=True)  # 三甲公立综合 (R-STK-3)
    H2 = f.InstitutionFactory(region=c2, level=3, hospital_type="specialist", specialty=f.area("oncology"))
    H3 = f.InstitutionFactory(region=c2, level=2, hospital_type="general", kind="treating",
                              is_key_hospital=True)  # named by the region (R-STK-3)
    H4 = f.InstitutionFactory(region=c3, level=3, status=DesignationStatus.APPLIED)
    f.PharmacyFactory(region=c1)
    f.PharmacyFactory(region=c3)
    f.PharmacyFactory(region=c2, status=DesignationStatus.SUSPENDED)
    on = dt.date(2026, 1, 10)
    for inst, drug, kind, ended in [(H1, A, "formal", None), (H1, C, "temporary", None),
                                    (H1, B, "formal", dt.date(2026, 10, 31)), (H2, A, "formal", None),
                                    (H2, C, "temporary", None), (H4, D_, "formal", None)]:
        services.stocking_report_create(institution=inst, drug=drug, kind=kind, listed_on=on, ended_on=ended)
    # reports the metrics must ignore: a regular drug, and a drug withdrawn since (written directly)
    StockingReport.objects.create(institution=H1, drug=E, kind="formal", listed_on=on)
    StockingReport.objects.create(institution=H1, drug=F, kind="formal", listed_on=on)
    return {"city": city, "A": A, "B": B, "C": C, "D": D_, "E": E, "F": F, "H1": H1, "H2": H2, "H3": H3, "H4": H4}


def test_r_stk_2_institution_stocking_rate_and_specialist_denominator(world):
    m = stocking_metrics(on=TODAY, region=world["city"])
    rows = {r["code"]: r for r in m["institutions"]}
    assert set(rows) == {world["H1"].code, world["H2"].code, world["H3"].code}  # H4 not admitted
    h1, h2, h3 = rows[world["H1"].code], rows[world["H2"].code], rows[world["H3"].code]
    # catalogue on TODAY: A, B, C, D negotiated and listed (E regular, F withdrawn)
    assert (h1["stocked"], h1["catalogue"], h1["rate"]) == (2, 4, D("0.5000"))  # A, C (B ended 10-31)
    # specialist hospital: only drugs of its specialty area (肿瘤: A; B is 血液病) count, above and below the line
    assert (h2["stocked"], h2["catalogue"], h2["rate"]) == (1, 1, D("1.0000"))
    assert (h3["stocked"], h3["catalogue"], h3["rate"]) == (0, 4, D("0.0000"))


def test_r_stk_2_split_by_therapeutic_area_group_and_dosage_form(world):
    m = stocking_metrics(on=TODAY, region=world["city"])
    h1 = next(r for r in m["institutions"] if r["code"] == world["H1"].code)
    assert h1["by_area_group"]["oncology"] == {"stocked": 1, "catalogue": 2, "rate": D("0.5000")}  # A of A, B
    assert h1["by_area_group"]["chronic"] == {"stocked": 1, "catalogue": 1, "rate": D("1.0000")}
    assert h1["by_area_group"]["rare_disease"] == {"stocked": 0, "catalogue": 1, "rate": D("0.0000")}
    assert h1["by_area_group"]["chronic_infectious"] == {"stocked": 0, "catalogue": 0, "rate": None}
    assert h1["by_route_group"]["oral_external"] == {"stocked": 2, "catalogue": 2, "rate": D("1.0000")}
    assert h1["by_route_group"]["injection"] == {"stocked": 0, "catalogue": 2, "rate": D("0.0000")}
    matrix = {(c["area_group"], c["route_group"]): (c["catalogue"], c["stocked"]) for c in m["matrix"]}
    assert matrix[("oncology", "oral_external")] == (1, 1)
    assert matrix[("oncology", "injection")] == (1, 0)
    assert matrix[("chronic", "oral_external")] == (1, 1)
    assert matrix[("rare_disease", "injection")] == (1, 0)


def test_r_stk_2_per_drug_institutions_tertiary_share_and_regions_covered(world):
    m = stocking_metrics(on=TODAY, region=world["city"])
    drugs = {r["code"]: r for r in m["drugs"]}
    assert set(drugs) == {world[k].code for k in "ABCD"}
    a = drugs[world["A"].code]
    # tertiary admitted: H1, H2 → 2; cities in scope: 1 (中卫); counties: 3
    assert (a["institutions"], a["tertiary"], a["tertiary_share"]) == (2, 2, D("1.0000"))
    assert (a["cities"], a["city_share"], a["counties"], a["county_share"]) == (1, D("1.0000"), 2, D("0.6667"))
    b, d = drugs[world["B"].code], drugs[world["D"].code]
    assert (b["institutions"], b["tertiary_share"], b["counties"]) == (0, D("0.0000"), 0)
    assert d["institutions"] == 0  # stocked only by a hospital that is not admitted


def test_r_stk_2_varieties_per_region(world):
    m = stocking_metrics(on=TODAY, region=world["city"])
    regions = {r["code"]: r for r in m["regions"]}
    assert regions["640502"]["varieties"] == 2 and regions["640521"]["varieties"] == 2
    assert regions["640521"]["by_area_group"] == {"chronic": 1, "oncology": 1, "rare_disease": 0,
                                                   "chronic_infectious": 0}
    assert regions["640502"]["by_route_group"] == {"oral_external": 2, "injection": 0}
    assert "640522" not in regions


def test_r_stk_3_targets_from_region_settings_and_who_is_below(world):
    m = stocking_metrics(on=TODAY, region=world["city"])
    rows = {r["code"]: r for r in m["institutions"]}
    assert rows[world["H1"].code]["target"] == D("0.3000") and not rows[world["H1"].code]["below_target"]
    assert rows[world["H2"].code]["target"] == D("0.6000") and not rows[world["H2"].code]["below_target"]
    assert rows[world["H3"].code]["target"] == D("0.5000") and rows[world["H3"].code]["below_target"]
    assert [r["code"] for r in m["below_target"]] == [world["H3"].code]
    # a stricter region setting moves H1 below target
    RegionSettings.objects.filter(region=world["city"]).update(target_tertiary_general=D("0.6000"))
    m = stocking_metrics(on=TODAY, region=world["city"])
    assert {r["code"] for r in m["below_target"]} == {world["H1"].code, world["H3"].code}


def test_r_stk_1_reports_refuse_regular_drugs_overlaps_and_bad_dates(world):
    with pytest.raises(ApplicationError) as exc:
        services.stocking_report_create(institution=world["H3"], drug=world["E"], kind="formal", listed_on=TODAY)
    assert exc.value.code == "invalid"
    with pytest.raises(ApplicationError) as exc:
        services.stocking_report_create(institution=world["H1"], drug=world["A"], kind="temporary",
                                        listed_on=dt.date(2026, 5, 1))
    assert exc.value.code == "stocking_overlap" and exc.value.status == 409
    with pytest.raises(ApplicationError):
        services.stocking_report_create(institution=world["H3"], drug=world["A"], kind="formal", listed_on=TODAY,
                                        ended_on=TODAY - dt.timedelta(days=1))
    with pytest.raises(ApplicationError):
        services.stocking_report_create(institution=world["H3"], drug=world["A"], kind="bought", listed_on=TODAY)
    # after B ended on 10-31, H1 may report it again from 11-01
    services.stocking_report_create(institution=world["H1"], drug=world["B"], kind="temporary",
                                    listed_on=dt.date(2026, 11, 1))
    assert StockingReport.objects.filter(institution=world["H1"], drug=world["B"]).count() == 2


def test_r_stk_1_hospital_reports_through_the_api(world, api_as):
    client = api_as(f.hospital_user(institution=world["H3"]))
    response = client.post("/api/v1/stocking-reports/", {"drug_code": world["B"].code, "kind": "temporary",
                                                         "listed_on": "2026-11-01"}, format="json")
    assert response.status_code == 201
    assert response.json()["institution"] == world["H3"].code and response.json()["kind"] == "temporary"
    listed = client.get("/api/v1/stocking-reports/").json()
    assert [r["drug_code"] for r in listed["results"]] == [world["B"].code]  # only its own (R-SEC-1)
    refused = client.post("/api/v1/stocking-reports/", {"drug_code": world["E"].code, "kind": "formal",
                                                        "listed_on": "2026-11-01"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    pharmacy = api_as(f.pharmacy_user())
    assert pharmacy.post("/api/v1/stocking-reports/", {"drug_code": world["B"].code, "kind": "formal",
                                                       "listed_on": "2026-11-01"}, format="json").status_code == 403


def test_r_stk_4_committee_deadlines_on_time_late_overdue_pending(world):
    CataloguePublication.objects.create(version="2025版", published_on=dt.date(2026, 1, 1))
    PharmacyCommitteeMeeting.objects.create(institution=world["H1"], catalogue_version="2025版",
                                            catalogue_published_on=dt.date(2026, 1, 1), held_on=dt.date(2026, 2, 15))
    PharmacyCommitteeMeeting.objects.create(institution=world["H2"], catalogue_version="2025版",
                                            catalogue_published_on=dt.date(2026, 1, 1), held_on=dt.date(2026, 4, 1))
    report = committee_deadlines(today=TODAY, region=world["city"])
    status = {r["code"]: (r["deadline"], r["status"]) for r in report["rows"]}
    deadline = dt.date(2026, 3, 1)  # published 01-01 + 2 months (region setting)
    assert status == {world["H1"].code: (deadline, "on_time"), world["H2"].code: (deadline, "late"),
                      world["H3"].code: (deadline, "overdue")}
    assert {r["code"] for r in report["flagged"]} == {world["H2"].code, world["H3"].code}
    early = committee_deadlines(today=dt.date(2026, 2, 1), region=world["city"])
    assert {r["code"]: r["status"] for r in early["rows"]}[world["H3"].code] == "pending"


def test_r_ins_5_counties_without_an_institution_or_a_pharmacy(world):
    rows = {r["code"]: r for r in counties_without_coverage(region=world["city"])}
    # 沙坡头: H1 and a pharmacy; 中宁: hospitals but only a suspended pharmacy; 海原: pharmacy, hospital not admitted
    assert set(rows) == {"640521", "640522"}
    assert rows["640521"]["has_institution"] and not rows["640521"]["has_pharmacy"]
    assert not rows["640522"]["has_institution"] and rows["640522"]["has_pharmacy"]


def test_r_doc_4_departments_with_fewer_than_two_filed_physicians(world):
    f.PhysicianFactory(institution=world["H1"], department="肿瘤内科")
    f.PhysicianFactory(institution=world["H1"], department="肿瘤内科")
    f.PhysicianFactory(institution=world["H1"], department="内分泌科")
    f.PhysicianFactory(institution=world["H1"], department="内分泌科", status=Physician.Status.PROPOSED)
    f.PhysicianFactory(institution=world["H4"], department="神经内科")  # not admitted: not reported
    rows = departments_short_of_physicians(region=world["city"])
    assert rows == [{"institution_code": world["H1"].code, "institution_name": world["H1"].name,
                     "department": "内分泌科", "filed": 1, "physicians": 2}]


def test_r_cat_7_zero_use_last_year_except_rare_disease(world):
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, institution=world["H1"], drug=world["A"], period=dt.date(2025, 5, 1))
    sf.dispensing(pharmacy=pharmacy, institution=world["H1"], drug=world["C"], period=dt.date(2026, 3, 1))
    zero = {d.code for d in zero_use_drugs(year=2025)}
    # A used in 2025; C only in 2026; D rare disease excepted; E and F were listed in 2025
    assert zero == {world["B"].code, world["C"].code, world["E"].code, world["F"].code}


def test_r_stk_2_metrics_api_for_the_bureau(world, api_as):
    body = api_as(f.bureau_admin()).get("/api/v1/reports/stocking/?date=2026-11-25").json()
    rows = {r["code"]: r for r in body["institutions"]}
    assert rows[world["H1"].code]["rate"] == "0.5000" and rows[world["H3"].code]["below_target"] is True
    assert body["below_target"] == [world["H3"].code]
    coverage = api_as(f.bureau_admin()).get("/api/v1/reports/coverage/?date=2026-11-25").json()
    assert {c["code"] for c in coverage["counties_without_coverage"]} == {"640521", "640522"}
    assert Institution.objects.count() == 4
