"""Writes of designated institutions: application, admission, suspension, exit, sanctions (R-INS-1..3)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Max

from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus, Sanction
from apps.core.events import EventAction, record_event
from apps.core.roles import Role
from apps.institutions.models import HospitalDuty, Institution
from apps.institutions.selectors import institution_criteria
from apps.registries import designation, recheck

S = DesignationStatus

#: fields an administrator edits directly; status and agreement change only through the transitions
EDITABLE_FIELDS = (
    "name", "region", "address", "contact_name", "contact_phone", "level", "hospital_type", "specialty", "kind",
    "has_clinical_department", "sells_at_negotiated_price", "info_system_capable", "no_penalty_past_year",
    "registration_changed_on", "unable_to_serve_since", "is_public", "grade_a", "is_key_hospital",
    "bank_name", "bank_account_name", "bank_account_no",  # the payment list (R-SET-5)
)
INVALID = "医疗机构信息有误"


def _check_certifying_highest_level(institution: Institution) -> None:
    """R-INS-2 (002): a certifying institution must be of the highest level among its city's designated
    institutions. Decision: specialist hospitals are relaxed (the source allows it) and need not be."""
    if institution.kind != Institution.Kind.CERTIFYING or institution.hospital_type == Institution.HospitalType.SPECIALIST:
        return
    city_prefix = institution.region.code[:4]
    highest = (Institution.objects.filter(region__code__startswith=city_prefix)
               .exclude(status=S.EXITED).exclude(pk=institution.pk)
               .aggregate(m=Max("level"))["m"]) or 0
    if institution.level < highest:
        raise ApplicationError(
            "certifying_not_highest_level",
            f"认定类机构须为本统筹区最高等级医疗机构：本市已有{Institution.Level(highest).label}医院，"
            f"该机构为{institution.get_level_display()}（专科医院可放宽）",
            fields={"kind": ["认定类机构须为本统筹区最高等级"]},
        )


@transaction.atomic
def institution_create(*, actor, code: str, name: str, region, level: int, kind: str = Institution.Kind.TREATING,
                       hospital_type: str = Institution.HospitalType.GENERAL, specialty=None, **fields) -> Institution:
    """Register an institution's application (status 申请中)."""
    return designation.create_org(Institution, actor=actor, editable=EDITABLE_FIELDS, invalid_message=INVALID,
                                  code=code, name=name, region=region, level=level, kind=kind,
                                  hospital_type=hospital_type, specialty=specialty, **fields)


def _check_if_designated(institution: Institution) -> None:
    if institution.status in (S.ADMITTED, S.SUSPENDED):
        _check_certifying_highest_level(institution)


@transaction.atomic
def institution_update(*, institution: Institution, actor, data: dict) -> Institution:
    """Change registry fields (not the status). An admitted certifying institution keeps R-INS-2."""
    return designation.update_org(institution, actor=actor, data=data, editable=EDITABLE_FIELDS,
                                  invalid_message=INVALID, check=_check_if_designated)


@transaction.atomic
def institution_admit(*, institution: Institution, actor, agreement_no: str, agreement_start: dt.date,
                      agreement_end: dt.date, now: dt.datetime, reason: str = "") -> Institution:
    """R-INS-1/R-INS-3: admit an applicant once every criterion is met and the supplementary agreement
    (补充协议) is signed; R-INS-2 for certifying institutions."""
    return designation.admit_org(institution, criteria=institution_criteria(institution), actor=actor,
                                 agreement_no=agreement_no, agreement_start=agreement_start,
                                 agreement_end=agreement_end, reason=reason, check=_check_certifying_highest_level,
                                 now=now)


@transaction.atomic
def institution_suspend(*, institution: Institution, actor, reason: str, now: dt.datetime) -> Institution:
    return designation.suspend_org(institution, actor=actor, reason=reason, now=now)


@transaction.atomic
def institution_resume(*, institution: Institution, actor, reason: str, now: dt.datetime) -> Institution:
    """Lift a suspension; the criteria must still be met (R-INS-1)."""
    return designation.resume_org(institution, criteria=institution_criteria(institution), actor=actor, reason=reason,
                                  now=now)


