"""The catalogue in the Django admin (Chinese). Saves go through the services (R-CAT-3 versioning, events);
withdrawal is an action asking for its 第十七、十八条 ground; the Excel import with preview → confirm lives on
the catalogue's import page (linked from the change list), which uses the same engine as the API."""
from django import forms
from django.contrib import admin
from django.utils import timezone

from apps.catalogue import services
from apps.catalogue.models import Drug, ImportAudit, ImportRun, PaymentStandard, TherapeuticArea
from apps.catalogue.selectors import import_audits_visible_to, import_runs_visible_to
from apps.core.admin_actions import BureauAdminAccess, ReadOnlyAdminMixin, ServiceModelAdmin, transition_action
from apps.core.admin_figures import FiguresAdminMixin


class WithdrawActionForm(forms.Form):
    withdrawn_on = forms.DateField(label="调出日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reason = forms.ChoiceField(label="调出原因", choices=Drug.WithdrawalReason.choices)
    note = forms.CharField(label="说明", required=False)


class PaymentStandardInline(admin.TabularInline):
    model = PaymentStandard
    extra = 0
    can_delete = False
    fields = ["amount", "valid_from", "valid_until", "source", "created_by", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


WITHDRAWAL_FIELDS = ["withdrawn_on", "withdrawal_reason", "withdrawal_note", "withdrawn_by", "withdrawal_recorded_at"]


@admin.register(Drug)
class DrugAdmin(FiguresAdminMixin, BureauAdminAccess, ServiceModelAdmin):
    change_list_template = "admin/catalogue/drug/change_list.html"
    list_display = ["code", "generic_name", "dosage_form", "specification", "manufacturer", "category",
                    "therapeutic_area", "payment_standard", "agreement_end", "withdrawn_on"]
    list_filter = ["category", "therapeutic_area", "route", "cold_chain"]
    search_fields = ["code", "generic_name", "manufacturer"]
    inlines = [PaymentStandardInline]
    reference_data = True  # the national catalogue: read by every administrator, written by a system-wide role (§5)
    fieldsets = [
        (None, {"fields": ["code", "generic_name", "dosage_form", "specification", "manufacturer"]}),
        ("目录属性", {"fields": ["category", "therapeutic_area", "route", "cold_chain", "restricted_scope",
                              "agreement_start", "agreement_end"]}),
        ("支付（修改支付标准自今日生效，原标准至昨日止）", {"fields": ["payment_standard", "first_self_pay_ratio"]}),
        ("调出（通过“调出目录”操作登记）", {"fields": WITHDRAWAL_FIELDS}),
    ]
    actions = [transition_action(
        "调出目录", WithdrawActionForm, name="withdraw",
        call=lambda o, u, **d: services.drug_withdraw(drug=o, actor=u, now=timezone.now(), **d))]

    def get_readonly_fields(self, request, obj=None):
        return [*WITHDRAWAL_FIELDS, "code"] if obj else WITHDRAWAL_FIELDS

    def create_via(self, request, data):
        return services.drug_create(actor=request.user, **data)

    def update_via(self, request, current, data):
        return services.drug_update(drug=current, actor=request.user, effective_date=timezone.localdate(), **data)


@admin.register(TherapeuticArea)
class TherapeuticAreaAdmin(BureauAdminAccess, admin.ModelAdmin):
    reference_data = True
    list_display = ["code", "name", "group"]
    search_fields = ["code", "name"]


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdminMixin, BureauAdminAccess, admin.ModelAdmin):
    """The import log, read-only (who, when, file, counts, errors)."""

    list_display = ["created_at", "kind", "file_name", "created_by", "status", "created_count", "updated_count",
                    "unchanged_count", "error_count"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in ImportRun._meta.fields]
    scope = staticmethod(import_runs_visible_to)


@admin.register(ImportAudit)
class ImportAuditAdmin(ReadOnlyAdminMixin, BureauAdminAccess, admin.ModelAdmin):
    """One audit record per applied import (R-SEC-3, issue 16): file, SHA-256, who, when, counts; the rows' changes
    are looked up by drug code on the catalogue's 导入变更查询 page (the change log is compressed JSON lines)."""

    list_display = ["applied_at", "kind", "file_name", "file_sha256", "actor", "created_count", "updated_count",
                    "changes_link"]
    list_filter = ["kind"]
    search_fields = ["file_name", "file_sha256"]
    readonly_fields = ["run", "kind", "file_name", "file_sha256", "actor", "applied_at", "created_count",
                       "updated_count", "changes_link"]
    exclude = ["change_log"]
    scope = staticmethod(import_audits_visible_to)

    @admin.display(description="逐行变更")
    def changes_link(self, obj):
        from django.urls import reverse
        from django.utils.html import format_html

        return format_html('<a href="{}">{}</a>', reverse("catalogue:import_changes"), "按药品代码查询")
