from django.apps import AppConfig


class PhysiciansConfig(AppConfig):
    name = "apps.physicians"
    verbose_name = "责任医师"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change
        auditlog.register(self.get_model("Physician"), m2m_fields={"therapeutic_areas"},
                          mask_fields=["phone"])  # encrypted at rest: masked in the audit rows too (R-SEC-2)

        # R-CAT-2: the physician registry's Excel kind (apps.core.excel)
        from apps.core.excel import registry as excel_kinds
        from apps.physicians.resources import PHYSICIANS

        excel_kinds.register(PHYSICIANS)
