from django.utils import timezone
import datetime as dt
from decimal import Decimal

import pytest

from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.models import CalendarDay, DesignationStatus as S, Sanction
from apps.institutions.models import Institution
from apps.institutions.selectors import institutions_flagged_for_exit
from apps.institutions.services import (
    institution_admit, institution_create, institution_exit, institution_resume, institution_sanction,
    institution_suspend, institution_update,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

AGREEMENT = {"agreement_no": "SXT-2026-01", "agreement_start": dt.date(2026, 1, 1),
             "agreement_end": dt.date(2027, 12, 31)}


def applicant(**kw):
    defaults = {"status": S.APPLIED, "kind": Institution.Kind.TREATING, "level": 2,
                "agreement_start": None, "agreement_end": None}
    return f.InstitutionFactory(**{**defaults, **kw})


@pytest.mark.parametrize("field, value, label", [
    ("level", 1, "二级及以上医疗机构"),
    ("has_clinical_department", False, "具备相应临床科室"),
    ("sells_at_negotiated_price", False, "按谈判价格销售"),
    ("info_system_capable", False, "信息系统可审核、流转、追溯处方"),
    ("no_penalty_past_year", False, "近一年无医保或卫健部门处罚"),
])
def test_r_ins_1_admission_refused_naming_the_failing_criterion(field, value, label):
    institution = applicant(**{field: value})
    admin = f.bureau_admin()
    with pytest.raises(ApplicationError) as exc:
        institution_admit(institution=institution, actor=admin, now=timezone.now(), **AGREEMENT)
    assert exc.value.code == "criteria_not_met"
    assert label in exc.value.message
    assert list(exc.value.fields) == [field]
    institution.refresh_from_db()
    assert institution.status == S.APPLIED


def test_r_ins_1_admission_names_every_failing_criterion_at_once():
    institution = applicant(level=1, info_system_capable=False)
    with pytest.raises(ApplicationError) as exc:
        institution_admit(institution=institution, actor=f.bureau_admin(), now=timezone.now(), **AGREEMENT)
    assert set(exc.value.fields) == {"level", "info_system_capable"}


def test_r_ins_3_admission_requires_supplementary_agreement_dates():
    institution = applicant()
    with pytest.raises(ApplicationError) as exc:
        institution_admit(institution=institution, actor=f.bureau_admin(), agreement_no="X",
                          agreement_start=dt.date(2026, 5, 1), agreement_end=dt.date(2026, 1, 1), now=timezone.now())
    assert exc.value.code == "agreement_required"
    assert "agreement_end" in exc.value.fields
    institution.refresh_from_db()
    assert institution.status == S.APPLIED and institution.agreement_start is None


def test_r_ins_3_lifecycle_transitions_record_who_when_why():
    admin = f.bureau_admin()
    institution = applicant()
    institution_admit(institution=institution, actor=admin, now=timezone.now(), **AGREEMENT)
    assert institution.status == S.ADMITTED and institution.agreement_no == "SXT-2026-01"
    institution_suspend(institution=institution, actor=admin, reason="信息系统故障", now=timezone.now())
    institution_resume(institution=institution, actor=admin, reason="已修复", now=timezone.now())
    institution_exit(institution=institution, actor=admin, reason="主动申请退出", now=timezone.now())
    institution.refresh_from_db()
    assert institution.status == S.EXITED
    events = list(events_for(institution).order_by("at", "id"))
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("institution_admitted", "applied", "admitted"),
        ("institution_suspended", "admitted", "suspended"),
        ("institution_resumed", "suspended", "admitted"),
        ("institution_exited", "admitted", "exited"),
    ]
    assert all(e.actor == admin for e in events)
    assert events[1].reason == "信息系统故障"


