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
