"""Who may see which responsible physicians (R-SEC-1)."""
from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Role
from apps.core.selectors import region_q
from apps.physicians.models import Physician


def physicians_visible_to(user) -> QuerySet[Physician]:
    """Bureau: physicians of its region's institutions. Hospital: its own. Pharmacy: none."""
    qs = Physician.objects.select_related("institution", "institution__region").prefetch_related(
        "therapeutic_areas")
    if user.is_superuser:
        return qs
    if user.role in (Role.BUREAU_ADMIN, Role.BUREAU_REVIEWER):
        return qs.filter(region_q(user.region, "institution__region"))
    if user.role == Role.HOSPITAL:
        return qs.filter(institution_id=user.institution_id)
    return qs.none()
