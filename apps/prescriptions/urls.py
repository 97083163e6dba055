from django.urls import path

from apps.prescriptions import views

app_name = "prescriptions"
urlpatterns = [
    path("", views.prescription_list, name="list"),
    path("<int:pk>/", views.prescription_detail, name="detail"),
    path("<int:pk>/dispense/", views.prescription_dispense, name="dispense"),
    path("<int:pk>/cancel/", views.prescription_cancel, name="cancel"),
    path("<int:pk>/decline/", views.prescription_decline, name="decline"),
    path("dispensings/<int:pk>/reverse/", views.dispensing_reverse, name="reverse"),
    path("stock/", views.stock, name="stock"),
    path("usage/", views.usage_search, name="usage"),
    path("usage/<int:person_id>/", views.usage_detail, name="usage_detail"),
    path("usage/<int:person_id>/other-fund/", views.other_fund_use_entry, name="other_fund_use_entry"),
    path("beyond-cap/", views.beyond_cap, name="beyond_cap"),
    path("claims/", views.manual_claim_create, name="claims"),
    path("filings/", views.cross_region_filings, name="filings"),
]
