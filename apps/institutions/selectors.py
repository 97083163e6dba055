"""Who may see which institutions (R-SEC-1)."""
from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Role
from apps.core.models import DesignationStatus
from apps.core.selectors import region_q
from apps.institutions.models import Institution


def institutions_visible_to(user) -> QuerySet[Institution]:
    """Bureau: every institution of its region. Hospital: its own. Pharmacy: admitted institutions of its
    city (the public designated list, to know where prescriptions come from)."""
    qs = Institution.objects.select_related("region", "specialty")
    if user.is_superuser:
        return qs
    if user.role in (Role.BUREAU_ADMIN, Role.BUREAU_REVIEWER):
        return qs.filter(region_q(user.region))
    if user.role == Role.HOSPITAL:
        return qs.filter(pk=user.institution_id)
    if user.role == Role.PHARMACY and user.pharmacy_id:
        city_prefix = user.pharmacy.region.code[:4]
        return qs.filter(region__code__startswith=city_prefix, status=DesignationStatus.ADMITTED)
    return qs.none()
