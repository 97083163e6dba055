from django import forms
from django.contrib import admin

from apps.core.admin_actions import AgreementForm, BureauAdminAccess, ReasonForm, ServiceModelAdmin, transition_action
from apps.pharmacies.selectors import pharmacies_visible_to
from apps.pharmacies import services
from apps.pharmacies.models import Pharmacy

STATUS_FIELDS = ["status", "status_changed_at", "agreement_no", "agreement_start", "agreement_end",
                 "trading_licence_valid"]


class LicenceRevokedForm(forms.Form):
    revoked_on = forms.DateField(label="吊销日期", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label="原因", widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Pharmacy)
class PharmacyAdmin(BureauAdminAccess, ServiceModelAdmin):
    scope = staticmethod(pharmacies_visible_to)
    list_display = ["code", "name", "region", "stocks_cold_chain", "status", "agreement_end"]
    list_filter = ["status", "stocks_cold_chain", "trading_licence_valid", "region__parent"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["region"]
    fieldsets = [
        (None, {"fields": ["code", "name", "region", "address", "contact_name", "contact_phone", "licence_no"]}),
        ("纳入条件（R-PHA-1）", {"fields": ["has_business_licence", "has_dedicated_storage", "stocks_cold_chain",
                                        "has_cold_storage", "sells_at_or_below_price", "has_licensed_pharmacist",
                                        "traceability_capable", "delivery_capable", "no_penalty_past_year"]}),
        ("退出情形（R-INS-4）", {"fields": ["registration_changed_on", "unable_to_serve_since"]}),
        ("状态与补充协议（通过列表页操作变更）", {"fields": STATUS_FIELDS}),
    ]
    actions = [
        transition_action("纳入（签订补充协议）", AgreementForm, name="admit",
                          call=lambda o, u, **d: services.pharmacy_admit(pharmacy=o, actor=u, **d)),
        transition_action("暂停", ReasonForm, name="suspend",
                          call=lambda o, u, **d: services.pharmacy_suspend(pharmacy=o, actor=u, **d)),
        transition_action("恢复", ReasonForm, name="resume",
                          call=lambda o, u, **d: services.pharmacy_resume(pharmacy=o, actor=u, **d)),
        transition_action("退出", ReasonForm, name="exit",
                          call=lambda o, u, **d: services.pharmacy_exit(pharmacy=o, actor=u, **d)),
        transition_action("登记药品经营许可吊销（退出）", LicenceRevokedForm, name="revoke_licence",
                          call=lambda o, u, **d: services.pharmacy_revoke_licence(pharmacy=o, actor=u, **d)),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [*STATUS_FIELDS, "code"] if obj else STATUS_FIELDS

    def create_via(self, request, data):
        return services.pharmacy_create(actor=request.user, **data)

    def update_via(self, request, current, data):
        return services.pharmacy_update(pharmacy=current, actor=request.user, data=data)
