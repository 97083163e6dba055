from django.contrib import admin

from apps.core.admin_actions import BureauAdminAccess
from apps.institutions import services
from apps.institutions.models import Institution, PharmacyCommitteeMeeting
from apps.registries.admin_actions import DesignationAdmin, designation_actions
from apps.institutions.selectors import institutions_visible_to


@admin.register(Institution)
class InstitutionAdmin(DesignationAdmin):
    scope = staticmethod(institutions_visible_to)
    lifecycle = services.LIFECYCLE
    list_display = ["code", "name", "region", "level", "hospital_type", "kind", "status", "agreement_end"]
    list_filter = ["status", "level", "kind", "hospital_type", "region__parent"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["region"]
    fieldsets = [
        (None, {"fields": ["code", "name", "region", "address", "contact_name", "contact_phone"]}),
        ("类别", {"fields": ["level", "hospital_type", "specialty", "kind", "is_public", "grade_a", "is_key_hospital"]}),
        ("纳入条件", {"fields": ["has_clinical_department", "sells_at_negotiated_price",
                                        "info_system_capable", "no_penalty_past_year"]}),
        ("退出情形", {"fields": ["registration_changed_on", "unable_to_serve_since"]}),
        ("状态与补充协议（通过列表页操作变更）", {"fields": list(DesignationAdmin.status_fields)}),
    ]
    actions = designation_actions(services.LIFECYCLE)


@admin.register(PharmacyCommitteeMeeting)
class PharmacyCommitteeMeetingAdmin(BureauAdminAccess, admin.ModelAdmin):
    scope_fields = {"region_fields": ("institution__region",), "institution_field": "institution_id",
                    "pharmacy_field": None}
    list_display = ["institution", "catalogue_version", "catalogue_published_on", "held_on"]
    list_filter = ["catalogue_version"]
    search_fields = ["institution__name", "institution__code"]
    autocomplete_fields = ["institution"]