@transaction.atomic
def institution_exit(*, institution: Institution, actor, reason: str, now: dt.datetime) -> Institution:
    return designation.exit_org(institution, actor=actor, reason=reason, now=now)


@transaction.atomic
def institution_sanction(*, institution: Institution, actor, kind: str, decided_on: dt.date, reason: str,
                         amount: Decimal | None = None, deadline: dt.date | None = None, now: dt.datetime) -> Sanction:
    """R-INS-3: record a sanction; 暂停协议 suspends an admitted institution, 解除协议 exits it."""
    return designation.sanction_org(institution, actor=actor, kind=kind, decided_on=decided_on, reason=reason,
                                    amount=amount, deadline=deadline, now=now)


#: the lifecycle services by name, for the shared REST viewset, browser pages and admin (apps.registries)
LIFECYCLE = designation.LifecycleServices(
    subject="institution", create=institution_create, update=institution_update, admit=institution_admit, suspend=institution_suspend,
    resume=institution_resume, exit=institution_exit, sanction=institution_sanction,
)


# --------------------------------------------------------------------------------------------------------------
# R-APP-4: review duties of hospital users
# --------------------------------------------------------------------------------------------------------------

def _may_manage_duties(actor, institution: Institution) -> bool:

    if actor.is_superuser:
        return True
    if actor.role == Role.BUREAU_ADMIN and actor.region_id:
        return institution.region.code.startswith(actor.region.descendant_prefix)
    return actor.role == Role.HOSPITAL and actor.institution_id == institution.pk and HospitalDuty.objects.filter(
        user=actor, institution=institution, duty=HospitalDuty.Duty.INSURANCE_OFFICE).exists()


@transaction.atomic
def hospital_duty_grant(*, actor, institution: Institution, user, duty: str, now: dt.datetime):
    """R-APP-4: give a hospital user of ``institution`` the pharmacy-department or insurance-office duty. Granted by
    the bureau administrator of the region or by the institution's insurance office. Idempotent."""
    if not _may_manage_duties(actor, institution):
        raise ApplicationError("permission_denied", "只有本统筹区经办机构管理员或本院医保办可以分配审核职责", status=403)
    if duty not in HospitalDuty.Duty.values:
        raise ApplicationError("invalid", "审核职责应为药学部门复审（pharmacy_dept）或院内医保部门终审（insurance_office）",
                               fields={"duty": ["取值无效"]})
    if user.role != Role.HOSPITAL or user.institution_id != institution.pk:
        raise ApplicationError("invalid", f"{user.username} 不是 {institution.name} 的医院用户", fields={"user": ["不是本院用户"]})
    row, created = HospitalDuty.objects.get_or_create(user=user, institution=institution, duty=duty,
                                                      defaults={"granted_at": now})
    if created:
        record_event(subject=institution, action=EventAction.HOSPITAL_DUTY_GRANTED, actor=actor,
                     data={"user": user.username, "duty": duty}, now=now)
    return row


@transaction.atomic
def hospital_duty_revoke(*, actor, institution: Institution, user, duty: str) -> bool:
    if not _may_manage_duties(actor, institution):
        raise ApplicationError("permission_denied", "只有本统筹区经办机构管理员或本院医保办可以撤销审核职责", status=403)
    deleted, _ = HospitalDuty.objects.filter(user=user, institution=institution, duty=duty).delete()
    if deleted:
        record_event(subject=institution, action=EventAction.HOSPITAL_DUTY_REVOKED, actor=actor,
                     data={"user": user.username, "duty": duty})
    return bool(deleted)


@transaction.atomic
def institution_recheck_record(*, actor, institution: Institution, on: dt.date, today: dt.date,
                               note: str = "") -> Institution:
    """R-INS-6: the bureau records the annual re-check of a designated institution's filing (备案结果复查)."""
    institution = Institution.objects.select_for_update().select_related("region").get(pk=institution.pk)
    recheck.check_recheck(actor=actor, region_code=institution.region.code, on=on,
                          last=institution.last_rechecked_on, today=today)
    institution.last_rechecked_on = on
    institution.save(update_fields=["last_rechecked_on", "updated_at"])
    record_event(subject=institution, action=EventAction.INSTITUTION_RECHECKED, actor=actor, reason=note,
                 data={"on": str(on)})
    return institution

