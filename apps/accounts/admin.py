from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import User
from apps.accounts.services import user_unlock


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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

    @admin.action(description=_("解除登录锁定"))
    def unlock(self, request, queryset):
        for user in queryset:
            user_unlock(user=user, actor=request.user)
        self.message_user(request, f"已解除 {queryset.count()} 个账号的锁定", messages.SUCCESS)
