"""Writes of responsible physicians: the hospital proposes, the bureau files (R-DOC-1..3)."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError, NotFoundError
from apps.core.models import DesignationStatus
from apps.core.roles import Role
from apps.physicians.models import Physician
from apps.registries import recheck
from apps.physicians.selectors import physician_eligibility_problems, physician_problems

P = Physician.Status

EDITABLE_FIELDS = ("name", "department", "title", "is_certifying", "is_treating", "phone", "practice_licence_no",
                   "no_insurance_sanction_3y", "no_pharmacy_incident_3y", "filing_valid_until")


def _refuse_ineligible(problems: dict[str, list[str]]) -> None:
    if problems:
        detail = "；".join(m for msgs in problems.values() for m in msgs)
        raise ApplicationError("physician_not_eligible", f"不符合责任医师条件：{detail}", fields=problems)


def _next_code(institution) -> str:
    prefix = f"D{institution.region.code[:4]}00"
    last = (Physician.objects.filter(code__startswith=prefix).order_by("-code").values_list("code", flat=True)
            .first())
    number = int(last[len(prefix):]) + 1 if last and last[len(prefix):].isdigit() else 1
    return f"{prefix}{number:03d}"


@transaction.atomic
def physician_propose(*, actor, institution, name: str, department: str, title: str, therapeutic_areas,
                      is_certifying: bool = False, is_treating: bool = True, code: str = "", phone: str = "",
                      practice_licence_no: str = "", no_insurance_sanction_3y: bool = True,
                      no_pharmacy_incident_3y: bool = True, now: dt.datetime) -> Physician:
    """R-DOC-3: a hospital proposes a physician of its own institution (a bureau administrator may propose
    for any institution of its region). Eligibility (R-DOC-1/R-DOC-2) is checked already here."""
    if getattr(actor, "role", None) == "hospital" and actor.institution_id != institution.pk:
        raise NotFoundError("未找到该医疗机构")
    if institution.status not in (DesignationStatus.ADMITTED, DesignationStatus.APPLIED):
        raise ApplicationError("institution_not_designated",
                               f"{institution.name}当前状态为“{institution.get_status_display()}”，不能提名责任医师")
    areas = list(therapeutic_areas)
    _refuse_ineligible(physician_eligibility_problems(
        institution=institution, title=title, is_certifying=is_certifying, is_treating=is_treating,
        area_count=len(areas), no_insurance_sanction_3y=no_insurance_sanction_3y,
        no_pharmacy_incident_3y=no_pharmacy_incident_3y))
    physician = Physician(
        code=(code or "").strip() or _next_code(institution), name=(name or "").strip(), institution=institution,
        department=(department or "").strip(), title=title, is_certifying=is_certifying, is_treating=is_treating,
        phone=phone, practice_licence_no=practice_licence_no, no_insurance_sanction_3y=no_insurance_sanction_3y,
        no_pharmacy_incident_3y=no_pharmacy_incident_3y, status=P.PROPOSED, status_changed_at=now,
        proposed_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    try:
        physician.full_clean()
    except ValidationError as exc:
        raise ApplicationError("invalid", "责任医师信息有误", fields=exc.message_dict) from None
    physician.save()
    physician.therapeutic_areas.set(areas)
    record_event(subject=physician, action=EventAction.PHYSICIAN_PROPOSED, actor=actor, to_status=P.PROPOSED,
                 data={"institution": institution.code, "therapeutic_areas": [a.code for a in areas]}, now=now)
    return physician


@transaction.atomic
def physician_update(*, physician: Physician, actor, data: dict, therapeutic_areas=None) -> Physician:
    """Bureau administrator edits; a filed physician must stay eligible (R-DOC-1/2)."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"不能直接修改：{'、'.join(sorted(unknown))}")
    changed = {k: v for k, v in data.items() if getattr(physician, k) != v}
    for key, value in changed.items():
        setattr(physician, key, value)
    areas = list(therapeutic_areas) if therapeutic_areas is not None else None
    if areas is not None and set(a.pk for a in areas) != set(physician.therapeutic_areas.values_list("pk", flat=True)):
        changed["therapeutic_areas"] = [a.code for a in areas]
    if not changed:
        return physician
    if physician.status in (P.PROPOSED, P.FILED, P.SUSPENDED):
        _refuse_ineligible(physician_eligibility_problems(
            institution=physician.institution, title=physician.title, is_certifying=physician.is_certifying,
            is_treating=physician.is_treating,
            area_count=len(areas) if areas is not None else physician.therapeutic_areas.count(),
            no_insurance_sanction_3y=physician.no_insurance_sanction_3y,
            no_pharmacy_incident_3y=physician.no_pharmacy_incident_3y))
    try:
        physician.full_clean()
    except ValidationError as exc:
        raise ApplicationError("invalid", "责任医师信息有误", fields=exc.message_dict) from None
    physician.save()
    if areas is not None:
        physician.therapeutic_areas.set(areas)
    record_event(subject=physician, action=EventAction.PHYSICIAN_UPDATED, actor=actor, data={"fields": sorted(changed)})
    return physician


