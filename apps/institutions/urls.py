from django.urls import path

from apps.institutions import views

app_name = "institutions"
urlpatterns = [
    path("", views.institution_list_view, name="list"),
    path("exit-flags/", views.exit_flags, name="exit_flags"),
    path("report/", views.registry_report, name="report"),
    path("<int:pk>/", views.institution_detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.institution_action, name="action"),
]
