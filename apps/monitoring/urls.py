from django.urls import path

from apps.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert"),
    path("alerts/<int:pk>/assign/", views.alert_assign, name="alert_assign"),
    path("alerts/<int:pk>/confirm/", views.alert_confirm, name="alert_confirm"),
    path("alerts/<int:pk>/dismiss/", views.alert_dismiss, name="alert_dismiss"),
    path("bulk-dismiss/", views.bulk_dismiss, name="bulk_dismiss"),
    path("summary/", views.summary, name="summary"),
    path("runs/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("mine/", views.mine, name="mine"),
]
