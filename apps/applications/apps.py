from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apps.applications"
    verbose_name = "待遇申请"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change (business actions also go to core.Event)
        auditlog.register(self.get_model("InsuredPerson"))
        auditlog.register(self.get_model("Application"))
        auditlog.register(self.get_model("ApplicationReview"))
        auditlog.register(self.get_model("ApplicationDocument"))
