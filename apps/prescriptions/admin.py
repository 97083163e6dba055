"""Read-only admin views of prescriptions and what follows from them: every change goes through the services
(upload, dispense, reverse, claims) so that the checks, the locks and the event rows are never skipped."""
from django.contrib import admin

from apps.core.admin_actions import BureauAdminAccess, ReadOnlyAdminMixin
from apps.core.admin_figures import FiguresAdminMixin

from apps.prescriptions import selectors
from apps.prescriptions.models import (
    CrossRegionFiling, Dispensing, ManualClaim, PatientYearUsage, Prescription, StockMovement, TraceCode,
)


class ReadOnlyScopedAdmin(ReadOnlyAdminMixin, FiguresAdminMixin, BureauAdminAccess, admin.ModelAdmin):
    """Scoped like the API: ``scope`` is the selector taking the user (R-SEC-1)."""


@admin.register(Prescription)
class PrescriptionAdmin(ReadOnlyScopedAdmin):
    scope = staticmethod(selectors.prescriptions_visible_to)
    list_display = ["serial_no", "institution", "pharmacy", "person", "status", "issued_at", "expires_at",
                    "downloaded_at"]
    list_filter = ["status", "care_setting", "delivery"]
    search_fields = ["serial_no", "person__name"]


@admin.register(Dispensing)
class DispensingAdmin(ReadOnlyScopedAdmin):
    scope = staticmethod(selectors.dispensings_visible_to)
    list_display = ["id", "kind", "prescription", "pharmacy", "person", "period", "total", "fund_payment",
                    "personal_payment", "settlement"]
    list_filter = ["kind", "settlement", "period"]


@admin.register(TraceCode)
class TraceCodeAdmin(ReadOnlyScopedAdmin):
    scope_fields = {"region_fields": ("pharmacy__region",), "institution_field": None, "pharmacy_field": "pharmacy_id"}
    list_display = ["code", "drug", "pharmacy", "dispensed_at", "released_at"]
    search_fields = ["code"]


@admin.register(PatientYearUsage)
class PatientYearUsageAdmin(ReadOnlyScopedAdmin):
    scope_fields = {"region_fields": ("person__insured_region",), "institution_field": None, "pharmacy_field": None}
    list_display = ["person", "year", "deductible_met", "fund_paid", "dispensing_count"]
    search_fields = ["person__name", "=person__id_number"]  # a whole ID number, through its digest (PIPL)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyScopedAdmin):
    scope = staticmethod(selectors.stock_movements_visible_to)
    list_display = ["pharmacy", "drug", "kind", "quantity", "unit_price", "occurred_at"]
    list_filter = ["kind"]


@admin.register(CrossRegionFiling)
class CrossRegionFilingAdmin(ReadOnlyScopedAdmin):
    scope = staticmethod(selectors.cross_region_filings_visible_to)
    list_display = ["filing_no", "person", "insured_region", "treatment_region", "valid_from", "valid_until",
                    "direct_settlement"]


@admin.register(ManualClaim)
class ManualClaimAdmin(ReadOnlyScopedAdmin):
    scope = staticmethod(selectors.manual_claims_visible_to)
    list_display = ["invoice_no", "provider_name", "person", "invoice_date", "total", "fund_payment"]
