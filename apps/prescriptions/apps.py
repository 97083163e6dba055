from django.apps import AppConfig


class PrescriptionsConfig(AppConfig):
    name = "apps.prescriptions"
    verbose_name = "处方流转"

    def ready(self):
        from auditlog.registry import auditlog

        # R-SEC-3: field-level before/after of prescriptions and the bureau's filings and claims. Dispensings,
        # lines and trace codes are insert-only (a reversal is a new row), their events say who and when.
        auditlog.register(self.get_model("Prescription"), exclude_fields=["downloaded_at"])
        auditlog.register(self.get_model("CrossRegionFiling"))
        auditlog.register(self.get_model("ManualClaim"))
