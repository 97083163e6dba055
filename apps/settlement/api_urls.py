from django.urls import path

from apps.settlement import api

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
    path("stocking-reports/", api.StockingReportListView.as_view(), name="stocking-reports"),
    path("stocking-reports/<int:pk>/end/", api.StockingReportEndView.as_view(), name="stocking-report-end"),
]
