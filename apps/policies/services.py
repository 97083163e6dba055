"""Writes of payment policies (R-PAY-1, R-PAY-2)."""
from __future__ import annotations

import datetime as dt

from django.db import transaction

from apps.core.events import record_event
from apps.core.exceptions import ApplicationError
from apps.core.models import Region
from apps.policies.models import PaymentPolicy
from apps.policies.presets import PRESETS


@transaction.atomic
def policy_create_from_preset(*, region: Region, preset: str, valid_from: dt.date, actor=None) -> PaymentPolicy:
    """Create the region's policy from a shipped preset; returns the existing one when already there."""
    if preset not in PRESETS:
        raise ApplicationError("invalid", f"未知的预置方案：{preset}", fields={"preset": ["未知的预置方案"]})
    existing = PaymentPolicy.objects.filter(region=region, valid_from=valid_from).first()
    if existing:
        return existing
    values = dict(PRESETS[preset])
    policy = PaymentPolicy(region=region, preset=preset, valid_from=valid_from, **values)
    policy.full_clean()
    policy.save()
    record_event(subject=policy, action="policy_created", actor=actor, data={"preset": preset})
    return policy
