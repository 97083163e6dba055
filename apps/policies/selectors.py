"""Policy lookup walks up the region tree (R-PAY-1, R-PAY-5)."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q

from apps.core.exceptions import ApplicationError
from apps.core.models import Region
from apps.core.roles import Role
from apps.core.scoping import scope_to_user
from apps.policies.models import PaymentPolicy


def policy_for(*, region: Region, on: dt.date) -> PaymentPolicy:
    """The policy in force on ``on`` for ``region``: its own, else its city's, else its province's."""
    chain = region.ancestors_and_self()
    policies = list(
        PaymentPolicy.objects.filter(region__in=chain, valid_from__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("-valid_from")
    )
    by_region: dict[int, PaymentPolicy] = {}
    for policy in policies:
        by_region.setdefault(policy.region_id, policy)
    for node in chain:
        if node.pk in by_region:
            return by_region[node.pk]
    raise ApplicationError("no_policy", f"{region.name} 在 {on} 没有生效的支付政策，请管理员先配置", status=400)


def policies_visible_to(user):
    """Bureau: policies of its region, the regions below it and above it (the ones that apply to it).
    Hospital/pharmacy: the policies of its own region chain. Superusers: all."""
    return scope_to_user(PaymentPolicy.objects.select_related("region"), user, region_fields=("region",),
                         bureau_scope=_region_below_or_above, hospital_scope=_region_chain_of_organisation,
                         pharmacy_scope=_region_chain_of_organisation)


def _region_below_or_above(qs, user):
    chain = [r.pk for r in user.region.ancestors_and_self()]
    return qs.filter(Q(region__code__startswith=user.region.descendant_prefix) | Q(region__in=chain))


def _region_chain_of_organisation(qs, user):
    org = user.institution if user.role == Role.HOSPITAL else user.pharmacy
    return qs.filter(region__in=[r.pk for r in org.region.ancestors_and_self()])
