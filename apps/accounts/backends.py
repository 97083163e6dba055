"""The Django authentication backend: every ``django.contrib.auth.authenticate()`` call (the admin login, the test
client's ``login()``, anything added later) goes through the one login service and its lockout (R-SEC-1)."""
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from apps.core.exceptions import ApplicationError


class LockoutBackend(ModelBackend):
    """``ModelBackend`` whose password check is ``user_authenticate``: failures are counted, a locked account is
    refused even with the right password. Sessions and permissions work as with ``ModelBackend``."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from apps.accounts.services import user_authenticate

        if username is None:
            username = kwargs.get(self.user_model_field_name())
        if username is None or password is None:
            return None
        try:
            user = user_authenticate(username=username, password=password, now=timezone.now(), request=request)
        except ApplicationError:
            return None
        return user

    @staticmethod
    def user_model_field_name():
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
