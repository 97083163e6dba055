from django.urls import include, path

from apps.catalogue import api

drug_patterns = [
    path("drugs/", api.DrugListView.as_view(), name="drug-list"),
    path("drugs/imports/", api.ImportCreateView.as_view(), name="drug-import"),
    path("drugs/imports/runs/", api.ImportRunListView.as_view(), {"kind": "drugs"}, name="drug-import-list"),
    path("drugs/imports/template/", api.TemplateView.as_view(), name="drug-import-template"),
    path("drugs/imports/<int:pk>/", api.ImportRunView.as_view(), name="drug-import-run"),
    path("drugs/imports/<int:pk>/confirm/", api.ImportConfirmView.as_view(), name="drug-import-confirm"),
    path("drugs/export/", api.ExportView.as_view(), name="drug-export"),
    path("drugs/<str:ref>/", api.DrugDetailView.as_view(), name="drug-detail"),
    path("drugs/<str:ref>/withdraw/", api.DrugWithdrawView.as_view(), name="drug-withdraw"),
    path("imports/", api.ImportRunListView.as_view(), name="import-list"),
    path("imports/<int:pk>/", api.ImportRunView.as_view(), name="import-run"),
    path("imports/<int:pk>/confirm/", api.ImportConfirmView.as_view(), name="import-confirm"),
    path("imports/<slug:kind>/", api.ImportCreateView.as_view(), name="import-create"),
    path("imports/<slug:kind>/template/", api.TemplateView.as_view(), name="import-template"),
    path("imports/<slug:kind>/export/", api.ExportView.as_view(), name="import-export"),
]

urlpatterns = [path("", include((drug_patterns, "catalogue-api")))]
