"""Sign-in with lockout after repeated failures. Used by the token endpoint and the browser login page."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.core.events import record_event
from apps.core.exceptions import ApplicationError

User = get_user_model()


def _locked_error(user) -> ApplicationError:
    until = timezone.localtime(user.locked_until)
    return ApplicationError(
        "account_locked", f"登录失败次数过多，账号已锁定至 {until:%Y-%m-%d %H:%M}，请稍后再试或联系管理员",
        status=403,
    )


def user_authenticate(*, username: str, password: str, request=None):
    """Check the password; after ``LOGIN_MAX_FAILURES`` consecutive failures the account is locked for
    ``LOGIN_LOCKOUT_MINUTES`` (even the right password is refused while locked)."""
    username = (username or "").strip()
    if not username or not password:
        raise ApplicationError("invalid", "请输入用户名和密码",
                               fields={k: ["必填"] for k, v in (("username", username), ("password", password)) if not v})
    candidate = User.objects.filter(username=username).first()
    now = timezone.now()
    if candidate is not None and candidate.locked_until and candidate.locked_until > now:
        raise _locked_error(candidate)
    user = authenticate(request, username=username, password=password)
    if user is None:
        if candidate is not None:
            _register_failure(candidate)
            candidate.refresh_from_db(fields=["locked_until"])
            if candidate.locked_until and candidate.locked_until > now:
                raise _locked_error(candidate)
        raise ApplicationError("not_authenticated", "用户名或密码错误", status=401)
    if user.failed_login_count or user.locked_until:
        User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
    return user


@transaction.atomic
def _register_failure(user) -> None:
    User.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
    user.refresh_from_db(fields=["failed_login_count"])
    if user.failed_login_count >= settings.LOGIN_MAX_FAILURES:
        until = timezone.now() + dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
        User.objects.filter(pk=user.pk).update(locked_until=until, failed_login_count=0)
        record_event(subject=user, action="account_locked", data={"until": until.isoformat()})


def token_issue(*, username: str, password: str, request=None) -> str:
    user = user_authenticate(username=username, password=password, request=request)
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def user_unlock(*, user, actor) -> None:
    User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
    record_event(subject=user, action="account_unlocked", actor=actor)


# --- user administration by bureau administrators ---------------------------------------------------

USER_FIELDS = ("first_name", "last_name", "email", "phone", "role", "region", "institution", "pharmacy", "is_active")


def _check_in_scope(actor, user) -> None:
    """A bureau administrator manages users of its own region only (R-SEC-1); superusers manage all."""
    if actor is None or actor.is_superuser:
        return
    prefix = actor.region.descendant_prefix if actor.region_id else None
    org_region = (user.region if user.role in ("bureau_admin", "bureau_reviewer")
                  else user.institution.region if user.institution_id
                  else user.pharmacy.region if user.pharmacy_id else None)
    if prefix is None or org_region is None or not org_region.code.startswith(prefix):
        raise ApplicationError("permission_denied", "只能管理本统筹区的用户", status=403)


def _clean(user) -> None:
    from django.core.exceptions import ValidationError

    # a user belongs to exactly one kind of organisation
    if user.role in ("bureau_admin", "bureau_reviewer"):
        user.institution, user.pharmacy = None, None
    elif user.role == "hospital":
        user.region, user.pharmacy = None, None
    elif user.role == "pharmacy":
        user.region, user.institution = None, None
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        raise ApplicationError("invalid", "用户信息有误", fields=exc.message_dict) from None


@transaction.atomic
def user_create(*, actor, username: str, password: str, role: str, **fields):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"未知字段：{'、'.join(sorted(unknown))}")
    user = User(username=(username or "").strip(), role=role, is_staff=role == "bureau_admin", **fields)
    _clean(user)
    _check_in_scope(actor, user)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError("invalid", "密码不符合要求", fields={"password": exc.messages}) from None
    user.set_password(password)
    user.save()
    record_event(subject=user, action="user_created", actor=actor, data={"role": role})
    return user


@transaction.atomic
def user_update(*, actor, user, data: dict, password: str | None = None):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    unknown = set(data) - set(USER_FIELDS)
    if unknown:
        raise ApplicationError("invalid", f"不能修改：{'、'.join(sorted(unknown))}")
    _check_in_scope(actor, user)
    changed = sorted(k for k, v in data.items() if getattr(user, k) != v)
    for key, value in data.items():
        setattr(user, key, value)
    if "role" in data:
        user.is_staff = user.role == "bureau_admin" or user.is_superuser
    _clean(user)
    _check_in_scope(actor, user)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ApplicationError("invalid", "密码不符合要求", fields={"password": exc.messages}) from None
        user.set_password(password)
        changed.append("password")
    if changed:
        user.save()
        record_event(subject=user, action="user_updated", actor=actor, data={"fields": changed})
    return user
