"""Read-mostly admin for settlement records; every change goes through the services (browser screens, API)."""
from django.contrib import admin

from apps.core.admin_actions import BureauAdminAccess, ReadOnlyAdminMixin
from apps.core.admin_figures import FiguresAdminMixin

from apps.settlement.money_selectors import rectifications_visible_to
from apps.settlement.models import (
    CataloguePublication, DepositEntry, InstitutionMonthlyReport, MonthlyReportSnapshot, RectificationFollowUp,
    ReconciliationDifference, ReportedTotal, SettlementRun, Statement, StatementAdjustment, StockingReport,
    WardPayment,
)


class ReadOnlyAdmin(ReadOnlyAdminMixin, FiguresAdminMixin, BureauAdminAccess, admin.ModelAdmin):
    pass


@admin.register(SettlementRun)
class SettlementRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "period", "status", "progress", "statements_written", "lines_written", "started_by",
                    "created_at", "finished_at"]
    list_filter = ["status", "period"]


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("institution__region", "pharmacy__region")}
    list_display = ["period", "organisation_kind", "institution", "pharmacy", "visits", "total", "fund_payment",
                    "deposit", "payable", "status"]
    list_filter = ["period", "organisation_kind", "status"]
    search_fields = ["institution__name", "institution__code", "pharmacy__name", "pharmacy__code"]
    list_select_related = ["institution", "pharmacy"]


@admin.register(StockingReport)
class StockingReportAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("institution__region",), "pharmacy_field": None}
    list_display = ["institution", "drug", "kind", "listed_on", "ended_on"]
    list_filter = ["kind"]
    search_fields = ["institution__name", "drug__generic_name", "drug__code"]


@admin.register(ReconciliationDifference)
class ReconciliationDifferenceAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("institution__region", "pharmacy__region")}
    list_display = ["period", "kind", "pharmacy", "institution", "drug", "detail", "status"]
    list_filter = ["period", "kind", "status"]


@admin.register(ReportedTotal)
class ReportedTotalAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("institution__region", "pharmacy__region")}
    list_display = ["period", "organisation_kind", "institution", "pharmacy", "drug", "quantity", "total",
                    "fund_payment"]


@admin.register(CataloguePublication)
class CataloguePublicationAdmin(ReadOnlyAdmin):
    reference_data = True  # the national catalogue's publications
    list_display = ["version", "published_on"]


@admin.register(MonthlyReportSnapshot)
class MonthlyReportSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["period", "compiled_at"]


# --------------------------------------------------------------------------- money (R-SET-5, R-SET-2, R-SET-3)
# Read-only: deposit entries are append-only and written by money_services; statement lines are recomputed there.

@admin.register(StatementAdjustment)
class StatementAdjustmentAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("statement__institution__region", "statement__pharmacy__region"),
                    "institution_field": "statement__institution_id", "pharmacy_field": "statement__pharmacy_id"}
    list_display = ["statement", "kind", "sanction", "outstanding", "amount", "carried_forward", "decided_by"]
    list_filter = ["kind"]
    list_select_related = ["statement", "sanction", "decided_by"]


@admin.register(DepositEntry)
class DepositEntryAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("account__institution__region", "account__pharmacy__region"),
                    "institution_field": "account__institution_id", "pharmacy_field": "account__pharmacy_id"}
    list_display = ["account", "kind", "amount", "balance_after", "statement", "sanction", "year", "decision",
                    "decided_by", "created_at"]
    list_filter = ["kind", "decision"]
    list_select_related = ["account", "statement", "sanction", "decided_by"]


@admin.register(WardPayment)
class WardPaymentAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("statement__institution__region",),
                    "institution_field": "statement__institution_id", "pharmacy_field": "pharmacy_id"}
    list_display = ["statement", "pharmacy", "paid_on", "amount", "reference", "reversed_at"]


@admin.register(InstitutionMonthlyReport)
class InstitutionMonthlyReportAdmin(ReadOnlyAdmin):
    scope_fields = {"region_fields": ("institution__region", "pharmacy__region")}
    list_display = ["period", "organisation_kind", "institution", "pharmacy", "visits", "total", "fund_payment",
                    "source", "submitted_at"]
    list_filter = ["period", "organisation_kind", "source"]


@admin.register(RectificationFollowUp)
class RectificationFollowUpAdmin(ReadOnlyAdmin):
    scope = staticmethod(rectifications_visible_to)
    list_display = ["sanction", "problem", "status", "escalation", "escalated_at", "resolved_at"]
    list_filter = ["status", "escalation"]
