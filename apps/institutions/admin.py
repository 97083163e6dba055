from django.contrib import admin

from apps.core.admin_actions import AgreementForm, BureauAdminAccess, ReasonForm, ServiceModelAdmin, transition_action
from apps.institutions.selectors import institutions_visible_to
from apps.institutions import services
from apps.institutions.models import Institution, PharmacyCommitteeMeeting

STATUS_FIELDS = ["status", "status_changed_at", "agreement_no", "agreement_start", "agreement_end"]


@admin.register(Institution)
class InstitutionAdmin(BureauAdminAccess, ServiceModelAdmin):
    scope = staticmethod(institutions_visible_to)
    list_display = ["code", "name", "region", "level", "hospital_type", "kind", "status", "agreement_end"]
    list_filter = ["status", "level", "kind", "hospital_type", "region__parent"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["region"]
    fieldsets = [
        (None, {"fields": ["code", "name", "region", "address", "contact_name", "contact_phone"]}),
        ("类别", {"fields": ["level", "hospital_type", "specialty", "kind"]}),
        ("纳入条件（R-INS-1）", {"fields": ["has_clinical_department", "sells_at_negotiated_price",
                                        "info_system_capable", "no_penalty_past_year"]}),
        ("退出情形（R-INS-4）", {"fields": ["registration_changed_on", "unable_to_serve_since"]}),
        ("状态与补充协议（通过列表页操作变更）", {"fields": STATUS_FIELDS}),
    ]
    actions = [
        transition_action("纳入（签订补充协议）", AgreementForm, name="admit",
                          call=lambda o, u, **d: services.institution_admit(institution=o, actor=u, **d)),
        transition_action("暂停", ReasonForm, name="suspend",
                          call=lambda o, u, **d: services.institution_suspend(institution=o, actor=u, **d)),
        transition_action("恢复", ReasonForm, name="resume",
                          call=lambda o, u, **d: services.institution_resume(institution=o, actor=u, **d)),
        transition_action("退出", ReasonForm, name="exit",
                          call=lambda o, u, **d: services.institution_exit(institution=o, actor=u, **d)),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [*STATUS_FIELDS, "code"] if obj else STATUS_FIELDS

    def create_via(self, request, data):
        return services.institution_create(actor=request.user, **data)

    def update_via(self, request, current, data):
        return services.institution_update(institution=current, actor=request.user, data=data)


@admin.register(PharmacyCommitteeMeeting)
class PharmacyCommitteeMeetingAdmin(BureauAdminAccess, admin.ModelAdmin):
    list_display = ["institution", "catalogue_version", "catalogue_published_on", "held_on"]
    list_filter = ["catalogue_version"]
    search_fields = ["institution__name", "institution__code"]
    autocomplete_fields = ["institution"]
