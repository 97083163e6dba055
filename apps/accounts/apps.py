from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    verbose_name = "用户与权限"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change
        auditlog.register(self.get_model("User"), exclude_fields=["password", "last_login", "failed_login_count", "locked_until"])
