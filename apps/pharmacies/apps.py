from django.apps import AppConfig


class PharmaciesConfig(AppConfig):
    name = "apps.pharmacies"
    verbose_name = "定点零售药店"

    def ready(self):
        from auditlog.registry import auditlog

        # models are loaded only now: the selectors cannot be imported when this module is (start-up order)
        from apps.accounts import hooks as accounts_hooks
        from apps.pharmacies.selectors import pharmacies_visible_to

        # R-SEC-1: an administrator assigns accounts only to the organisations they see
        accounts_hooks.pharmacies_visible_to.register(pharmacies_visible_to)

        # R-SEC-3: field-level before/after of every change; the contact phone (encrypted at rest) masked (R-SEC-2)
        auditlog.register(self.get_model("Pharmacy"), mask_fields=["contact_phone"])

        # R-CAT-2: the pharmacy registry's Excel kind (apps.core.excel)
        from apps.core.excel import registry as excel_kinds
        from apps.pharmacies.resources import PHARMACIES

        excel_kinds.register(PHARMACIES)
