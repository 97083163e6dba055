"""Read-only admin views of prescriptions and what follows from them: every change goes through the services
(upload, dispense, reverse, claims) so that the checks, the locks and the event rows are never skipped."""
from django.contrib import admin

from apps.core.admin_actions import ReadOnlyAdminMixin

from apps.prescriptions import selectors
from apps.prescriptions.models import (
    CrossRegionFiling, Dispensing, ManualClaim, PatientYearUsage, Prescription, StockMovement, TraceCode,
)


class ReadOnlyScopedAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    scope = None  # a selector taking the user

    def get_queryset(self, request):
        if self.scope is None:
            return super().get_queryset(request) if request.user.is_superuser else self.model.objects.none()
        return type(self).scope(request.user)


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
    list_display = ["code", "drug", "pharmacy", "dispensed_at", "released_at"]
    search_fields = ["code"]


@admin.register(PatientYearUsage)
class PatientYearUsageAdmin(ReadOnlyScopedAdmin):
    list_display = ["person", "year", "deductible_met", "fund_paid", "dispensing_count"]
    search_fields = ["person__name", "person__id_number"]


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
