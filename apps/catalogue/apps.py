from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "apps.catalogue"
    verbose_name = "药品目录"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of every change
        auditlog.register(self.get_model("TherapeuticArea"))
        auditlog.register(self.get_model("Drug"))
        auditlog.register(self.get_model("PaymentStandard"))

        # R-CAT-2: the catalogue's Excel kind, known to the engine by registration (apps.core.excel)
        from apps.catalogue.resources import DRUGS
        from apps.core.excel import registry as excel_kinds

        excel_kinds.register(DRUGS)
