"""Sign-in with lockout after repeated failures: the one login service behind every door — the token endpoint,
the browser login page and the Django admin login (through ``LockoutBackend``, so any ``authenticate()`` call)."""
from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.core.events import EventAction, record_event
from apps.core.exceptions import ApplicationError

User = get_user_model()


def _locked_error(until) -> ApplicationError:
    until = timezone.localtime(until)
    return ApplicationError(
        "account_locked", f"登录失败次数过多，账号已锁定至 {until:%Y-%m-%d %H:%M}，请稍后再试或联系管理员",
        status=403,
    )


def _bad_credentials() -> ApplicationError:
    return ApplicationError("not_authenticated", "用户名或密码错误", status=401)


def _unknown_name_key(username: str) -> str:
    return "login-unknown:" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


def _unknown_username_attempt(username: str, password: str, now) -> ApplicationError:
    """An unknown username answers exactly like a known one (R-SEC-1): the same "wrong password"
    error, a password hash computed all the same, and after ``LOGIN_MAX_FAILURES`` the same lock message, counted
    with an atomic cache increment."""
    make_password(password)  # same work as checking a real password, so timing tells nothing either
    key = _unknown_name_key(username)
    window = settings.LOGIN_LOCKOUT_MINUTES * 60
    state = cache.get(key)
    if state and state.get("until") and state["until"] > now:
        return _locked_error(state["until"])
    cache.add(key + ":n", 0, timeout=window)
    try:
        count = cache.incr(key + ":n")
    except ValueError:  # expired between add and incr
        cache.set(key + ":n", 1, timeout=window)
        count = 1
    if count >= settings.LOGIN_MAX_FAILURES:
        until = now + dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
        cache.set(key, {"until": until}, timeout=window)
        cache.delete(key + ":n")
        return _locked_error(until)
    return _bad_credentials()


def user_authenticate(*, username: str, password: str, now: dt.datetime, request=None):
    """Check the password; after ``LOGIN_MAX_FAILURES`` consecutive failures the account is locked for
    ``LOGIN_LOCKOUT_MINUTES`` (even the right password is refused while locked, and its API tokens are revoked).

    The user's row is locked (``SELECT … FOR UPDATE``) before the password is checked, so parallel attempts are
    counted one after the other: once the limit is reached no further password is even checked, and a right
    password arriving in the same burst cannot clear a lock another attempt has just set (R-SEC-1). ``now`` is the
    moment of the attempt, given by the edge (login view, API token view, authentication backend)."""
    username = (username or "").strip()
    if not username or not password:
        raise ApplicationError("invalid", "请输入用户名和密码",
                               fields={k: ["必填"] for k, v in (("username", username), ("password", password)) if not v})
    error = None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            error = _unknown_username_attempt(username, password, now)
        elif user.locked_until and user.locked_until > now:
            error = _locked_error(user.locked_until)
        elif user.check_password(password) and user.is_active:
            if user.failed_login_count or user.locked_until:
                User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
                user.failed_login_count, user.locked_until = 0, None
            return user
        else:
            error = _register_failure(user, now=now)
    # raised outside the transaction: the failure count and the lock are committed
    raise error


def _register_failure(user, *, now) -> ApplicationError:
    """Called with the user's row locked. Returns the error to answer with."""
    count = user.failed_login_count + 1
    if count < settings.LOGIN_MAX_FAILURES:
        User.objects.filter(pk=user.pk).update(failed_login_count=count)
        return _bad_credentials()
    until = now + dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    User.objects.filter(pk=user.pk).update(locked_until=until, failed_login_count=0)
    revoked = tokens_revoke(user=user)
    record_event(subject=user, action=EventAction.ACCOUNT_LOCKED, data={"until": until.isoformat(), "tokens_revoked": revoked},
                 now=now)
    return _locked_error(until)


# --- API tokens (django-rest-knox: stored hashed, expiring, revocable; R-SEC-1) -------------------------

def token_issue(*, username: str, password: str, now: dt.datetime, request=None) -> str:
    """API.md: ``POST /api/v1/auth/token/`` → ``{"token": …}``. A new token per sign-in, valid for
    ``REST_KNOX["TOKEN_TTL"]``; expired tokens of the user are deleted and at most ``API_TOKENS_PER_USER`` stay."""
    from knox.models import AuthToken

    user = user_authenticate(username=username, password=password, now=now, request=request)
    with transaction.atomic():
        AuthToken.objects.filter(user=user, expiry__lt=now).delete()
        keep = settings.API_TOKENS_PER_USER - 1
        surplus = list(AuthToken.objects.filter(user=user).order_by("-created").values_list("digest", flat=True)[keep:])
        if surplus:
            AuthToken.objects.filter(digest__in=surplus).delete()
        _, key = AuthToken.objects.create(user=user)
    return key


def tokens_revoke(*, user) -> int:
    """Delete every API token of ``user`` (password change, lockout, deactivation). Returns how many."""
    from knox.models import AuthToken

    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def user_password_set(*, user, password: str, actor=None) -> None:
    """A new password (by the user or an administrator) revokes the user's API tokens and unlocks the account."""
    user.set_password(password)
    user.failed_login_count, user.locked_until = 0, None
    user.save(update_fields=["password", "failed_login_count", "locked_until"])
    revoked = tokens_revoke(user=user)
    record_event(subject=user, action=EventAction.PASSWORD_CHANGED, actor=actor, data={"tokens_revoked": revoked})


@transaction.atomic
def user_unlock(*, user, actor) -> None:
    User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
    record_event(subject=user, action=EventAction.ACCOUNT_UNLOCKED, actor=actor)


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
    record_event(subject=user, action=EventAction.USER_CREATED, actor=actor, data={"role": role})
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
        changed.append("password")
    if changed:
        user.save()
        record_event(subject=user, action=EventAction.USER_UPDATED, actor=actor, data={"fields": changed})
    if password:
        user_password_set(user=user, password=password, actor=actor)
    if "is_active" in data and not user.is_active:
        tokens_revoke(user=user)
    return user
