"""Read-mostly admin for settlement records; every change goes through the services (browser screens, API)."""
from django.contrib import admin

from apps.core.admin_actions import BureauAdminAccess, ReadOnlyAdminMixin

from apps.settlement.models import (
    CataloguePublication, MonthlyReportSnapshot, ReconciliationDifference, ReportedTotal, SettlementRun, Statement,
    StockingReport,
)


class ReadOnlyAdmin(ReadOnlyAdminMixin, BureauAdminAccess, admin.ModelAdmin):
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
