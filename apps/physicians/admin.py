from django.utils import timezone
from django import forms
from django.contrib import admin

from apps.core.admin_actions import LifecycleAdmin, OptionalReasonForm, ReasonForm, transition_action
from apps.physicians import services
from apps.physicians.models import Physician
from apps.physicians.selectors import physicians_visible_to

STATUS_FIELDS = ["status", "status_changed_at", "filed_on", "revoked_on", "proposed_by"]


class FileForm(forms.Form):
    filed_on = forms.DateField(label="备案日期", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               help_text="默认今天")
    valid_until = forms.DateField(label="备案有效期至", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label="说明", required=False)


@admin.register(Physician)
class PhysicianAdmin(LifecycleAdmin):
    scope = staticmethod(physicians_visible_to)
    status_fields = tuple(STATUS_FIELDS)
    fixed_after_create = ("code", "institution")
    list_display = ["code", "name", "institution", "department", "title", "is_certifying", "is_treating", "status",
                    "filed_on"]
    list_filter = ["status", "title", "is_certifying", "therapeutic_areas", "institution__region__parent"]
    search_fields = ["code", "name", "department", "institution__name"]
    autocomplete_fields = ["institution"]
    filter_horizontal = ["therapeutic_areas"]
    fieldsets = [
        (None, {"fields": ["code", "name", "institution", "department", "title", "phone", "practice_licence_no"]}),
        ("角色与领域", {"fields": ["is_certifying", "is_treating", "therapeutic_areas"]}),
        ("资格", {"fields": ["no_insurance_sanction_3y", "no_pharmacy_incident_3y"]}),
        ("备案（通过列表页操作变更）", {"fields": [*STATUS_FIELDS, "filing_valid_until"]}),
    ]
    actions = [
        transition_action("备案", FileForm, name="file",
                          call=lambda o, u, **d: services.physician_file(physician=o, actor=u, now=timezone.now(), **d)),
        transition_action("不予备案", ReasonForm, name="reject",
                          call=lambda o, u, **d: services.physician_reject_filing(physician=o, actor=u, now=timezone.now(), **d)),
        transition_action("暂停", ReasonForm, name="suspend",
                          call=lambda o, u, **d: services.physician_suspend(physician=o, actor=u, now=timezone.now(), **d)),
        transition_action("恢复", ReasonForm, name="resume",
                          call=lambda o, u, **d: services.physician_resume(physician=o, actor=u, now=timezone.now(), **d)),
        transition_action("撤销备案", ReasonForm, name="revoke",
                          call=lambda o, u, **d: services.physician_revoke(physician=o, actor=u, now=timezone.now(), **d)),
        transition_action("置为过期（有效期已届满）", OptionalReasonForm, name="expire",
                          call=lambda o, u, **d: services.physician_expire(physician=o, actor=u, today=timezone.localdate())),
    ]

    def create_via(self, request, data):
        fields = {k: v for k, v in data.items() if k != "filing_valid_until"}
        return services.physician_propose(actor=request.user, now=timezone.now(), **fields)

    def update_via(self, request, current, data):
        areas = data.pop("therapeutic_areas", None)
        return services.physician_update(physician=current, actor=request.user, data=data, therapeutic_areas=areas)