def test_r_ins_3_transition_from_wrong_status_is_refused_and_reason_required():
    admin = f.bureau_admin()
    institution = applicant()
    with pytest.raises(ApplicationError) as exc:
        institution_suspend(institution=institution, actor=admin, reason="x", now=timezone.now())
    assert exc.value.code == "invalid_status" and exc.value.status == 409
    institution_admit(institution=institution, actor=admin, now=timezone.now(), **AGREEMENT)
    with pytest.raises(ApplicationError) as exc:
        institution_suspend(institution=institution, actor=admin, reason="  ", now=timezone.now())
    assert exc.value.fields == {"reason": ["必填"]}
    institution.refresh_from_db()
    assert institution.status == S.ADMITTED


def test_r_ins_3_sanctions_suspension_suspends_and_termination_exits():
    admin = f.bureau_admin()
    institution = f.InstitutionFactory()
    interview = institution_sanction(institution=institution, actor=admin, kind=Sanction.Kind.INTERVIEW,
                                     decided_on=dt.date(2026, 3, 1), reason="处方流转不规范", now=timezone.now())
    assert interview.kind == "interview" and institution.status == S.ADMITTED
    with pytest.raises(ApplicationError) as exc:
        institution_sanction(institution=institution, actor=admin, kind=Sanction.Kind.DEDUCTION,
                             decided_on=dt.date(2026, 3, 1), reason="超标准收费", now=timezone.now())
    assert "amount" in exc.value.fields
    institution_sanction(institution=institution, actor=admin, kind=Sanction.Kind.DEDUCTION,
                         decided_on=dt.date(2026, 3, 2), reason="超标准收费", amount=Decimal("1200.50"), now=timezone.now())
    institution_sanction(institution=institution, actor=admin, kind=Sanction.Kind.SUSPENSION,
                         decided_on=dt.date(2026, 4, 1), reason="拒不整改", now=timezone.now())
    institution.refresh_from_db()
    assert institution.status == S.SUSPENDED
    institution_sanction(institution=institution, actor=admin, kind=Sanction.Kind.TERMINATION,
                         decided_on=dt.date(2026, 5, 1), reason="骗取医保基金", now=timezone.now())
    institution.refresh_from_db()
    assert institution.status == S.EXITED
    assert Sanction.objects.filter(object_id=str(institution.pk)).count() == 4
    actions = [e.action for e in events_for(institution).order_by("at", "id")]
    assert actions == ["sanctioned", "sanctioned", "sanctioned", "institution_suspended", "sanctioned",
                       "institution_exited"]


def test_r_ins_2_certifying_institution_must_be_highest_level_in_city():
    admin = f.bureau_admin()
    f.InstitutionFactory(level=3, region=f.region("640521"))  # a tertiary hospital elsewhere in the city
    secondary = applicant(kind=Institution.Kind.CERTIFYING, level=2, region=f.region("640502"))
    with pytest.raises(ApplicationError) as exc:
        institution_admit(institution=secondary, actor=admin, now=timezone.now(), **AGREEMENT)
    assert exc.value.code == "certifying_not_highest_level"
    assert "最高等级" in exc.value.message


def test_r_ins_2_specialist_certifying_hospital_is_relaxed_and_other_city_does_not_count():
    admin = f.bureau_admin()
    f.InstitutionFactory(level=3, region=f.region("640502"))
    specialist = applicant(kind=Institution.Kind.CERTIFYING, level=2, hospital_type="specialist",
                           specialty=f.area("oncology"))
    institution_admit(institution=specialist, actor=admin, now=timezone.now(), **AGREEMENT)
    assert specialist.status == S.ADMITTED
    f.InstitutionFactory(code="H430100900", level=3, region=f.region("430102"))
    other_city = applicant(code="H640500901", kind=Institution.Kind.CERTIFYING, level=2, region=f.region("640522"),
                           hospital_type="general")
    with pytest.raises(ApplicationError):  # Zhongwei has a tertiary hospital: still refused
        institution_admit(institution=other_city, actor=admin, now=timezone.now(), **AGREEMENT)


