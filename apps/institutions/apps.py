from django.apps import AppConfig


class InstitutionsConfig(AppConfig):
    name = "apps.institutions"
    verbose_name = "定点医疗机构"

    def ready(self):
        from auditlog.registry import auditlog

        # models are loaded only now: the selectors cannot be imported when this module is (start-up order)
        from apps.accounts import hooks as accounts_hooks
        from apps.institutions.selectors import institutions_visible_to

        # R-SEC-1: an administrator assigns accounts only to the organisations they see
        accounts_hooks.institutions_visible_to.register(institutions_visible_to)

        # R-SEC-3: field-level before/after of every change; the contact phone (encrypted at rest) masked (R-SEC-2)
        auditlog.register(self.get_model("Institution"), mask_fields=["contact_phone"])

        # R-CAT-2: the institution registry's Excel kind (apps.core.excel)
        from apps.core.excel import registry as excel_kinds
        from apps.institutions.resources import INSTITUTIONS

        excel_kinds.register(INSTITUTIONS)
        auditlog.register(self.get_model("PharmacyCommitteeMeeting"))
