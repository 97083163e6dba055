"""Writes of designated pharmacies: application, admission, suspension, exit, sanctions (R-PHA-1, R-PHA-2)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus, Sanction
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.selectors import pharmacy_criteria
from apps.registries import designation

S = DesignationStatus

EDITABLE_FIELDS = (
    "name", "region", "address", "contact_name", "contact_phone", "licence_no", "has_business_licence",
    "has_dedicated_storage", "stocks_cold_chain", "has_cold_storage", "sells_at_or_below_price",
    "has_licensed_pharmacist", "traceability_capable", "delivery_capable", "no_penalty_past_year",
    "registration_changed_on", "unable_to_serve_since",
    "bank_name", "bank_account_name", "bank_account_no",  # the payment list (R-SET-5)
)
INVALID = "药店信息有误"


@transaction.atomic
def pharmacy_create(*, actor, code: str, name: str, region, **fields) -> Pharmacy:
    """Register a pharmacy's application (status 申请中)."""
    return designation.create_org(Pharmacy, actor=actor, editable=EDITABLE_FIELDS, invalid_message=INVALID,
                                  code=code, name=name, region=region, **fields)


@transaction.atomic
def pharmacy_update(*, pharmacy: Pharmacy, actor, data: dict) -> Pharmacy:
    """Change registry fields (not the status nor the trading-licence state: see ``pharmacy_revoke_licence``)."""
    return designation.update_org(pharmacy, actor=actor, data=data, editable=EDITABLE_FIELDS, invalid_message=INVALID)


@transaction.atomic
def pharmacy_admit(*, pharmacy: Pharmacy, actor, agreement_no: str, agreement_start: dt.date,
                   agreement_end: dt.date, now: dt.datetime, reason: str = "") -> Pharmacy:
    """R-PHA-1: admit once every criterion is met and the supplementary agreement is signed."""
    return designation.admit_org(pharmacy, criteria=pharmacy_criteria(pharmacy), actor=actor,
                                 agreement_no=agreement_no, agreement_start=agreement_start,
                                 agreement_end=agreement_end, reason=reason, now=now)


@transaction.atomic
def pharmacy_suspend(*, pharmacy: Pharmacy, actor, reason: str, now: dt.datetime) -> Pharmacy:
    return designation.suspend_org(pharmacy, actor=actor, reason=reason, now=now)


@transaction.atomic
def pharmacy_resume(*, pharmacy: Pharmacy, actor, reason: str, now: dt.datetime) -> Pharmacy:
    return designation.resume_org(pharmacy, criteria=pharmacy_criteria(pharmacy), actor=actor, reason=reason,
                                  now=now)


@transaction.atomic
def pharmacy_exit(*, pharmacy: Pharmacy, actor, reason: str, now: dt.datetime) -> Pharmacy:
    return designation.exit_org(pharmacy, actor=actor, reason=reason, now=now)


@transaction.atomic
def pharmacy_revoke_licence(*, pharmacy: Pharmacy, actor, revoked_on: dt.date, reason: str,
                            now: dt.datetime) -> Pharmacy:
    """R-PHA-2: the drug-trading licence was revoked: record it and exit the pharmacy."""
    if not pharmacy.trading_licence_valid:
        raise ApplicationError("invalid_status", "该药店的药品经营许可已登记为吊销", status=409)
    pharmacy.trading_licence_valid = False
    pharmacy.save(update_fields=["trading_licence_valid", "updated_at"])
    record_event(subject=pharmacy, action=EventAction.PHARMACY_LICENCE_REVOKED, actor=actor, reason=reason,
                 data={"revoked_on": revoked_on.isoformat()}, now=now)
    if pharmacy.status != S.EXITED:
        pharmacy_exit(pharmacy=pharmacy, actor=actor, reason=f"药品经营许可被吊销（{revoked_on}）：{reason}", now=now)
    return pharmacy


@transaction.atomic
def pharmacy_sanction(*, pharmacy: Pharmacy, actor, kind: str, decided_on: dt.date, reason: str,
                      amount: Decimal | None = None, deadline: dt.date | None = None, now: dt.datetime) -> Sanction:
    """R-PHA-2 as R-INS-3: 暂停协议 suspends an admitted pharmacy, 解除协议 exits it."""
    return designation.sanction_org(pharmacy, actor=actor, kind=kind, decided_on=decided_on, reason=reason,
                                    amount=amount, deadline=deadline, now=now)


#: the lifecycle services by name, for the shared REST viewset, browser pages and admin (apps.registries)
LIFECYCLE = designation.LifecycleServices(
    subject="pharmacy", create=pharmacy_create, update=pharmacy_update, admit=pharmacy_admit, suspend=pharmacy_suspend,
    resume=pharmacy_resume, exit=pharmacy_exit, sanction=pharmacy_sanction,
)
