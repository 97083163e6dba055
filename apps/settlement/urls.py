from django.urls import path

from apps.settlement import views

app_name = "settlement"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("statements/", views.statement_list, name="statements"),
    path("statements/<int:pk>/", views.statement_detail, name="statement"),
    path("statements/<int:pk>/confirm/", views.statement_confirm, name="statement_confirm"),
    path("runs/", views.run_start, name="run_start"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("monthly/", views.monthly, name="monthly"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("reconciliation/run/", views.reconciliation_run, name="reconciliation_run"),
    path("reconciliation/differences/<int:pk>/resolve/", views.difference_resolve, name="difference_resolve"),
    path("stocking/", views.stocking, name="stocking"),
    path("coverage/", views.coverage, name="coverage"),
]
