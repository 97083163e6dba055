from django.urls import path

from apps.prescriptions.api import claims, dispensings, prescriptions, stock

urlpatterns = [
    path("prescriptions/", prescriptions.PrescriptionListCreate.as_view(), name="prescription-list"),
    path("prescriptions/<int:pk>/", prescriptions.PrescriptionDetail.as_view(), name="prescription-detail"),
    path("prescriptions/<int:pk>/dispense/", prescriptions.PrescriptionDispense.as_view(), name="prescription-dispense"),
    path("prescriptions/<int:pk>/quote/", prescriptions.PrescriptionQuote.as_view(), name="prescription-quote"),
    path("prescriptions/<int:pk>/cancel/", prescriptions.PrescriptionCancel.as_view(), name="prescription-cancel"),
    path("prescriptions/<int:pk>/decline/", prescriptions.PrescriptionDecline.as_view(), name="prescription-decline"),
    path("dispensings/", dispensings.DispensingList.as_view(), name="dispensing-list"),
    path("dispensings/<int:pk>/", dispensings.DispensingDetail.as_view(), name="dispensing-detail"),
    path("dispensings/<int:pk>/reverse/", dispensings.DispensingReverse.as_view(), name="dispensing-reverse"),
    path("stock-movements/", stock.StockMovementListCreate.as_view(), name="stock-movement-list"),
    path("stock/", stock.StockList.as_view(), name="stock-list"),
    path("manual-claims/", claims.ManualClaimListCreate.as_view(), name="manual-claim-list"),
    path("manual-claims/search/", claims.ManualClaimSearch.as_view(), name="manual-claim-search"),
    path("manual-claims/<int:pk>/", claims.ManualClaimDetail.as_view(), name="manual-claim-detail"),
    path("cross-region-filings/", claims.CrossRegionFilingListCreate.as_view(), name="cross-region-filing-list"),
    path("cross-region-filings/search/", claims.CrossRegionFilingSearch.as_view(), name="cross-region-filing-search"),
    path("cross-region-filings/<int:pk>/", claims.CrossRegionFilingDetail.as_view(), name="cross-region-filing-detail"),
    path("reports/beyond-cap/", claims.BeyondCapReport.as_view(), name="beyond-cap-report"),
]
