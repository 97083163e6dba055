"""R-SEC-1 in the Django admin: every admin class goes through the same scoping as the API (R-SEC-1, §5).

``ScopedAdmin`` is the one access mixin of every ``ModelAdmin``. A class says how its rows reach a user's
organisation, in exactly one of these ways:

- ``scope = staticmethod(<selector>)``: the selector the API and the browser use (``institutions_visible_to``…);
- ``scope_fields = {"region_fields": (...), "institution_field": ..., "pharmacy_field": ...}``: handed to
  ``apps.core.scoping.scope_to_user``;
- ``scope_subject = ("content_type", "object_id")``: a generic relation (event log, sanctions); a row is visible
  when its subject is visible through the subject model's own admin scope;
- ``reference_data = True``: shared reference data (regions, the national catalogue, the holiday calendar…) that
  every administrator reads and only a system-wide role writes (§5).

A class that declares none shows nothing to anybody but a superuser (deny by default), and a row outside the
scope cannot be opened, changed or chosen in a foreign key (the change page answers as for a missing row).
"""
from __future__ import annotations

import operator
from functools import reduce

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from apps.core.scoping import is_system_wide, scope_to_user


class ScopedAdmin:
    scope = None  # callable(user) -> queryset
    scope_fields: dict | None = None  # kwargs of scope_to_user
    scope_subject: tuple[str, str] | None = None  # (content type field, object id field)
    reference_data = False
    #: optional narrower selector for changes (e.g. policies: read those above, change only one's own and below)
    write_scope = None
    #: roles that may use this admin at all (bureau administrators; superusers always)
    admin_roles = ("bureau_admin",)

    # --- who may use the admin ------------------------------------------------------------------------------
    def _allowed(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_authenticated and user.is_staff
                    and (user.is_superuser or getattr(user, "role", None) in self.admin_roles))

    def _writable(self, request) -> bool:
        if not self._allowed(request):
            return False
        return is_system_wide(request.user) if self.reference_data else True

    def _in_scope(self, request, obj) -> bool:
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def _in_write_scope(self, request, obj) -> bool:
        if obj is None or self.write_scope is None or request.user.is_superuser:
            return self._in_scope(request, obj)
        return self._in_scope(request, obj) and self.write_scope(request.user).filter(pk=obj.pk).exists()

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request) and self._in_scope(request, obj)

    def has_add_permission(self, request, *args):
        return self._writable(request)

    def has_change_permission(self, request, obj=None):
        return self._writable(request) and self._in_write_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        parent = getattr(super(), "has_delete_permission", None)
        allowed = parent(request, obj) if parent is not None else True
        return bool(allowed) and self._writable(request) and self._in_write_scope(request, obj)

    # --- which rows -----------------------------------------------------------------------------------------
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return scope_admin_queryset(self, qs, request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """A foreign key offers only rows the user may see through the related model's own admin."""
        related = self.admin_site._registry.get(db_field.remote_field.model)
        if isinstance(related, ScopedAdmin) and "queryset" not in kwargs and not request.user.is_superuser:
            kwargs["queryset"] = scope_admin_queryset(related, db_field.remote_field.model._default_manager.all(),
                                                      request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def scope_admin_queryset(model_admin, qs: QuerySet, user) -> QuerySet:
    """The rows of ``qs`` that ``user`` may see through ``model_admin``'s declaration (see the module doc)."""
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if getattr(model_admin, "reference_data", False):
        return qs
    if model_admin.scope is not None:
        return qs.filter(pk__in=model_admin.scope(user).values("pk"))
    if model_admin.scope_fields is not None:
        return scope_to_user(qs, user, **model_admin.scope_fields)
    if model_admin.scope_subject is not None:
        return _scope_by_subject(model_admin, qs, user)
    return qs.none()


def _scope_by_subject(model_admin, qs: QuerySet, user) -> QuerySet:
    """Rows about a subject (``content_type`` + ``object_id``) the user may see through the subject's admin."""
    ct_field, id_field = model_admin.scope_subject
    conditions = []
    for model, subject_admin in model_admin.admin_site._registry.items():
        if model is model_admin.model or not isinstance(subject_admin, ScopedAdmin):
            continue
        if subject_admin.scope_subject is not None:
            continue
        visible = scope_admin_queryset(subject_admin, model._default_manager.all(), user)
        content_type = ContentType.objects.get_for_model(model, for_concrete_model=True)
        ids = visible.annotate(_scoped_pk=Cast("pk", CharField())).values("_scoped_pk")
        conditions.append(Q(**{ct_field: content_type, f"{id_field}__in": ids}))
    if not conditions:
        return qs.none()
    return qs.filter(reduce(operator.or_, conditions))


def unscoped_admins(site=None) -> list[str]:
    """The registered admin classes that do not go through ``ScopedAdmin`` (tests keep this list empty)."""
    site = site or admin.site
    return sorted(f"{model._meta.label}: {type(model_admin).__name__}" for model, model_admin in site._registry.items()
                  if not isinstance(model_admin, ScopedAdmin))