def test_r_ins_2_changing_admitted_tertiary_to_certifying_level_2_is_refused():
    admin = f.bureau_admin()
    f.InstitutionFactory(level=3)
    treating = f.InstitutionFactory(level=2, kind=Institution.Kind.TREATING)
    with pytest.raises(ApplicationError) as exc:
        institution_update(institution=treating, actor=admin, data={"kind": Institution.Kind.CERTIFYING})
    assert exc.value.code == "certifying_not_highest_level"
    treating.refresh_from_db()
    assert treating.kind == Institution.Kind.TREATING


def test_institution_create_validates_and_records_application():
    admin = f.bureau_admin()
    created = institution_create(actor=admin, code="H640500777", name="中卫市中医医院", region=f.region("640502"),
                                 level=2)
    assert created.status == S.APPLIED
    assert events_for(created).get().action == "institution_applied"
    with pytest.raises(ApplicationError) as exc:
        institution_create(actor=admin, code="H640500777", name="重复", region=f.region("640502"), level=2)
    assert "code" in exc.value.fields


def test_r_ins_4_exit_flags_for_each_criterion():
    today = dt.date(2026, 11, 25)
    late = f.InstitutionFactory(registration_changed_on=dt.date(2026, 9, 1))  # > 30 working days
    recent = f.InstitutionFactory(registration_changed_on=dt.date(2026, 11, 1))
    no_longer = f.InstitutionFactory(info_system_capable=False)
    idle = f.InstitutionFactory(unable_to_serve_since=dt.date(2026, 5, 25))
    idle_short = f.InstitutionFactory(unable_to_serve_since=dt.date(2026, 5, 26))
    few_patients = f.InstitutionFactory(agreement_start=dt.date(2025, 1, 1))  # a full year, 0 patients
    exited = f.InstitutionFactory(status=S.EXITED, info_system_capable=False)
    flags = {flag.organisation.pk: flag.reasons for flag in institutions_flagged_for_exit(today=today)}
    assert "个工作日未更新" in flags[late.pk][0]
    assert recent.pk not in flags
    assert flags[no_longer.pk] == ["不再符合纳入条件：信息系统可审核、流转、追溯处方"]
    assert "无法提供服务已满6个月" in flags[idle.pk][0]
    assert idle_short.pk not in flags
    assert flags[few_patients.pk] == ["上年度（2025 年）双通道患者 0 人（少于10人）"]  # R-INS-4: previous calendar year
    assert exited.pk not in flags


def test_r_ins_4_registration_change_counts_working_days_not_calendar_days():
    # 2026-09-01 + 30 working days crosses the National Day holiday: 2026-10-22 is the 30th working day
    # (09-20 and 10-10 are make-up working days, 09-25..27 and 10-01..07 are holidays)
    assert CalendarDay.objects.filter(date=dt.date(2026, 10, 1), kind="holiday").exists()
    org = f.InstitutionFactory(registration_changed_on=dt.date(2026, 9, 1))
    from apps.core.working_days import working_days_between
    boundary = dt.date(2026, 9, 1)
    day = boundary
    while working_days_between(boundary, day) < 30:
        day += dt.timedelta(days=1)
    assert not institutions_flagged_for_exit(today=day)
    flagged = institutions_flagged_for_exit(today=day + dt.timedelta(days=1))
    # the next day may be a weekend: step to the next working day
    while not flagged:
        day += dt.timedelta(days=1)
        flagged = institutions_flagged_for_exit(today=day)
    assert flagged[0].organisation == org


def test_r_ins_4_exit_flags_are_scoped_to_the_users_region():
    today = dt.date(2026, 11, 25)
    f.InstitutionFactory(info_system_capable=False)
    f.InstitutionFactory(code="H430100950", region=f.region("430102"), info_system_capable=False)
    assert len(institutions_flagged_for_exit(user=f.reviewer("640500"), today=today)) == 1
    assert len(institutions_flagged_for_exit(user=f.reviewer("430100"), today=today)) == 1
    assert len(institutions_flagged_for_exit(today=today)) == 2
