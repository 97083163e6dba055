"""R-INS-6: the registry records each institution's and physician's last annual re-check and lists the overdue;
R-INS-4 (revision 2): the "fewer than 10 patients" exit check uses the previous calendar year."""
import datetime as dt

import pytest
import time_machine

from apps.core.events import events_for
from apps.institutions.selectors import institutions_flagged_for_exit
from tests import factories as f
from tests.prescriptions import factories as rx

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 25)


def test_r_ins_6_overdue_listed_and_recheck_recorded_through_rest(api_as, zhongwei):
    """Today 2026-11-25. Institution A admitted 2025-01-01, never re-checked → due 2026-01-01, overdue. Institution
    B re-checked 2026-03-01 → due 2027-03-01, not overdue. Physician P filed 2025-06-01 → due 2026-06-01, overdue.
    A hospital user may not record a re-check (403); Changsha's bureau gets 404; Zhongwei's reviewer records A's
    (2026-11-20) and A leaves the list."""
    a = f.InstitutionFactory(agreement_start=dt.date(2025, 1, 1))
    b = f.InstitutionFactory(agreement_start=dt.date(2025, 1, 1), last_rechecked_on=dt.date(2026, 3, 1))
    p = f.PhysicianFactory(institution=b, filed_on=dt.date(2025, 6, 1))
    reviewer = api_as(f.reviewer("640500"))
    with time_machine.travel(rx.at(TODAY), tick=False):
        overdue = reviewer.get("/api/v1/institutions/rechecks-overdue/").json()
        assert [(r["code"], r["due"]) for r in overdue] == [(a.code, "2026-01-01")]
        assert [(r["code"], r["due"]) for r in reviewer.get("/api/v1/physicians/rechecks-overdue/").json()] == [
            (p.code, "2026-06-01")]
        url = f"/api/v1/institutions/{a.pk}/recheck/"
        assert api_as(f.hospital_user(a)).post(url, {"on": "2026-11-20"}, format="json").status_code == 403
        assert api_as(f.bureau_admin("430100")).post(url, {"on": "2026-11-20"}, format="json").status_code == 404
        future = reviewer.post(url, {"on": "2026-11-26"}, format="json")
        assert future.status_code == 400 and future.json()["code"] == "invalid"
        response = reviewer.post(url, {"on": "2026-11-20", "note": "资料齐全"}, format="json")
        assert response.status_code == 200 and response.json()["last_rechecked_on"] == "2026-11-20"
        assert reviewer.get("/api/v1/institutions/rechecks-overdue/").json() == []
        response = reviewer.post(f"/api/v1/physicians/{p.pk}/recheck/", {"on": "2026-11-20"}, format="json")
        assert response.status_code == 200 and response.json()["last_rechecked_on"] == "2026-11-20"
    assert events_for(a).filter(action="institution_rechecked").get().reason == "资料齐全"


def test_r_ins_4_fewer_than_10_patients_in_previous_calendar_year():
    """Today 2026-11-25, so the year judged is 2025. H1: 10 patients with applications valid 2025-03-01..2025-06-30
    → 10 in 2025, not flagged (a rolling 12 months back from today would have counted 0). H2: 9 patients valid
    only in 2026 → 0 in 2025 → flagged "上年度（2025 年）双通道患者 0 人"."""
    f.policy()
    rx.ensure_areas()
    drug = f.DrugFactory()
    h1 = f.InstitutionFactory(agreement_start=dt.date(2025, 1, 1))
    h2 = f.InstitutionFactory(agreement_start=dt.date(2025, 1, 1))
    d1, d2 = f.PhysicianFactory(institution=h1), f.PhysicianFactory(institution=h2)
    for _ in range(10):
        rx.approved_application(person=rx.person(), physician=d1, drug=drug, valid_from=dt.date(2025, 3, 1),
                                valid_until=dt.date(2025, 6, 30))
    for _ in range(9):
        rx.approved_application(person=rx.person(), physician=d2, drug=drug, valid_from=dt.date(2026, 1, 1),
                                valid_until=dt.date(2026, 12, 31))
    flags = {flag.organisation.pk: flag.reasons for flag in institutions_flagged_for_exit(today=TODAY)}
    assert h1.pk not in flags
    assert flags[h2.pk] == ["上年度（2025 年）双通道患者 0 人（少于10人）"]
