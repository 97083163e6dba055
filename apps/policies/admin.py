from django.contrib import admin

from apps.core.admin_actions import BureauAdminAccess, ServiceModelAdmin
from apps.core.selectors import region_q
from apps.policies.selectors import policies_visible_to
from apps.policies.models import PaymentPolicy
from apps.policies.services import VALUE_FIELDS, policy_create, policy_update


@admin.register(PaymentPolicy)
class PaymentPolicyAdmin(BureauAdminAccess, ServiceModelAdmin):
    scope = staticmethod(policies_visible_to)  # reads: its region's policies and those above that apply to it
    # writes: only its own region's and those below (a city administrator cannot change the province's policy)
    write_scope = staticmethod(lambda user: PaymentPolicy.objects.filter(region_q(user.region, "region")))
    list_display = ["name", "region", "preset", "valid_from", "valid_until", "deductible_outpatient_employee",
                    "ratio_outpatient_employee", "ratio_outpatient_resident", "annual_cap_employee",
                    "annual_cap_resident"]
    list_filter = ["preset", "region"]
    search_fields = ["name", "region__name", "region__code"]
    autocomplete_fields = ["region"]
    fieldsets = [
        (None, {"fields": ["region", "name", "preset", "valid_from", "valid_until", "source"]}),
        ("起付线（元/年）", {"fields": [f for f in VALUE_FIELDS if f.startswith("deductible")]}),
        ("报销比例", {"fields": [f for f in VALUE_FIELDS if f.startswith("ratio")]}),
        ("年度基金支付限额（空 = 不设）", {"fields": [f for f in VALUE_FIELDS if f.startswith("annual_cap")]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["region", "preset", "valid_from"] if obj else []

    def create_via(self, request, data):
        return policy_create(actor=request.user, **data)

    def update_via(self, request, current, data):
        return policy_update(policy=current, actor=request.user, data=data)