def _transition(physician: Physician, *, to: str, allowed_from: tuple[str, ...], action: str, actor,
                reason: str = "", reason_required: bool = True, updates: dict | None = None,
                now: dt.datetime) -> Physician:
    reason = (reason or "").strip()
    if reason_required and not reason:
        raise ApplicationError("invalid", "请填写原因", fields={"reason": ["必填"]})
    current = Physician.objects.select_for_update().values_list("status", flat=True).get(pk=physician.pk)
    if current not in allowed_from:
        allowed = "、".join(str(P(s).label) for s in allowed_from)
        raise ApplicationError("invalid_status",
                               f"当前状态为“{str(P(current).label)}”，只有“{allowed}”状态可以执行此操作", status=409)
    values = {"status": to, "status_changed_at": now, **(updates or {})}
    for key, value in values.items():
        setattr(physician, key, value)
    physician.save(update_fields=[*values, "updated_at"])
    record_event(subject=physician, action=action, actor=actor, from_status=current, to_status=to, reason=reason,
                 data={k: v.isoformat() for k, v in (updates or {}).items() if isinstance(v, dt.date)}, now=now)
    return physician


@transaction.atomic
def physician_file(*, physician: Physician, actor, now: dt.datetime, filed_on: dt.date | None = None,
                   valid_until: dt.date | None = None, reason: str = "") -> Physician:
    """R-DOC-3: the bureau files a proposed physician after checking R-DOC-1 and R-DOC-2 again."""
    _refuse_ineligible(physician_problems(physician))
    if physician.institution.status != DesignationStatus.ADMITTED:
        raise ApplicationError("institution_not_designated",
                               f"{physician.institution.name}尚未纳入定点或已暂停/退出，不能备案责任医师")
    filed_on = filed_on or timezone.localdate(now)
    if valid_until is not None and valid_until < filed_on:
        raise ApplicationError("invalid", "备案有效期不能早于备案日期", fields={"valid_until": ["早于备案日期"]})
    return _transition(physician, to=P.FILED, allowed_from=(P.PROPOSED,), action=EventAction.PHYSICIAN_FILED, actor=actor,
                       reason=reason, reason_required=False,
                       updates={"filed_on": filed_on, "filing_valid_until": valid_until, "revoked_on": None},
                       now=now)


@transaction.atomic
def physician_reject_filing(*, physician: Physician, actor, reason: str, now: dt.datetime) -> Physician:
    return _transition(physician, to=P.REJECTED, allowed_from=(P.PROPOSED,), action=EventAction.PHYSICIAN_FILING_REJECTED,
                       actor=actor, reason=reason, now=now)


@transaction.atomic
def physician_suspend(*, physician: Physician, actor, reason: str, now: dt.datetime,
                      on: dt.date | None = None) -> Physician:
    """From ``on`` (default today) the physician can no longer sign (``is_active_on``)."""
    return _transition(physician, to=P.SUSPENDED, allowed_from=(P.FILED,), action=EventAction.PHYSICIAN_SUSPENDED,
                       actor=actor, reason=reason, updates={"revoked_on": on or timezone.localdate(now)}, now=now)


@transaction.atomic
def physician_resume(*, physician: Physician, actor, reason: str, now: dt.datetime) -> Physician:
    _refuse_ineligible(physician_problems(physician))
    return _transition(physician, to=P.FILED, allowed_from=(P.SUSPENDED,), action=EventAction.PHYSICIAN_RESUMED,
                       actor=actor, reason=reason, updates={"revoked_on": None}, now=now)


