from django.apps import AppConfig


class ProcurementConfig(AppConfig):
    name = "apps.procurement"
    verbose_name = "带量采购"

    def ready(self):
        from auditlog.registry import auditlog

        from apps.procurement.importing import register_kinds

        register_kinds()  # the section 10 import kinds on the shared Excel engine (templates and exports too)

        # R-SEC-3: field-level before/after of the bureau's procurement records (purchases, repayments and fund
        # entries are append-only; their creation is recorded by the services' events).
        auditlog.register(self.get_model("ProcurementRound"))
        auditlog.register(self.get_model("WinningProduct"))
        auditlog.register(self.get_model("Contract"))
        auditlog.register(self.get_model("ProcurementSettings"))
