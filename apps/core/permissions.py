"""DRF permission classes by role. Object visibility is the selectors' job (404), roles are 403."""
from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.core.roles import BUREAU_ROLES, Role


class IsBureau(BasePermission):
    def has_permission(self, request, view):
        u = request.user
        return bool(u and u.is_authenticated and (u.role in BUREAU_ROLES or u.is_superuser))


class IsBureauAdmin(BasePermission):
    def has_permission(self, request, view):
        u = request.user
        return bool(u and u.is_authenticated and u.is_bureau_admin)


class IsHospital(BasePermission):
    def has_permission(self, request, view):
        u = request.user
        return bool(u and u.is_authenticated and u.role == Role.HOSPITAL and u.institution_id)


class IsPharmacy(BasePermission):
    def has_permission(self, request, view):
        u = request.user
        return bool(u and u.is_authenticated and u.role == Role.PHARMACY and u.pharmacy_id)


class ReadAnyWriteBureauAdmin(BasePermission):
    """Registries and catalogue: every signed-in role reads (within its scope), bureau admins write."""

    def has_permission(self, request, view):
        u = request.user
        if not (u and u.is_authenticated):
            return False
        return request.method in SAFE_METHODS or u.is_bureau_admin
