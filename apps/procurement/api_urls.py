from django.urls import include, path

from apps.procurement import api

patterns = [
    path("procurement/rounds/", api.RoundListView.as_view(), name="round-list"),
    path("procurement/agreements/", api.AgreementListView.as_view(), name="agreement-list"),
    path("procurement/purchases/imports/", api.PurchaseImportView.as_view(), name="purchase-import"),
    path("procurement/repayments/", api.RepaymentListView.as_view(), name="repayment-list"),
]

urlpatterns = [path("", include((patterns, "procurement-api")))]
