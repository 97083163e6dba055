"""Who may see which pharmacies (R-SEC-1)."""
from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Role
from apps.core.models import DesignationStatus
from apps.core.selectors import region_q
from apps.pharmacies.models import Pharmacy


def pharmacies_visible_to(user) -> QuerySet[Pharmacy]:
    """Bureau: every pharmacy of its region. Pharmacy: itself. Hospital: admitted pharmacies of its city
    (where it may flow prescriptions)."""
    qs = Pharmacy.objects.select_related("region")
    if user.is_superuser:
        return qs
    if user.role in (Role.BUREAU_ADMIN, Role.BUREAU_REVIEWER):
        return qs.filter(region_q(user.region))
    if user.role == Role.PHARMACY:
        return qs.filter(pk=user.pharmacy_id)
    if user.role == Role.HOSPITAL and user.institution_id:
        city_prefix = user.institution.region.code[:4]
        return qs.filter(region__code__startswith=city_prefix, status=DesignationStatus.ADMITTED)
    return qs.none()
