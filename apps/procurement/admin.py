"""Admin of procurement: settings per region editable; the business records read-only (they change through the
services: imports, decomposition, repayments, fund entries are append-only, R-VBP-4)."""
from django.contrib import admin

from apps.procurement import models


@admin.register(models.ProcurementSettings)
class ProcurementSettingsAdmin(admin.ModelAdmin):
    list_display = ("region", "pace_margin", "low_use_threshold", "repayment_days", "repeat_overdue_count")


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.ProcurementRound)
class RoundAdmin(ReadOnly):
    list_display = ("code", "name", "region", "created_at")


@admin.register(models.WinningProduct)
class WinningProductAdmin(ReadOnly):
    list_display = ("code", "generic_name", "dosage_form", "specification", "firm_count", "winning_price",
                    "execution_date", "cycle_years", "extended")
    list_filter = ("round",)
    search_fields = ("code", "generic_name")


@admin.register(models.Contract)
class ContractAdmin(ReadOnly):
    list_display = ("product", "cycle_year", "starts_on", "ends_on", "agreed_volume")


@admin.register(models.Agreement)
class AgreementAdmin(ReadOnly):
    list_display = ("contract", "institution", "base_quantity", "agreed_volume")


@admin.register(models.Purchase)
class PurchaseAdmin(ReadOnly):
    list_display = ("invoice_no", "institution", "product", "firm", "is_winning", "quantity", "amount",
                    "invoice_date", "due_on")
    search_fields = ("invoice_no",)
    date_hierarchy = "invoice_date"


@admin.register(models.Repayment)
class RepaymentAdmin(ReadOnly):
    list_display = ("purchase", "paid_on", "amount", "source", "recorded_by")


@admin.register(models.FundEntry)
class FundEntryAdmin(ReadOnly):
    list_display = ("account", "kind", "amount", "occurred_on", "counterparty", "reference")
    list_filter = ("kind",)
