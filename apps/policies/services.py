"""Writes of payment policies (R-PAY-1, R-PAY-2)."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import Region
from apps.policies.models import PaymentPolicy
from apps.policies.presets import PRESETS

VALUE_FIELDS = (
    "deductible_outpatient_employee", "deductible_outpatient_resident", "deductible_inpatient_employee",
    "deductible_inpatient_resident", "ratio_outpatient_employee", "ratio_outpatient_resident",
    "ratio_inpatient_employee", "ratio_inpatient_resident", "annual_cap_employee", "annual_cap_resident",
)
EDITABLE_FIELDS = ("name", "valid_until", "source", *VALUE_FIELDS)


def _clean(policy: PaymentPolicy) -> None:
    try:
        policy.full_clean()
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise ApplicationError("invalid", "支付政策信息有误", fields=fields) from None


def _overlapping(policy: PaymentPolicy):
    end = policy.valid_until or dt.date.max
    return (PaymentPolicy.objects.filter(region=policy.region).exclude(pk=policy.pk)
            .filter(valid_from__lte=end).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=policy.valid_from)))


@transaction.atomic
def policy_create(*, actor, region: Region, valid_from: dt.date, name: str, preset: str = "", **values) -> PaymentPolicy:
    """A new policy period for ``region``. An open-ended earlier policy is closed the day before
    ``valid_from`` (the old values keep their period); any other overlap is refused."""
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"未知字段：{'、'.join(sorted(unknown))}")
    policy = PaymentPolicy(region=region, valid_from=valid_from, name=(name or "").strip(), preset=preset, **values)
    _clean(policy)
    for other in _overlapping(policy).select_for_update():
        if other.valid_until is None and other.valid_from < valid_from:
            other.valid_until = valid_from - dt.timedelta(days=1)
            other.save(update_fields=["valid_until", "updated_at"])
            record_event(subject=other, action=EventAction.POLICY_CLOSED, actor=actor,
                         data={"valid_until": other.valid_until.isoformat()})
        else:
            raise ApplicationError("policy_overlap", f"与已有政策“{other.name}”（{other.valid_from} 起）的有效期重叠",
                                   fields={"valid_from": ["有效期重叠"]})
    policy.save()
    record_event(subject=policy, action=EventAction.POLICY_CREATED, actor=actor, data={"preset": preset})
    return policy


@transaction.atomic
def policy_update(*, policy: PaymentPolicy, actor, data: dict) -> PaymentPolicy:
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"不能修改：{'、'.join(sorted(unknown))}")
    changed = {k: v for k, v in data.items() if getattr(policy, k) != v}
    if not changed:
        return policy
    for key, value in changed.items():
        setattr(policy, key, value)
    _clean(policy)
    if _overlapping(policy).exists():
        raise ApplicationError("policy_overlap", "与同一统筹区的其他政策有效期重叠", fields={"valid_until": ["有效期重叠"]})
    policy.save()
    record_event(subject=policy, action=EventAction.POLICY_UPDATED, actor=actor,
                 data={"fields": sorted(changed)})
    return policy


@transaction.atomic
def policy_create_from_preset(*, region: Region, preset: str, valid_from: dt.date, actor=None) -> PaymentPolicy:
    """Create the region's policy from a shipped preset (R-PAY-2); returns the existing one when already there."""
    if preset not in PRESETS:
        raise ApplicationError("invalid", f"未知的预置方案：{preset}", fields={"preset": ["未知的预置方案"]})
    existing = PaymentPolicy.objects.filter(region=region, valid_from=valid_from).first()
    if existing:
        return existing
    values = dict(PRESETS[preset])
    return policy_create(actor=actor, region=region, valid_from=valid_from, preset=preset, **values)
