from django.urls import path

from apps.prescriptions import api

urlpatterns = [
    path("prescriptions/", api.PrescriptionListCreate.as_view(), name="prescription-list"),
    path("prescriptions/<int:pk>/", api.PrescriptionDetail.as_view(), name="prescription-detail"),
    path("prescriptions/<int:pk>/dispense/", api.PrescriptionDispense.as_view(), name="prescription-dispense"),
    path("prescriptions/<int:pk>/quote/", api.PrescriptionQuote.as_view(), name="prescription-quote"),
    path("prescriptions/<int:pk>/cancel/", api.PrescriptionCancel.as_view(), name="prescription-cancel"),
    path("prescriptions/<int:pk>/decline/", api.PrescriptionDecline.as_view(), name="prescription-decline"),
    path("dispensings/", api.DispensingList.as_view(), name="dispensing-list"),
    path("dispensings/<int:pk>/", api.DispensingDetail.as_view(), name="dispensing-detail"),
    path("dispensings/<int:pk>/reverse/", api.DispensingReverse.as_view(), name="dispensing-reverse"),
    path("stock-movements/", api.StockMovementListCreate.as_view(), name="stock-movement-list"),
    path("stock/", api.StockList.as_view(), name="stock-list"),
    path("manual-claims/", api.ManualClaimListCreate.as_view(), name="manual-claim-list"),
    path("manual-claims/<int:pk>/", api.ManualClaimDetail.as_view(), name="manual-claim-detail"),
    path("cross-region-filings/", api.CrossRegionFilingListCreate.as_view(), name="cross-region-filing-list"),
    path("cross-region-filings/<int:pk>/", api.CrossRegionFilingDetail.as_view(), name="cross-region-filing-detail"),
]
