"""Lifecycle shared by designated institutions and pharmacies (R-INS-3, R-INS-4, R-PHA-2).

``apps.institutions.services`` and ``apps.pharmacies.services`` are thin wrappers of the ``*_org`` functions
below, passing their own admission criteria and extra checks; the helpers check the current status, change it,
and write the event row (``EVENTS[<model>][<step>]``, e.g. ``EventAction.INSTITUTION_ADMITTED``) in the caller's
transaction.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import DesignatedOrganisation, DesignationStatus, Region, Sanction
from apps.core.selectors import region_q
from apps.core.working_days import working_days_between
from apps.registries import hooks

S = DesignationStatus

#: R-INS-4: a name/address change must be brought into the system within this many working days.
REGISTRATION_UPDATE_WORKING_DAYS = 30
#: R-INS-4: unable to serve for this many months or more.
UNABLE_TO_SERVE_MONTHS = 6
#: R-INS-4: fewer dual-channel patients than this in the last year.
MIN_PATIENTS_PER_YEAR = 10


@dataclass(frozen=True)
class Criterion:
    """One admission criterion: the model field it reads, its label, and whether it is met."""

    field: str
    label: str
    met: bool


@dataclass(frozen=True)
class LifecycleServices:
    """The services of one kind of designated organisation, named explicitly (no lookup by built names): the
    REST viewset, the browser pages and the admin call these. ``subject`` is their keyword for the organisation
    (``institution_admit(institution=…)``)."""

    subject: str
    create: Callable
    update: Callable
    admit: Callable
    suspend: Callable
    resume: Callable
    exit: Callable
    sanction: Callable


def filter_organisations(qs, *, search: str = "", region: str = "", status: str = ""):
    """The registry lists' common filters: name or code contains ``search``; within the region ``region`` (a code,
    with everything under it; an unknown code matches nothing); ``status``."""
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(code__icontains=search))
    if region:
        node = Region.objects.filter(code=region).first()
        qs = qs.filter(region_q(node)) if node else qs.none()
    if status:
        qs = qs.filter(status=status)
    return qs


def unmet(criteria: list[Criterion]) -> list[Criterion]:
    return [c for c in criteria if not c.met]


def refuse_unmet(criteria: list[Criterion], *, action: str) -> None:
    """Raise ``criteria_not_met`` naming every failing criterion (R-INS-1, R-PHA-1)."""
    failing = unmet(criteria)
    if failing:
        names = "、".join(c.label for c in failing)
        raise ApplicationError(
            "criteria_not_met", f"不符合{action}条件：{names}",
            fields={c.field: [f"未满足：{c.label}"] for c in failing},
        )


def _label(status: str) -> str:
    return str(S(status).label)


def transition(org: DesignatedOrganisation, *, to: str, allowed_from: tuple[str, ...], action: str, actor,
               reason: str = "", reason_required: bool = True, data: dict | None = None,
               extra_update: dict | None = None, now: dt.datetime) -> DesignatedOrganisation:
    """Move ``org`` from one of ``allowed_from`` to ``to`` and record who/when/why (R-INS-3); ``now`` is the
    caller's time."""
    reason = (reason or "").strip()
    if reason_required and not reason:
        raise ApplicationError("invalid", "请填写原因", fields={"reason": ["必填"]})
    # re-read the status under a row lock so two administrators cannot both move it
    current = type(org).objects.select_for_update().values_list("status", flat=True).get(pk=org.pk)
    if current not in allowed_from:
        allowed = "、".join(_label(s) for s in allowed_from)
        raise ApplicationError(
            "invalid_status", f"当前状态为“{_label(current)}”，只有“{allowed}”状态可以执行此操作", status=409)
    updates = {"status": to, "status_changed_at": now, **(extra_update or {})}
    for key, value in updates.items():
        setattr(org, key, value)
    org.save(update_fields=[*updates.keys(), "updated_at"])
    record_event(subject=org, action=action, actor=actor, from_status=current, to_status=to, reason=reason,
                 data=data, now=now)
    return org


def validate_agreement(*, agreement_no: str, agreement_start: dt.date | None, agreement_end: dt.date | None) -> None:
    """R-INS-3: admission signs a supplementary agreement (补充协议) with start and end dates."""
    fields = {}
    if not (agreement_no or "").strip():
        fields["agreement_no"] = ["请填写补充协议编号"]
    if agreement_start is None:
        fields["agreement_start"] = ["请填写协议开始日期"]
    if agreement_end is None:
        fields["agreement_end"] = ["请填写协议结束日期"]
    if agreement_start and agreement_end and agreement_end < agreement_start:
        fields["agreement_end"] = ["协议结束日期不能早于开始日期"]
    if fields:
        raise ApplicationError("agreement_required", "纳入须签订补充协议并填写协议编号及起止日期", fields=fields)


