"""Writes of designated institutions: application, admission, suspension, exit, sanctions (R-INS-1..3)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from apps.core import designation
from apps.core.events import record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus, Sanction
from apps.institutions.models import Institution
from apps.institutions.selectors import institution_criteria

S = DesignationStatus

#: fields an administrator edits directly; status and agreement change only through the transitions
EDITABLE_FIELDS = (
    "name", "region", "address", "contact_name", "contact_phone", "level", "hospital_type", "specialty", "kind",
    "has_clinical_department", "sells_at_negotiated_price", "info_system_capable", "no_penalty_past_year",
    "registration_changed_on", "unable_to_serve_since",
)


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


def _full_clean(institution: Institution) -> None:
    try:
        institution.full_clean()
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise ApplicationError("invalid", "医疗机构信息有误", fields=fields) from None


@transaction.atomic
def institution_create(*, actor, code: str, name: str, region, level: int, kind: str = Institution.Kind.TREATING,
                       hospital_type: str = Institution.HospitalType.GENERAL, specialty=None, **fields) -> Institution:
    """Register an institution's application (status 申请中)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"不能直接设置：{'、'.join(sorted(unknown))}")
    institution = Institution(code=(code or "").strip(), name=(name or "").strip(), region=region, level=level,
                              kind=kind, hospital_type=hospital_type, specialty=specialty, status=S.APPLIED, **fields)
    _full_clean(institution)
    institution.save()
    record_event(subject=institution, action="institution_applied", actor=actor, to_status=S.APPLIED)
    return institution


@transaction.atomic
def institution_update(*, institution: Institution, actor, data: dict) -> Institution:
    """Change registry fields (not the status). An admitted certifying institution keeps R-INS-2."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"不能直接修改：{'、'.join(sorted(unknown))}（状态请使用纳入/暂停/退出操作）")
    changed = {k: v for k, v in data.items() if getattr(institution, k) != v}
    if not changed:
        return institution
    for key, value in changed.items():
        setattr(institution, key, value)
    _full_clean(institution)
    if institution.status in (S.ADMITTED, S.SUSPENDED):
        _check_certifying_highest_level(institution)
    institution.save()
    record_event(subject=institution, action="institution_updated", actor=actor,
                 data={"fields": sorted(changed)})
    return institution


@transaction.atomic
def institution_admit(*, institution: Institution, actor, agreement_no: str, agreement_start: dt.date,
                      agreement_end: dt.date, reason: str = "") -> Institution:
    """R-INS-1/R-INS-3: admit an applicant once every criterion is met and the supplementary agreement
    (补充协议) is signed; R-INS-2 for certifying institutions."""
    designation.refuse_unmet(institution_criteria(institution), action="纳入")
    designation.validate_agreement(agreement_no=agreement_no, agreement_start=agreement_start,
                                   agreement_end=agreement_end)
    _check_certifying_highest_level(institution)
    return designation.transition(
        institution, to=S.ADMITTED, allowed_from=(S.APPLIED,), action="institution_admitted", actor=actor,
        reason=reason, reason_required=False,
        data={"agreement_no": agreement_no, "agreement_start": agreement_start.isoformat(),
              "agreement_end": agreement_end.isoformat()},
        extra_update={"agreement_no": agreement_no.strip(), "agreement_start": agreement_start,
                      "agreement_end": agreement_end},
    )


@transaction.atomic
def institution_suspend(*, institution: Institution, actor, reason: str) -> Institution:
    return designation.transition(institution, to=S.SUSPENDED, allowed_from=(S.ADMITTED,),
                                  action="institution_suspended", actor=actor, reason=reason)


@transaction.atomic
def institution_resume(*, institution: Institution, actor, reason: str) -> Institution:
    """Lift a suspension; the criteria must still be met (R-INS-1)."""
    designation.refuse_unmet(institution_criteria(institution), action="恢复")
    return designation.transition(institution, to=S.ADMITTED, allowed_from=(S.SUSPENDED,),
                                  action="institution_resumed", actor=actor, reason=reason)


@transaction.atomic
def institution_exit(*, institution: Institution, actor, reason: str) -> Institution:
    return designation.transition(institution, to=S.EXITED, allowed_from=(S.APPLIED, S.ADMITTED, S.SUSPENDED),
                                  action="institution_exited", actor=actor, reason=reason)


@transaction.atomic
def institution_sanction(*, institution: Institution, actor, kind: str, decided_on: dt.date, reason: str,
                         amount: Decimal | None = None, deadline: dt.date | None = None) -> Sanction:
    """R-INS-3: record a sanction; 暂停协议 suspends an admitted institution, 解除协议 exits it."""
    sanction = designation.sanction_record(institution, actor=actor, kind=kind, decided_on=decided_on,
                                           reason=reason, amount=amount, deadline=deadline)
    if kind == Sanction.Kind.SUSPENSION and institution.status == S.ADMITTED:
        institution_suspend(institution=institution, actor=actor, reason=f"协议处理：{reason}")
    elif kind == Sanction.Kind.TERMINATION:
        institution_exit(institution=institution, actor=actor, reason=f"解除协议：{reason}")
    return sanction
