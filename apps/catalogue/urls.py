from django.urls import path

from apps.catalogue import views

app_name = "catalogue"
urlpatterns = [
    path("", views.drug_list, name="drug_list"),
    path("drugs/new/", views.drug_create, name="drug_create"),
    path("drugs/<int:pk>/", views.drug_detail, name="drug_detail"),
    path("drugs/<int:pk>/edit/", views.drug_edit, name="drug_edit"),
    path("drugs/<int:pk>/withdraw/", views.drug_withdraw, name="drug_withdraw"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/changes/", views.import_changes, name="import_changes"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/confirm/", views.import_confirm, name="import_confirm"),
    path("imports/<int:pk>/file/", views.import_file, name="import_file"),
]
