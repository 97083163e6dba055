"""Writes of designated pharmacies: application, admission, suspension, exit, sanctions (R-PHA-1, R-PHA-2)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core import designation
from apps.core.events import record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus, Sanction
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.selectors import pharmacy_criteria

S = DesignationStatus

EDITABLE_FIELDS = (
    "name", "region", "address", "contact_name", "contact_phone", "licence_no", "has_business_licence",
    "has_dedicated_storage", "stocks_cold_chain", "has_cold_storage", "sells_at_or_below_price",
    "has_licensed_pharmacist", "traceability_capable", "delivery_capable", "no_penalty_past_year",
    "registration_changed_on", "unable_to_serve_since",
)


def _full_clean(pharmacy: Pharmacy) -> None:
    try:
        pharmacy.full_clean()
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise ApplicationError("invalid", "药店信息有误", fields=fields) from None


@transaction.atomic
def pharmacy_create(*, actor, code: str, name: str, region, **fields) -> Pharmacy:
    """Register a pharmacy's application (status 申请中)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"不能直接设置：{'、'.join(sorted(unknown))}")
    pharmacy = Pharmacy(code=(code or "").strip(), name=(name or "").strip(), region=region, status=S.APPLIED,
                        **fields)
    _full_clean(pharmacy)
    pharmacy.save()
    record_event(subject=pharmacy, action="pharmacy_applied", actor=actor, to_status=S.APPLIED)
    return pharmacy


@transaction.atomic
def pharmacy_update(*, pharmacy: Pharmacy, actor, data: dict) -> Pharmacy:
    """Change registry fields (not the status nor the trading-licence state: see ``pharmacy_revoke_licence``)."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"不能直接修改：{'、'.join(sorted(unknown))}（状态请使用纳入/暂停/退出操作）")
    changed = {k: v for k, v in data.items() if getattr(pharmacy, k) != v}
    if not changed:
        return pharmacy
    for key, value in changed.items():
        setattr(pharmacy, key, value)
    _full_clean(pharmacy)
    pharmacy.save()
    record_event(subject=pharmacy, action="pharmacy_updated", actor=actor, data={"fields": sorted(changed)})
    return pharmacy


@transaction.atomic
def pharmacy_admit(*, pharmacy: Pharmacy, actor, agreement_no: str, agreement_start: dt.date,
                   agreement_end: dt.date, reason: str = "") -> Pharmacy:
    """R-PHA-1: admit once every criterion is met and the supplementary agreement is signed."""
    designation.refuse_unmet(pharmacy_criteria(pharmacy), action="纳入")
    designation.validate_agreement(agreement_no=agreement_no, agreement_start=agreement_start,
                                   agreement_end=agreement_end)
    return designation.transition(
        pharmacy, to=S.ADMITTED, allowed_from=(S.APPLIED,), action="pharmacy_admitted", actor=actor,
        reason=reason, reason_required=False,
        data={"agreement_no": agreement_no, "agreement_start": agreement_start.isoformat(),
              "agreement_end": agreement_end.isoformat()},
        extra_update={"agreement_no": agreement_no.strip(), "agreement_start": agreement_start,
                      "agreement_end": agreement_end},
    )


@transaction.atomic
def pharmacy_suspend(*, pharmacy: Pharmacy, actor, reason: str) -> Pharmacy:
    return designation.transition(pharmacy, to=S.SUSPENDED, allowed_from=(S.ADMITTED,),
                                  action="pharmacy_suspended", actor=actor, reason=reason)


@transaction.atomic
def pharmacy_resume(*, pharmacy: Pharmacy, actor, reason: str) -> Pharmacy:
    designation.refuse_unmet(pharmacy_criteria(pharmacy), action="恢复")
    return designation.transition(pharmacy, to=S.ADMITTED, allowed_from=(S.SUSPENDED,),
                                  action="pharmacy_resumed", actor=actor, reason=reason)


@transaction.atomic
def pharmacy_exit(*, pharmacy: Pharmacy, actor, reason: str) -> Pharmacy:
    return designation.transition(pharmacy, to=S.EXITED, allowed_from=(S.APPLIED, S.ADMITTED, S.SUSPENDED),
                                  action="pharmacy_exited", actor=actor, reason=reason)


@transaction.atomic
def pharmacy_revoke_licence(*, pharmacy: Pharmacy, actor, revoked_on: dt.date, reason: str) -> Pharmacy:
    """R-PHA-2: the drug-trading licence was revoked: record it and exit the pharmacy."""
    if not pharmacy.trading_licence_valid:
        raise ApplicationError("invalid_status", "该药店的药品经营许可已登记为吊销", status=409)
    pharmacy.trading_licence_valid = False
    pharmacy.save(update_fields=["trading_licence_valid", "updated_at"])
    record_event(subject=pharmacy, action="pharmacy_licence_revoked", actor=actor, reason=reason,
                 data={"revoked_on": revoked_on.isoformat()})
    if pharmacy.status != S.EXITED:
        pharmacy_exit(pharmacy=pharmacy, actor=actor, reason=f"药品经营许可被吊销（{revoked_on}）：{reason}")
    return pharmacy


@transaction.atomic
def pharmacy_sanction(*, pharmacy: Pharmacy, actor, kind: str, decided_on: dt.date, reason: str,
                      amount: Decimal | None = None, deadline: dt.date | None = None) -> Sanction:
    """R-PHA-2 as R-INS-3: 暂停协议 suspends an admitted pharmacy, 解除协议 exits it."""
    sanction = designation.sanction_record(pharmacy, actor=actor, kind=kind, decided_on=decided_on, reason=reason,
                                           amount=amount, deadline=deadline)
    if kind == Sanction.Kind.SUSPENSION and pharmacy.status == S.ADMITTED:
        pharmacy_suspend(pharmacy=pharmacy, actor=actor, reason=f"协议处理：{reason}")
    elif kind == Sanction.Kind.TERMINATION:
        pharmacy_exit(pharmacy=pharmacy, actor=actor, reason=f"解除协议：{reason}")
    return sanction
