from django.urls import path
from django.views.generic import RedirectView

from apps.applications import views

app_name = "applications"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="applications:queue", permanent=False), name="index"),
    path("list/", views.application_list, name="list"),
    path("review/", views.review_queue, name="queue"),
    path("new/", views.application_create, name="create"),
    path("lookup/", views.lookup, name="lookup"),
    path("filings/", views.filing_list, name="filings"),
    path("filings/<int:pk>/", views.filing_detail, name="filing_detail"),
    path("<int:pk>/", views.application_detail, name="detail"),
    path("<int:pk>/print/", views.print_form, name="print"),
    path("<int:pk>/reveal/<str:field>/", views.reveal, name="reveal"),
    path("<int:pk>/resubmit/", views.resubmit, name="resubmit"),
    path("<int:pk>/terminate/", views.terminate, name="terminate"),
    path("<int:pk>/extend/", views.extend, name="extend"),
    path("<int:pk>/switch/", views.switch, name="switch"),
    path("<int:pk>/switch/<int:switch_id>/confirm/", views.switch_confirm, name="switch_confirm"),
    path("<int:pk>/documents/", views.document_upload, name="document_upload"),
    path("<int:pk>/documents/<int:document_id>/", views.document_file, name="document_file"),
]
