from django.utils import timezone
import datetime as dt

import pytest

from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.models import RegionSettings
from apps.institutions.models import Institution
from apps.physicians.models import Physician
from apps.physicians.selectors import physician_recognised_in
from apps.physicians.services import (
    physician_expire, physician_file, physician_propose, physician_reject_filing, physician_resume,
    physician_revoke, physician_suspend,
)
from tests import factories as f

pytestmark = pytest.mark.django_db
P = Physician.Status


def propose(institution, actor=None, **kw):
    data = dict(name="王医生", department="肿瘤内科", title=Physician.Title.ASSOCIATE_CHIEF, is_certifying=False,
                is_treating=True, therapeutic_areas=[f.area("oncology")])
    data.update(kw)
    return physician_propose(actor=actor or f.hospital_user(institution), institution=institution, now=timezone.now(), **data)


def test_r_doc_3_hospital_proposes_bureau_files_and_states_follow():
    institution = f.InstitutionFactory()
    hospital = f.hospital_user(institution)
    physician = propose(institution, hospital)
    assert physician.status == P.PROPOSED and physician.code.startswith("D640500")
    assert not physician.is_active_on(dt.date(2026, 6, 1))
    reviewer = f.reviewer()
    physician_file(physician=physician, actor=reviewer, filed_on=dt.date(2026, 6, 1), now=timezone.now())
    assert physician.status == P.FILED and physician.is_active_on(dt.date(2026, 6, 1))
    physician_suspend(physician=physician, actor=reviewer, reason="处方超量", on=dt.date(2026, 7, 1), now=timezone.now())
    assert physician.is_active_on(dt.date(2026, 6, 30)) and not physician.is_active_on(dt.date(2026, 7, 1))
    physician_resume(physician=physician, actor=reviewer, reason="整改完成", now=timezone.now())
    assert physician.status == P.FILED and physician.revoked_on is None
    physician_revoke(physician=physician, actor=reviewer, reason="调离", on=dt.date(2026, 9, 1), now=timezone.now())
    physician.refresh_from_db()
    assert physician.status == P.REVOKED and physician.revoked_on == dt.date(2026, 9, 1)
    assert not physician.is_active_on(dt.date(2026, 9, 2))
    with pytest.raises(ApplicationError) as exc:
        physician_file(physician=physician, actor=reviewer, now=timezone.now())
    assert exc.value.code == "invalid_status"
    assert [(e.action, e.from_status, e.to_status) for e in events_for(physician).order_by("at", "id")] == [
        ("physician_proposed", "", "proposed"), ("physician_filed", "proposed", "filed"),
        ("physician_suspended", "filed", "suspended"), ("physician_resumed", "suspended", "filed"),
        ("physician_revoked", "filed", "revoked")]


def test_r_doc_3_rejected_filing_and_expiry():
    institution = f.InstitutionFactory()
    reviewer = f.reviewer()
    rejected = propose(institution)
    physician_reject_filing(physician=rejected, actor=reviewer, reason="材料不全", now=timezone.now())
    assert rejected.status == P.REJECTED and not rejected.is_active_on(dt.date(2026, 6, 1))
    filed = propose(institution, name="李医生")
    physician_file(physician=filed, actor=reviewer, filed_on=dt.date(2026, 1, 1), valid_until=dt.date(2026, 6, 30), now=timezone.now())
    with pytest.raises(ApplicationError):
        physician_expire(physician=filed, today=dt.date(2026, 6, 30))
    physician_expire(physician=filed, today=dt.date(2026, 7, 1))
    assert filed.status == P.EXPIRED and not filed.is_active_on(dt.date(2026, 7, 1))


def test_r_doc_3_hospital_cannot_propose_for_another_hospital():
    mine, other = f.InstitutionFactory(), f.InstitutionFactory()
    with pytest.raises(ApplicationError) as exc:
        propose(other, f.hospital_user(mine))
    assert exc.value.status == 404
    assert not Physician.objects.exists()


@pytest.mark.parametrize("title, level, relaxed, ok", [
    ("chief", 3, False, True),
    ("associate_chief", 3, False, True),
    ("attending", 3, False, False),
    ("attending", 2, False, True),     # 002: level two or below
    ("attending", 3, True, True),      # 000/001: the region enables the relaxation
    ("resident", 2, True, False),
])
def test_r_doc_1_title_eligibility_with_attending_relaxation(title, level, relaxed, ok):
    RegionSettings.objects.create(region=f.region("640500"), attending_physician_allowed=relaxed)
    institution = f.InstitutionFactory(level=level, kind=Institution.Kind.TREATING)
    if ok:
        assert propose(institution, title=title).status == P.PROPOSED
    else:
        with pytest.raises(ApplicationError) as exc:
            propose(institution, title=title)
        assert exc.value.code == "physician_not_eligible" and "title" in exc.value.fields


def test_r_doc_1_sanction_or_incident_in_three_years_refuses_filing():
    institution = f.InstitutionFactory()
    with pytest.raises(ApplicationError) as exc:
        propose(institution, no_insurance_sanction_3y=False, no_pharmacy_incident_3y=False)
    assert set(exc.value.fields) == {"no_insurance_sanction_3y", "no_pharmacy_incident_3y"}
    # a proposal that became ineligible afterwards is refused at filing time too
    physician = propose(institution)
    Physician.objects.filter(pk=physician.pk).update(no_pharmacy_incident_3y=False)
    physician.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        physician_file(physician=physician, actor=f.reviewer(), now=timezone.now())
    assert "近三年发生过药事事故" in exc.value.message
    physician.refresh_from_db()
    assert physician.status == P.PROPOSED


def test_r_doc_2_certifying_physician_only_in_certifying_institution_and_needs_an_area():
    treating = f.InstitutionFactory(level=2, kind=Institution.Kind.TREATING)
    with pytest.raises(ApplicationError) as exc:
        propose(treating, is_certifying=True)
    assert "is_certifying" in exc.value.fields
    certifying = f.InstitutionFactory(kind=Institution.Kind.CERTIFYING)
    both = propose(certifying, is_certifying=True, is_treating=True,
                   therapeutic_areas=[f.area("oncology"), f.area("hematology")])
    assert both.is_certifying and both.is_treating and both.therapeutic_areas.count() == 2
    with pytest.raises(ApplicationError) as exc:
        propose(certifying, therapeutic_areas=[])
    assert "therapeutic_areas" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        propose(certifying, is_certifying=False, is_treating=False)
    assert "is_treating" in exc.value.fields


def test_r_doc_5_filing_recognised_across_regions_of_the_same_province():
    physician = f.PhysicianFactory(institution=f.InstitutionFactory(region=f.region("640502")))
    assert physician_recognised_in(physician, f.region("640521"))   # another county of Zhongwei
    assert physician_recognised_in(physician, f.region("640100"))   # Yinchuan, same province
    assert not physician_recognised_in(physician, f.region("430100"))  # Changsha, Hunan


def test_r_doc_3_expire_due_task_is_idempotent():
    from apps.physicians.services import physicians_expire_due

    due = f.PhysicianFactory(filing_valid_until=dt.date(2026, 6, 30))
    current = f.PhysicianFactory(filing_valid_until=dt.date(2026, 12, 31))
    assert physicians_expire_due(today=dt.date(2026, 7, 1)) == 1
    assert physicians_expire_due(today=dt.date(2026, 7, 1)) == 0
    due.refresh_from_db()
    current.refresh_from_db()
    assert due.status == P.EXPIRED and current.status == P.FILED