def sanction_record(org: DesignatedOrganisation, *, actor, kind: str, decided_on: dt.date, reason: str,
                    now: dt.datetime, amount: Decimal | None = None, deadline: dt.date | None = None) -> Sanction:
    """R-INS-3: record a sanction (000 附件2 第四条、第五条)."""
    fields = {}
    if kind not in Sanction.Kind.values:
        fields["kind"] = ["未知的处理方式"]
    if not (reason or "").strip():
        fields["reason"] = ["必填"]
    if amount is not None and amount < 0:
        fields["amount"] = ["金额不能为负数"]
    if kind in (Sanction.Kind.DEDUCTION, Sanction.Kind.DEPOSIT_DEDUCTION) and amount is None:
        fields["amount"] = ["拒付/追回或扣除保证金须填写金额"]
    if kind == Sanction.Kind.RECTIFICATION and deadline is None:
        fields["deadline"] = ["限时整改须填写整改期限"]
    if fields:
        raise ApplicationError("invalid", "协议处理信息有误", fields=fields)
    if org.status == S.EXITED:
        raise ApplicationError("invalid_status", "已退出的机构不能再作协议处理", status=409)
    sanction = Sanction.objects.create(
        content_type=ContentType.objects.get_for_model(org), object_id=str(org.pk), kind=kind,
        decided_on=decided_on, reason=reason.strip(), amount=amount, deadline=deadline,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record_event(subject=org, action=EventAction.SANCTIONED, actor=actor, reason=reason.strip(),
                 data={"kind": kind, "decided_on": decided_on.isoformat(),
                       "amount": str(amount) if amount is not None else None,
                       "deadline": deadline.isoformat() if deadline else None}, now=now)
    return sanction


def sanctions_for(org: DesignatedOrganisation):
    return Sanction.objects.filter(content_type=ContentType.objects.get_for_model(org), object_id=str(org.pk))


#: the event each lifecycle step writes, by the organisation's model (``_meta.label_lower``)
EVENTS = {
    "institutions.institution": {
        "applied": EventAction.INSTITUTION_APPLIED, "updated": EventAction.INSTITUTION_UPDATED,
        "admitted": EventAction.INSTITUTION_ADMITTED, "suspended": EventAction.INSTITUTION_SUSPENDED,
        "resumed": EventAction.INSTITUTION_RESUMED, "exited": EventAction.INSTITUTION_EXITED,
    },
    "pharmacies.pharmacy": {
        "applied": EventAction.PHARMACY_APPLIED, "updated": EventAction.PHARMACY_UPDATED,
        "admitted": EventAction.PHARMACY_ADMITTED, "suspended": EventAction.PHARMACY_SUSPENDED,
        "resumed": EventAction.PHARMACY_RESUMED, "exited": EventAction.PHARMACY_EXITED,
    },
}


def _event(org: DesignatedOrganisation, step: str) -> EventAction:
    return EVENTS[org._meta.label_lower][step]


def full_clean_org(org: DesignatedOrganisation, *, message: str) -> None:
    """Model validation as an ``ApplicationError("invalid", message)`` naming the failing fields."""
    try:
        org.full_clean()
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise ApplicationError("invalid", message, fields=fields) from None


def create_org(model: type[DesignatedOrganisation], *, actor, editable: tuple[str, ...], invalid_message: str,
               code: str, name: str, region, **fields) -> DesignatedOrganisation:
    """Register an application (status 申请中); only ``editable`` fields may be given besides code/name/region."""
    unknown = set(fields) - set(editable)
    if unknown:
        raise ApplicationError("invalid", f"不能直接设置：{'、'.join(sorted(unknown))}")
    org = model(code=(code or "").strip(), name=(name or "").strip(), region=region, status=S.APPLIED, **fields)
    full_clean_org(org, message=invalid_message)
    org.save()
    record_event(subject=org, action=_event(org, "applied"), actor=actor, to_status=S.APPLIED)
    return org


def update_org(org: DesignatedOrganisation, *, actor, data: dict, editable: tuple[str, ...], invalid_message: str,
               check=None) -> DesignatedOrganisation:
    """Change registry fields (not the status); ``check(org)`` runs after validation, before saving."""
    unknown = set(data) - set(editable)
    if unknown:
        raise ApplicationError("invalid", f"不能直接修改：{'、'.join(sorted(unknown))}（状态请使用纳入/暂停/退出操作）")
    changed = {k: v for k, v in data.items() if getattr(org, k) != v}
    if not changed:
        return org
    for key, value in changed.items():
        setattr(org, key, value)
    full_clean_org(org, message=invalid_message)
    if check is not None:
        check(org)
    org.save()
    record_event(subject=org, action=_event(org, "updated"), actor=actor, data={"fields": sorted(changed)})
    return org


def admit_org(org: DesignatedOrganisation, *, criteria: list[Criterion], actor, agreement_no: str,
              agreement_start: dt.date, agreement_end: dt.date, now: dt.datetime, reason: str = "",
              check=None) -> DesignatedOrganisation:
    """R-INS-1/R-INS-3/R-PHA-1: admit an applicant once every criterion is met and the supplementary agreement
    (补充协议) is signed; ``check(org)`` is the caller's extra admission rule (R-INS-2)."""
    refuse_unmet(criteria, action="纳入")
    validate_agreement(agreement_no=agreement_no, agreement_start=agreement_start, agreement_end=agreement_end)
    if check is not None:
        check(org)
    return transition(
        org, to=S.ADMITTED, allowed_from=(S.APPLIED,), action=_event(org, "admitted"), actor=actor,
        reason=reason, reason_required=False,
        data={"agreement_no": agreement_no, "agreement_start": agreement_start.isoformat(),
              "agreement_end": agreement_end.isoformat()},
        extra_update={"agreement_no": agreement_no.strip(), "agreement_start": agreement_start,
                      "agreement_end": agreement_end},
        now=now,
    )


def suspend_org(org: DesignatedOrganisation, *, actor, reason: str, now: dt.datetime) -> DesignatedOrganisation:
    return transition(org, to=S.SUSPENDED, allowed_from=(S.ADMITTED,), action=_event(org, "suspended"),
                      actor=actor, reason=reason, now=now)


def resume_org(org: DesignatedOrganisation, *, criteria: list[Criterion], actor, reason: str,
               now: dt.datetime) -> DesignatedOrganisation:
    """Lift a suspension; the criteria must still be met (R-INS-1, R-PHA-1)."""
    refuse_unmet(criteria, action="恢复")
    return transition(org, to=S.ADMITTED, allowed_from=(S.SUSPENDED,), action=_event(org, "resumed"),
                      actor=actor, reason=reason, now=now)


def exit_org(org: DesignatedOrganisation, *, actor, reason: str, now: dt.datetime) -> DesignatedOrganisation:
    return transition(org, to=S.EXITED, allowed_from=(S.APPLIED, S.ADMITTED, S.SUSPENDED),
                      action=_event(org, "exited"), actor=actor, reason=reason, now=now)


def sanction_org(org: DesignatedOrganisation, *, actor, kind: str, decided_on: dt.date, reason: str,
                 now: dt.datetime, amount: Decimal | None = None, deadline: dt.date | None = None) -> Sanction:
    """R-INS-3 / R-PHA-2: record a sanction; 暂停协议 suspends an admitted organisation, 解除协议 exits it."""
    sanction = sanction_record(org, actor=actor, kind=kind, decided_on=decided_on, reason=reason, amount=amount,
                               deadline=deadline, now=now)
    if kind == Sanction.Kind.SUSPENSION and org.status == S.ADMITTED:
        suspend_org(org, actor=actor, reason=f"协议处理：{reason}", now=now)
    elif kind == Sanction.Kind.TERMINATION:
        exit_org(org, actor=actor, reason=f"解除协议：{reason}", now=now)
    # R-SET-5: a sanction with money reaches the organisation's next statement (the settlement app answers)
    hooks.sanction_recorded.send(sanction=sanction, organisation=org, now=now)
    return sanction


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise ValueError(day)


def previous_year_patient_counts(orgs, *, patient_field: str, today: dt.date) -> dict[int, int]:
    """R-INS-4: the dual-channel patients of each organisation in ``orgs`` over the previous calendar year, in one
    query (the exit flags of a whole registry must not run one count per organisation)."""
    ids = [org.pk for org in orgs]
    if not ids:
        return {}
    return hooks.dual_channel_patient_counts.call(field=patient_field, org_ids=ids,
                                                  start=dt.date(today.year - 1, 1, 1),
                                                  end=dt.date(today.year - 1, 12, 31))


def exit_flags(org: DesignatedOrganisation, *, criteria: list[Criterion], patient_counts: dict[int, int],
               today: dt.date) -> list[str]:
    """R-INS-4 (000 附件2 第六条): the reasons this organisation should be considered for exit.
    ``patient_counts``: ``previous_year_patient_counts`` of the organisations being checked."""
    reasons: list[str] = []
    if org.registration_changed_on is not None:
        late = working_days_between(org.registration_changed_on, today)
        if late > REGISTRATION_UPDATE_WORKING_DAYS:
            reasons.append(f"名称/地址变更后 {late} 个工作日未更新（超过{REGISTRATION_UPDATE_WORKING_DAYS}个工作日）")
    for c in unmet(criteria):
        reasons.append(f"不再符合纳入条件：{c.label}")
    if org.unable_to_serve_since is not None and add_months(org.unable_to_serve_since, UNABLE_TO_SERVE_MONTHS) <= today:
        reasons.append(f"自 {org.unable_to_serve_since} 起无法提供服务已满{UNABLE_TO_SERVE_MONTHS}个月")
    # R-INS-4 (revision 2): the previous calendar year (上年度, checked at the annual assessment); only an
    # organisation designated for the whole of that year can be judged on it
    year_start = dt.date(today.year - 1, 1, 1)
    if org.agreement_start is not None and org.agreement_start <= year_start:
        patients = patient_counts.get(org.pk, 0)
        if patients < MIN_PATIENTS_PER_YEAR:
            reasons.append(f"上年度（{today.year - 1} 年）双通道患者 {patients} 人（少于{MIN_PATIENTS_PER_YEAR}人）")
    return reasons
