"""The four roles of R-SEC-1, in the kernel so every app can check them without importing ``apps.accounts``.

The user model (``settings.AUTH_USER_MODEL``, ``accounts.User``) stores one of these values in ``role``.
"""
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    BUREAU_ADMIN = "bureau_admin", _("经办机构管理员")
    BUREAU_REVIEWER = "bureau_reviewer", _("审核员")
    HOSPITAL = "hospital", _("医院医保办")
    PHARMACY = "pharmacy", _("定点药店")


BUREAU_ROLES = frozenset({Role.BUREAU_ADMIN, Role.BUREAU_REVIEWER})

#: any bureau role (administrator or reviewer), or a superuser
BUREAU = "bureau"


def has_role(user, *allowed: str) -> bool:
    """Whether ``user`` holds one of ``allowed`` (R-SEC-1): ``BUREAU`` (any bureau role), ``Role.BUREAU_ADMIN``
    (superusers count as both), ``Role.BUREAU_REVIEWER``, ``Role.HOSPITAL`` / ``Role.PHARMACY`` (with their
    organisation set)."""
    if user is None or not user.is_authenticated:
        return False
    for role in allowed:
        if role == BUREAU and (user.is_superuser or user.role in BUREAU_ROLES):
            return True
        if role == Role.BUREAU_ADMIN and (user.is_superuser or user.role == Role.BUREAU_ADMIN):
            return True
        if role == Role.BUREAU_REVIEWER and user.role == Role.BUREAU_REVIEWER:
            return True
        if role == Role.HOSPITAL and user.role == Role.HOSPITAL and user.institution_id:
            return True
        if role == Role.PHARMACY and user.role == Role.PHARMACY and user.pharmacy_id:
            return True
    return False


def require_role(user, *allowed: str) -> None:
    """The browser screens' one role check: ``PermissionDenied`` (403) unless ``has_role(user, *allowed)``.
    What the user may see inside the role is the selectors' job (``apps.core.scoping``)."""
    if not has_role(user, *allowed):
        # the 403 page tells the person why (issue 15): which roles this page is for
        who = "、".join(str(_("经办机构工作人员")) if role == BUREAU else str(Role(role).label) for role in allowed)
        raise PermissionDenied(_("此页面仅供%(who)s使用。") % {"who": who})