@transaction.atomic
def physician_revoke(*, physician: Physician, actor, reason: str, now: dt.datetime,
                     on: dt.date | None = None) -> Physician:
    """R-DOC-3: prescriptions dated ``on`` or later are refused (R-RX-2)."""
    return _transition(physician, to=P.REVOKED, allowed_from=(P.FILED, P.SUSPENDED), action=EventAction.PHYSICIAN_REVOKED,
                       actor=actor, reason=reason, updates={"revoked_on": on or timezone.localdate(now)}, now=now)


@transaction.atomic
def physician_expire(*, physician: Physician, actor=None, today: dt.date) -> Physician:
    """A filing whose validity has ended becomes expired (idempotent for already-expired ones), as of the start of
    ``today``."""
    if physician.status == P.EXPIRED:
        return physician
    if physician.filing_valid_until is None or physician.filing_valid_until >= today:
        raise ApplicationError("invalid_status", "备案尚在有效期内，不能置为过期", status=409)
    return _transition(physician, to=P.EXPIRED, allowed_from=(P.FILED, P.SUSPENDED), action=EventAction.PHYSICIAN_EXPIRED,
                       actor=actor, reason=f"备案有效期至 {physician.filing_valid_until}", reason_required=False,
                       now=timezone.make_aware(dt.datetime.combine(today, dt.time.min)))


def physicians_expire_due(*, today: dt.date) -> int:
    """Expire every filed or suspended physician whose ``filing_valid_until`` is before ``today``; each in its
    own transaction with its event. Returns how many were expired."""
    due = Physician.objects.filter(status__in=(P.FILED, P.SUSPENDED), filing_valid_until__lt=today)
    count = 0
    for physician in due:
        physician_expire(physician=physician, today=today)
        count += 1
    return count


@transaction.atomic
def physician_account_link(*, actor, physician: Physician, user) -> Physician:
    """R-APP-4: the responsible physician's own account, which alone decides the physician stage (initial review)
    of the applications naming this physician. ``user`` is a hospital user of the physician's institution and
    linked to no other physician. Set by the bureau administrator of the region or by the institution itself."""
    physician = Physician.objects.select_for_update().select_related("institution__region").get(pk=physician.pk)
    allowed = actor.is_superuser or (
        actor.role == Role.BUREAU_ADMIN and actor.region_id
        and physician.institution.region.code.startswith(actor.region.descendant_prefix)) or (
        actor.role == Role.HOSPITAL and actor.institution_id == physician.institution_id)
    if not allowed:
        raise ApplicationError("permission_denied", "只有本院或本统筹区经办机构管理员可以关联医师账号", status=403)
    if user.role != Role.HOSPITAL or user.institution_id != physician.institution_id:
        raise ApplicationError("invalid", f"{user.username} 不是 {physician.institution.name} 的医院用户",
                               fields={"user": ["不是本院用户"]})
    other = Physician.objects.filter(user=user).exclude(pk=physician.pk).first()
    if other is not None:
        raise ApplicationError("invalid", f"账号 {user.username} 已关联医师 {other.name}", fields={"user": ["已关联其他医师"]})
    if physician.user_id != user.pk:
        physician.user = user
        physician.save(update_fields=["user", "updated_at"])
        record_event(subject=physician, action=EventAction.PHYSICIAN_ACCOUNT_LINKED, actor=actor,
                     data={"user": user.username})
    return physician


@transaction.atomic
def physician_recheck_record(*, actor, physician: Physician, on: dt.date, today: dt.date, note: str = "") -> Physician:
    """R-INS-6: the bureau records the annual re-check of a responsible physician's filing."""
    physician = Physician.objects.select_for_update().select_related("institution__region").get(pk=physician.pk)
    if physician.status != P.FILED:
        raise ApplicationError("physician_not_filed", f"医师 {physician.name} 当前未备案，无需复查", status=409)
    recheck.check_recheck(actor=actor, region_code=physician.institution.region.code, on=on,
                          last=physician.last_rechecked_on, today=today)
    physician.last_rechecked_on = on
    physician.save(update_fields=["last_rechecked_on", "updated_at"])
    record_event(subject=physician, action=EventAction.PHYSICIAN_RECHECKED, actor=actor, reason=note,
                 data={"on": str(on)})
    return physician

