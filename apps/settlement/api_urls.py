from django.urls import path

from apps.settlement import api, money_api

urlpatterns = [
    path("settlements/", api.StatementListView.as_view(), name="settlement-statements"),
    path("settlements/runs/", api.RunListView.as_view(), name="settlement-runs"),
    path("settlements/runs/<int:pk>/", api.RunDetailView.as_view(), name="settlement-run"),
    path("settlements/<int:pk>/", api.StatementDetailView.as_view(), name="settlement-statement"),
    path("settlements/<int:pk>/confirm/", api.StatementConfirmView.as_view(), name="settlement-statement-confirm"),
    path("reports/monthly/", api.MonthlyReportView.as_view(), name="report-monthly"),
    path("reports/stocking/", api.StockingMetricsView.as_view(), name="report-stocking"),
    path("reports/coverage/", api.CoverageReportView.as_view(), name="report-coverage"),
    path("reconciliation/runs/", api.ReconciliationRunView.as_view(), name="reconciliation-runs"),
    path("reconciliation/differences/", api.DifferenceListView.as_view(), name="reconciliation-differences"),
    path("reconciliation/differences/<int:pk>/resolve/", api.DifferenceResolveView.as_view(),
         name="reconciliation-difference-resolve"),
    path("reconciliation/reported-totals/", api.ReportedTotalsView.as_view(), name="reconciliation-reported-totals"),
    path("reconciliation/ward-deliveries/", api.WardDeliveryView.as_view(), name="reconciliation-ward-deliveries"),
    # R-SET-5, R-SET-2, R-SET-3 (API.md "Revision 2 additions")
    path("deposit-accounts/<str:code>/", money_api.DepositAccountView.as_view(), name="deposit-account"),
    path("deposit-accounts/<str:code>/returns/", money_api.DepositReturnView.as_view(), name="deposit-return"),
    path("settlements/<int:pk>/payments/", money_api.WardPaymentListView.as_view(), name="settlement-payments"),
    path("settlements/<int:pk>/payments/<int:payment_id>/reverse/", money_api.WardPaymentReverseView.as_view(),
         name="settlement-payment-reverse"),
    path("settlements/confirm-month/", money_api.MonthConfirmView.as_view(), name="settlement-confirm-month"),
    path("settlements/payment-list/", money_api.PaymentListView.as_view(), name="settlement-payment-list"),
    path("sanctions/<int:pk>/release/", money_api.DeferralReleaseView.as_view(), name="sanction-release"),
    path("monthly-reports/", money_api.MonthlyReportListView.as_view(), name="monthly-reports"),
    path("monthly-reports/status/", money_api.MonthlyReportStatusView.as_view(), name="monthly-reports-status"),
    path("monthly-reports/<int:pk>/", money_api.MonthlyReportDetailView.as_view(), name="monthly-report"),
    path("stocking-reports/", api.StockingReportListView.as_view(), name="stocking-reports"),
    path("stocking-reports/<int:pk>/end/", api.StockingReportEndView.as_view(), name="stocking-report-end"),
]
