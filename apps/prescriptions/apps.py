from django.apps import AppConfig


class PrescriptionsConfig(AppConfig):
    name = "apps.prescriptions"
    verbose_name = "处方流转"

    def ready(self):
        from auditlog.registry import auditlog

        from apps.applications import hooks as applications_hooks
        from apps.prescriptions.sql_reads import patient_years_lock

        # R-PAY-3 step 4: recording other fund use holds the same year accumulators as a dispensing
        applications_hooks.patient_year_lock.register(patient_years_lock)

        # R-SEC-3: field-level before/after of the bureau's filings and claims. Prescriptions change only by their
        # state machine (status + reason), and every transition writes a core.Event with who, when, from_status,
        # to_status and reason in the same transaction: that is their audit record, without auditlog's extra
        # SELECT and diff on the upload/dispense hot path. Dispensings, lines and trace codes are insert-only
        # (a reversal is a new row).
        auditlog.register(self.get_model("CrossRegionFiling"))
        auditlog.register(self.get_model("ManualClaim"))
