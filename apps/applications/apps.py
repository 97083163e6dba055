from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apps.applications"
    verbose_name = "待遇申请"

    def ready(self):
        from auditlog.registry import auditlog

        # models are loaded only now: the services module cannot be imported when this module is (start-up order)
        from apps.applications.selectors import dual_channel_patient_counts
        from apps.applications.services import (
            application_terminate_for_drug_withdrawal,
            deadlines_recompute_provisional,
        )
        from apps.core import hooks as core_hooks
        from apps.catalogue import hooks as catalogue_hooks
        from apps.registries import hooks as registries_hooks

        # R-CAT-5: a withdrawn drug ends the active treatment applications for it
        catalogue_hooks.drug_withdrawn.register(application_terminate_for_drug_withdrawal)
        # R-APP-5: importing a year's official holiday arrangement recomputes provisional due dates
        core_hooks.calendar_arrangement_imported.register(deadlines_recompute_provisional)
        # R-INS-4: the registries' exit flags count the dual-channel patients of an organisation
        registries_hooks.dual_channel_patient_counts.register(dual_channel_patient_counts)

        # R-PAY-3 step 4: the core system's monthly export of other fund use, through the kernel's Excel engine
        from apps.applications.resources import OTHER_FUND_USE
        from apps.core.excel import registry as excel_registry

        excel_registry.register(OTHER_FUND_USE)

        # R-SEC-3: field-level before/after of every change (business actions also go to core.Event)
        auditlog.register(self.get_model("InsuredPerson"))
        auditlog.register(self.get_model("Application"))
        auditlog.register(self.get_model("ApplicationReview"))
        auditlog.register(self.get_model("ApplicationDocument"))
        auditlog.register(self.get_model("OtherFundUse"))
        auditlog.register(self.get_model("ManufacturerSwitch"))
