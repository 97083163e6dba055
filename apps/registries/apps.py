from django.apps import AppConfig


class RegistriesConfig(AppConfig):
    """The layer shared by the registries (institutions, pharmacies, physicians): the designation lifecycle of
    institutions and pharmacies, its REST viewset, browser pages and admin actions. No models of its own (the
    ``DesignatedOrganisation`` base, ``DesignationStatus`` and ``Sanction`` stay in ``apps.core.models`` with
    their tables)."""

    name = "apps.registries"
    verbose_name = "定点登记（共用）"
