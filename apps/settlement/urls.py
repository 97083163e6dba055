from django.urls import path

from apps.settlement import money_views, views

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
    # R-SET-5, R-SET-2, R-SET-3: money
    path("deposits/", money_views.deposit_accounts, name="deposit_accounts"),
    path("deposits/<str:code>/", money_views.deposit_account, name="deposit_account"),
    path("statements/<int:pk>/deferrals/<int:sanction_id>/release/", money_views.deferral_release,
         name="deferral_release"),
    path("statements/<int:pk>/payments/", money_views.ward_payment_create, name="ward_payment_create"),
    path("statements/<int:pk>/payments/<int:payment_id>/reverse/", money_views.ward_payment_reverse,
         name="ward_payment_reverse"),
    path("payment-list/", money_views.payment_list, name="payment_list"),
    path("payment-list/confirm-month/", money_views.confirm_month, name="confirm_month"),
    path("reports/", money_views.report_status, name="report_status"),
    path("reports/submit/", money_views.report_submit, name="report_submit"),
    path("reports/<int:pk>/", money_views.report_detail, name="report_detail"),
    path("rectifications/", money_views.rectifications, name="rectifications"),
    path("rectifications/<int:pk>/resolve/", money_views.rectification_resolve, name="rectification_resolve"),
    path("stocking/", views.stocking, name="stocking"),
    path("public/designated/", views.public_designated, name="public_designated"),  # R-PUB-1, no login
    path("coverage/", views.coverage, name="coverage"),
]
