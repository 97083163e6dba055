from django.apps import AppConfig


class PharmaciesConfig(AppConfig):
    name = "apps.pharmacies"
    verbose_name = "定点零售药店"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change
        auditlog.register(self.get_model("Pharmacy"))

        # issue 3 §1: the pharmacy registry's Excel kind (apps.core.excel)
        from apps.core.excel import registry as excel_kinds
        from apps.pharmacies.resources import PHARMACIES

        excel_kinds.register(PHARMACIES)
