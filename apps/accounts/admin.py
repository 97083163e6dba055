from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from apps.accounts import hooks
from apps.accounts.forms import ServicePasswordChangeForm
from apps.accounts.models import User
from apps.accounts.selectors import users_visible_to
from apps.accounts.services import user_unlock
from apps.core.admin_actions import BureauAdminAccess
from apps.core.selectors import regions_under


@admin.register(User)
class UserAdmin(BureauAdminAccess, BaseUserAdmin):
    scope = staticmethod(users_visible_to)
    list_display = ["username", "first_name", "role", "region", "institution", "pharmacy", "is_active",
                    "locked_until", "last_login"]
    list_filter = ["role", "is_active", "is_staff", "region"]
    search_fields = ["username", "first_name", "last_name", "email", "institution__name", "pharmacy__name"]
    autocomplete_fields = ["region", "institution", "pharmacy"]
    readonly_fields = ["failed_login_count", "locked_until", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("个人信息"), {"fields": ["first_name", "last_name", "email", "phone"]}),
        (_("角色与所属机构"), {"fields": ["role", "region", "institution", "pharmacy"]}),
        (_("权限"), {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        (_("登录"), {"fields": ["failed_login_count", "locked_until", "last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "password1", "password2", "role", "region", "institution",
                                                "pharmacy", "first_name"]}),
    ]
    actions = ["unlock"]
    change_password_form = ServicePasswordChangeForm  # revokes the user's API tokens (R-SEC-1)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "is_staff", "groups"]
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Only the administrator's own region, institutions and pharmacies can be chosen (R-SEC-1)."""
        if not request.user.is_superuser:
            scopes = {"region": lambda u: regions_under(u.scope_region),
                      "institution": lambda u: hooks.institutions_visible_to.call(user=u),
                      "pharmacy": lambda u: hooks.pharmacies_visible_to.call(user=u)}
            if db_field.name in scopes:
                kwargs["queryset"] = scopes[db_field.name](request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.is_staff = obj.role == "bureau_admin"
        super().save_model(request, obj, form, change)

    @admin.action(description=_("解除登录锁定"))
    def unlock(self, request, queryset):
        for user in queryset:
            user_unlock(user=user, actor=request.user)
        self.message_user(request, f"已解除 {queryset.count()} 个账号的锁定", messages.SUCCESS)
