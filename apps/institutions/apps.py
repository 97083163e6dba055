from django.apps import AppConfig


class InstitutionsConfig(AppConfig):
    name = "apps.institutions"
    verbose_name = "定点医疗机构"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change
        auditlog.register(self.get_model("Institution"))

        # issue 3 §1: the institution registry's Excel kind (apps.core.excel)
        from apps.core.excel import registry as excel_kinds
        from apps.institutions.resources import INSTITUTIONS

        excel_kinds.register(INSTITUTIONS)
        auditlog.register(self.get_model("PharmacyCommitteeMeeting"))
