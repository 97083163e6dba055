"""R-SEC-1 in one place: restrict a queryset to what a user's organisation or region may see.

Selectors call ``scope_to_user`` with the queryset of their model and say how the model reaches a region, an
institution and a pharmacy; the selector then adds its own ``select_related`` and filters.
"""
from __future__ import annotations

import operator
from functools import reduce

from django.db.models import QuerySet

from apps.accounts.models import BUREAU_ROLES, Role
from apps.core.selectors import region_q


def scope_to_user(qs: QuerySet, user, *, region_fields: tuple[str, ...], institution_field: str | None = "institution_id",
                  pharmacy_field: str | None = "pharmacy_id") -> QuerySet:
    """Superusers: everything. Bureau users: rows whose ``region_fields`` (FKs to Region, any of them) lie in their
    region. Hospital users: rows of their institution (``institution_field``). Pharmacy users: rows of their pharmacy
    (``pharmacy_field``). Anybody else, or a role the model has no field for: nothing."""
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES:
        if user.region_id is None:
            return qs.none()
        return qs.filter(reduce(operator.or_, (region_q(user.region, field) for field in region_fields)))
    if user.role == Role.HOSPITAL and user.institution_id and institution_field:
        return qs.filter(**{institution_field: user.institution_id})
    if user.role == Role.PHARMACY and user.pharmacy_id and pharmacy_field:
        return qs.filter(**{pharmacy_field: user.pharmacy_id})
    return qs.none()
