"""R-SEC-1 in one place: restrict a queryset to what a user's organisation or region may see.

Selectors call ``scope_to_user`` with the queryset of their model and say how the model reaches a region, an
institution and a pharmacy; the selector then adds its own ``select_related`` and filters.
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce

from django.db.models import ForeignKey, Q, QuerySet

from apps.core.exceptions import ApplicationError
from apps.core.roles import BUREAU_ROLES, Role
from apps.core.models import Region
from apps.core.selectors import region_q


#: a role's own rule where it is not "rows of my organisation": ``(qs, user) -> qs``; called only for a user whose
#: region / institution / pharmacy is set
Scope = Callable[[QuerySet, object], QuerySet]


def is_system_wide(user) -> bool:
    """Holders of a system-wide role (the platform's system administrators, ``is_superuser``): the only ones who write
    shared reference data — the national catalogue, payment standards, withdrawals, the holiday calendar, regions
    (R-SEC-1). A region's administrator reads it."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


def require_system_wide(actor) -> None:
    """Refuse (403) a write of shared reference data by anyone but a system-wide role. ``actor=None`` is the system
    itself (scheduled jobs, migrations, the demo loader)."""
    if actor is None or is_system_wide(actor):
        return
    raise ApplicationError("permission_denied",
                           "医保目录、支付标准、调出和节假日安排是全系统共享数据，只能由系统管理员维护", status=403)


def scope_to_user(qs: QuerySet, user, *, region_fields: tuple[str, ...], institution_field: str | None = "institution_id",
                  pharmacy_field: str | None = "pharmacy_id", bureau_scope: Scope | None = None,
                  hospital_scope: Scope | None = None, pharmacy_scope: Scope | None = None) -> QuerySet:
    """Superusers: everything. Bureau users: rows whose ``region_fields`` (FKs to Region, any of them) lie in their
    region. Hospital users: rows of their institution (``institution_field``). Pharmacy users: rows of their pharmacy
    (``pharmacy_field``). A ``*_scope`` replaces that role's rule (e.g. a pharmacy sees the admitted institutions of
    its city). A user without their region / organisation, anybody else, or a role the model has no rule for:
    nothing."""
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES:
        if user.region_id is None:
            return qs.none()
        if bureau_scope is not None:
            return bureau_scope(qs, user)
        return qs.filter(reduce(operator.or_, (region_in_q(qs.model, user.region, field) for field in region_fields)))
    if user.role == Role.HOSPITAL and user.institution_id:
        if hospital_scope is not None:
            return hospital_scope(qs, user)
        if institution_field:
            return qs.filter(**{institution_field: user.institution_id})
    if user.role == Role.PHARMACY and user.pharmacy_id:
        if pharmacy_scope is not None:
            return pharmacy_scope(qs, user)
        if pharmacy_field:
            return qs.filter(**{pharmacy_field: user.pharmacy_id})
    return qs.none()


def region_in_q(model, region: Region, field: str) -> Q:
    """``region_q`` as nested ``IN`` sub-selects along the foreign keys of ``field`` (issue 16): "institution__region"
    becomes ``institution_id IN (SELECT id FROM institution WHERE region_id IN (SELECT id FROM region WHERE code
    LIKE '64%'))``. PostgreSQL hashes the few region and organisation ids once and filters the rows on their own
    columns, where the joins made it join every row of a large table to the region table (twice when two paths are
    OR-ed) before counting or sorting it. The rows kept are the same: each step is a forward foreign key, so "its
    target is in the set" is "the joined row matches". A path through anything else (a reverse or many-to-many
    relation) keeps the joins of ``region_q``."""
    parts = field.split("__")
    models = [model]
    for name in parts:
        try:
            relation = models[-1]._meta.get_field(name)
        except Exception:  # not a field of the model: let the ORM report it as it always has
            return region_q(region, field)
        if not isinstance(relation, ForeignKey) or relation.target_field != relation.related_model._meta.pk:
            return region_q(region, field)
        models.append(relation.related_model)
    if models[-1] is not Region:
        return region_q(region, field)
    inner = Region.objects.filter(code__startswith=region.descendant_prefix).values("pk")
    for name, owner in zip(reversed(parts[1:]), reversed(models[1:-1])):
        inner = owner._default_manager.filter(**{f"{name}__in": inner}).values("pk")
    return Q(**{f"{parts[0]}__in": inner})
