from django import forms
from django.contrib import admin

from apps.core.admin_actions import service_action
from apps.pharmacies import services
from apps.pharmacies.models import Pharmacy
from apps.registries.admin_actions import DesignationAdmin, designation_actions
from apps.pharmacies.selectors import pharmacies_visible_to


class LicenceRevokedForm(forms.Form):
    revoked_on = forms.DateField(label="吊销日期", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label="原因", widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Pharmacy)
class PharmacyAdmin(DesignationAdmin):
    scope = staticmethod(pharmacies_visible_to)
    lifecycle = services.LIFECYCLE
    status_fields = (*DesignationAdmin.status_fields, "trading_licence_valid")
    list_display = ["code", "name", "region", "stocks_cold_chain", "status", "agreement_end"]
    list_filter = ["status", "stocks_cold_chain", "trading_licence_valid", "region__parent"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["region"]
    fieldsets = [
        (None, {"fields": ["code", "name", "region", "address", "contact_name", "contact_phone", "licence_no"]}),
        ("纳入条件", {"fields": ["has_business_licence", "has_dedicated_storage", "stocks_cold_chain",
                                        "has_cold_storage", "sells_at_or_below_price", "has_licensed_pharmacist",
                                        "traceability_capable", "delivery_capable", "no_penalty_past_year"]}),
        ("退出情形", {"fields": ["registration_changed_on", "unable_to_serve_since"]}),
        ("状态与补充协议（通过列表页操作变更）", {"fields": list(status_fields)}),
    ]
    actions = [
        *designation_actions(services.LIFECYCLE),
        service_action("登记药品经营许可吊销（退出）", LicenceRevokedForm, services.pharmacy_revoke_licence,
                       name="revoke_licence", subject="pharmacy"),
    ]
