"""R-SET-1 (revision 2): a settlement or reconciliation run started by a bureau user covers that user's region only;
the schedule (no user) covers every region. Driven through REST as Changsha's and Zhongwei's administrators."""
import datetime as dt

import pytest

from apps.prescriptions.models import Prescription
from apps.settlement import services
from apps.settlement.models import ReconciliationDifference, Statement
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)


@pytest.fixture
def two_regions(zhongwei, changsha):
    """Zhongwei pharmacy zw: 3 packs at 980.00 (total 2,940.00); Changsha pharmacy cs: 1 pack (980.00). Their ids
    interleave with a second Zhongwei pharmacy created after cs (zw2: 2 packs, 1,960.00)."""
    drug = f.DrugFactory()
    zw = f.PharmacyFactory()
    cs = f.PharmacyFactory(region=f.region("430104"))
    zw2 = f.PharmacyFactory()
    hospital = f.InstitutionFactory()
    sf.dispensing(pharmacy=zw, institution=hospital, drug=drug, quantity=3)
    sf.dispensing(pharmacy=cs, institution=hospital, drug=drug, quantity=1)
    sf.dispensing(pharmacy=zw2, institution=hospital, drug=drug, quantity=2)
    return {"zw": zw, "cs": cs, "zw2": zw2, "drug": drug, "hospital": hospital}


def test_r_set_1_run_by_changsha_admin_touches_only_changsha(api_as, two_regions, django_capture_on_commit_callbacks):
    """The schedule settles all three (statements 2,940.00, 980.00, 1,960.00). A new dispensing (1 pack) arrives
    in each of zw and cs; Changsha's administrator runs November: Changsha's statement is recomputed by that run
    (1,960.00), Zhongwei's keep the schedule's run and their totals (2,940.00 and 1,960.00, the new pack not
    counted). Zhongwei's administrator's run then counts it: zw 3,920.00 (cs, unchanged since, is left alone)."""
    w = two_regions
    scheduled = services.settlement_run_now(period=NOV, clock=sf.clock)
    assert Statement.objects.filter(period=NOV).count() == 3
    sf.dispensing(pharmacy=w["zw"], institution=w["hospital"], drug=w["drug"], quantity=1)
    sf.dispensing(pharmacy=w["cs"], institution=w["hospital"], drug=w["drug"], quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(f.bureau_admin("430100")).post("/api/v1/settlements/runs/", {"period": "2026-11"},
                                                         format="json")
    assert response.status_code == 202, response.content
    cs_run = response.json()["id"]
    by_pharmacy = {s.pharmacy_id: s for s in Statement.objects.filter(period=NOV)}
    assert by_pharmacy[w["cs"].pk].run_id == cs_run and str(by_pharmacy[w["cs"].pk].total) == "1960.00"
    assert by_pharmacy[w["zw"].pk].run_id == scheduled.pk and str(by_pharmacy[w["zw"].pk].total) == "2940.00"
    assert by_pharmacy[w["zw2"].pk].run_id == scheduled.pk and str(by_pharmacy[w["zw2"].pk].total) == "1960.00"
    with django_capture_on_commit_callbacks(execute=True):
        api_as(f.bureau_admin("640500")).post("/api/v1/settlements/runs/", {"period": "2026-11"}, format="json")
    assert str(Statement.objects.get(period=NOV, pharmacy=w["zw"]).total) == "3920.00"
    assert Statement.objects.get(period=NOV, pharmacy=w["cs"]).run_id == cs_run


def test_r_set_1_reconciliation_by_changsha_admin_keeps_zhongwei_differences(api_as, two_regions):
    """One prescription flowed and never dispensed in each region → two open differences after the scheduled
    reconciliation. Changsha's administrator reconciles again: Zhongwei's difference is still there (same row),
    Changsha's is recomputed; nothing of Zhongwei's is cleared."""
    w = two_regions
    for pharmacy in (w["zw"], w["cs"]):
        sf.prescription(institution=w["hospital"], pharmacy=pharmacy, drug=w["drug"],
                        status=Prescription.Status.EXPIRED)
    services.reconciliation_run(period=NOV, now=sf.AT)
    before = {d.pharmacy_id: d.pk for d in ReconciliationDifference.objects.filter(period=NOV)
              if d.pharmacy_id in (w["zw"].pk, w["cs"].pk)}
    assert set(before) == {w["zw"].pk, w["cs"].pk}
    response = api_as(f.bureau_admin("430100")).post("/api/v1/reconciliation/runs/", {"period": "2026-11"},
                                                     format="json")
    assert response.status_code in (200, 201), response.content
    after = {d.pharmacy_id: d.pk for d in ReconciliationDifference.objects.filter(period=NOV)
             if d.pharmacy_id in (w["zw"].pk, w["cs"].pk)}
    assert after[w["zw"].pk] == before[w["zw"].pk]  # untouched
    assert after[w["cs"].pk] != before[w["cs"].pk]  # recomputed by Changsha's run
