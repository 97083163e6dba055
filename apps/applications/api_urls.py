from django.urls import path

from apps.applications import api

urlpatterns = [
    path("applications/", api.ApplicationListCreateView.as_view(), name="api-application-list"),
    path("applications/<int:pk>/", api.ApplicationDetailView.as_view(), name="api-application-detail"),
    path("applications/<int:pk>/decisions/", api.ApplicationDecisionView.as_view(), name="api-application-decide"),
    path("applications/<int:pk>/resubmit/", api.ApplicationResubmitView.as_view(), name="api-application-resubmit"),
    path("applications/<int:pk>/documents/", api.ApplicationDocumentListView.as_view(),
         name="api-application-documents"),
    path("applications/<int:pk>/documents/<int:document_id>/", api.ApplicationDocumentFileView.as_view(),
         name="api-application-document-file"),
    path("applications/<int:pk>/manufacturer-switches/", api.ManufacturerSwitchView.as_view(),
         name="api-application-manufacturer-switches"),
    path("applications/<int:pk>/manufacturer-switches/<int:switch_id>/confirm/",
         api.ManufacturerSwitchConfirmView.as_view(), name="api-application-manufacturer-switch-confirm"),
    path("applications/<int:pk>/extensions/", api.ApplicationExtensionView.as_view(),
         name="api-application-extensions"),
    path("other-fund-uses/", api.OtherFundUseListCreateView.as_view(), name="api-other-fund-uses"),
]
