"""Which users a bureau administrator manages (R-SEC-1)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

User = get_user_model()


def users_visible_to(user) -> QuerySet:
    """Superuser: all. Bureau administrator: bureau users of its region and below, and the users of the
    institutions and pharmacies there. Anyone else: only themselves."""
    qs = User.objects.select_related("region", "institution", "pharmacy")
    if user.is_superuser:
        return qs
    if user.is_bureau_admin and user.region_id:
        prefix = user.region.descendant_prefix
        return qs.filter(Q(region__code__startswith=prefix) | Q(institution__region__code__startswith=prefix)
                         | Q(pharmacy__region__code__startswith=prefix))
    return qs.filter(pk=user.pk)
