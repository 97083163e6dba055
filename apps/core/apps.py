from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    verbose_name = "基础数据"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change
        auditlog.register(self.get_model("Region"))
        auditlog.register(self.get_model("CalendarDay"))
        auditlog.register(self.get_model("RegionSettings"))
        auditlog.register(self.get_model("Sanction"))
