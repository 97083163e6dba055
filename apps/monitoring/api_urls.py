from django.urls import include, path

from apps.monitoring import api

patterns = [
    path("alerts/", api.AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:pk>/", api.AlertDetailView.as_view(), name="alert-detail"),
    path("alerts/<int:pk>/transitions/", api.AlertTransitionView.as_view(), name="alert-transitions"),
    path("monitoring/runs/", api.RunView.as_view(), name="run-create"),
    path("monitoring/runs/<int:pk>/", api.RunDetailView.as_view(), name="run-detail"),
]

urlpatterns = [path("", include((patterns, "monitoring-api")))]
