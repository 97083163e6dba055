from django.apps import AppConfig


class InstitutionsConfig(AppConfig):
    name = "apps.institutions"
    verbose_name = "定点医疗机构"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change
        auditlog.register(self.get_model("Institution"))
        auditlog.register(self.get_model("PharmacyCommitteeMeeting"))
