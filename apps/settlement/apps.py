from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "apps.settlement"
    verbose_name = "结算与统计"

    def ready(self):
        from auditlog.registry import auditlog

        # models are loaded only now: the selectors cannot be imported when this module is (start-up order)
        from apps.prescriptions import hooks as prescriptions_hooks
        from apps.registries import hooks as registries_hooks
        from apps.settlement.money_services import sanction_recorded
        from apps.settlement.selectors import first_open_period

        # R-SET-1: entries dated in a confirmed (locked) month count in the next open month
        prescriptions_hooks.first_open_period.register(first_open_period)
        # R-SET-5: a money sanction recorded anywhere (registry page, API, admin action) reaches the next statement
        registries_hooks.sanction_recorded.register(sanction_recorded)

        # R-SEC-3: confirmation of statements and the stocking / reconciliation records keep their before/after.
        # (A run's bulk SQL writes are recorded by its settlement_run_* events instead.)
        auditlog.register(self.get_model("Statement"), include_fields=["status", "confirmed_at", "confirmed_by"])
        auditlog.register(self.get_model("StockingReport"))
        auditlog.register(self.get_model("ReconciliationDifference"),
                          include_fields=["status", "resolution", "resolved_at", "resolved_by"])
        auditlog.register(self.get_model("CataloguePublication"))
