from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150,
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}))
    password = forms.CharField(label=_("密码"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class AdminLoginForm(AdminAuthenticationForm):
    """The Django admin's login form, checked by the one login service (``user_authenticate``): failures count
    toward the lockout and a locked account is refused with the same message as everywhere else (R-SEC-1)."""

    def clean(self):
        from apps.accounts.services import user_authenticate

        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = user_authenticate(username=username, password=password, now=timezone.now(),
                                                    request=self.request)
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ServicePasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change password" page saves through ``user_password_set``: the user's API tokens are revoked
    and the change is an event (R-SEC-1)."""

    def save(self, commit=True):
        from auditlog.context import auditlog_value

        from apps.accounts.services import user_password_set

        try:  # the signed-in administrator, as AuditlogMiddleware put it in this request's context
            actor = (auditlog_value.get() or {}).get("actor")
        except LookupError:
            actor = None
        user_password_set(user=self.user, password=self.cleaned_data["password1"], actor=actor)
        return self.user
