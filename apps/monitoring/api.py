"""REST for the bureau (API.md "Revision 2 additions", section 9): the alerts of its region
(``GET /api/v1/alerts/?rule=R-MON-5&status=open``), one alert, and its transitions
(``POST /api/v1/alerts/{id}/transitions/`` with ``{"to": "assigned" | "confirmed" | "dismissed", "assignee",
"reason"}``); monitoring runs with their progress. Hospitals and pharmacies see the confirmed alerts about
themselves only (R-SEC-1: anything else is 404)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.exceptions import ApplicationError
from apps.core.pagination import StandardPagination
from apps.core.permissions import IsBureau
from apps.monitoring import selectors, services
from apps.monitoring.models import Alert, Rule


class AlertOutput(serializers.Serializer):
    id = serializers.IntegerField()
    rule = serializers.CharField()
    rule_label = serializers.CharField(source="get_rule_display")
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    region = serializers.CharField(source="region.code")
    institution = serializers.CharField(source="institution.code", allow_null=True, default=None)
    pharmacy = serializers.CharField(source="pharmacy.code", allow_null=True, default=None)
    person = serializers.IntegerField(source="person_id", allow_null=True)
    physician = serializers.CharField(source="physician.code", allow_null=True, default=None)
    period = serializers.DateField()
    amount_at_risk = serializers.DecimalField(max_digits=14, decimal_places=2)
    summary = serializers.CharField()
    evidence = serializers.JSONField()
    source = serializers.CharField()
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    decision_reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    sanction = serializers.IntegerField(source="sanction_id", allow_null=True)
    raised_at = serializers.DateTimeField()


class TransitionInput(serializers.Serializer):
    to = serializers.ChoiceField(choices=[Alert.Status.ASSIGNED, Alert.Status.CONFIRMED, Alert.Status.DISMISSED])
    assignee = serializers.CharField(required=False, allow_blank=True, help_text="处理人用户名（to=assigned）")
    reason = serializers.CharField(required=False, allow_blank=True)
    sanction_kind = serializers.CharField(required=False, allow_blank=True,
                                          help_text="确认时提出的协议处理：deduction、deposit_deduction、payment_deferral、"
                                                    "interview、public_criticism")
    sanction_amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)


def _month(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:7] + "-01")
    except ValueError:
        raise ApplicationError("invalid", "月份格式应为 YYYY-MM", fields={"period": ["格式应为 YYYY-MM"]}) from None


class AlertListView(ListAPIView):
    """GET /api/v1/alerts/ — the bureau's alerts of its region (filters: rule, status, period, organisation,
    min_amount); a hospital or pharmacy: its own confirmed alerts."""

    permission_classes = [IsAuthenticated]
    serializer_class = AlertOutput
    pagination_class = StandardPagination

    @extend_schema(parameters=[
        OpenApiParameter("rule", OpenApiTypes.STR, enum=[r.value for r in Rule]),
        OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in Alert.Status]),
        OpenApiParameter("period", OpenApiTypes.STR, description="YYYY-MM"),
        OpenApiParameter("organisation", OpenApiTypes.STR), OpenApiParameter("min_amount", OpenApiTypes.NUMBER)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        q = self.request.query_params
        rule = q.get("rule", "")
        if rule and rule not in Rule.values:
            raise ApplicationError("invalid", f"规则 {rule} 不存在", fields={"rule": ["应为 R-MON-1 … R-MON-9"]})
        state = q.get("status", "")
        if state and state not in Alert.Status.values:
            raise ApplicationError("invalid", f"状态 {state} 不存在", fields={"status": ["不支持的状态"]})
        try:
            min_amount = Decimal(q["min_amount"]) if q.get("min_amount") else None
        except InvalidOperation:
            raise ApplicationError("invalid", "金额应为数字", fields={"min_amount": ["应为数字"]}) from None
        return selectors.alert_queue(user=self.request.user, rule=rule, status=state,
                                     organisation=q.get("organisation", ""), min_amount=min_amount,
                                     period=_month(q.get("period")))


class AlertDetailView(RetrieveAPIView):
    """GET /api/v1/alerts/{id}/"""

    permission_classes = [IsAuthenticated]
    serializer_class = AlertOutput

    def get_queryset(self):
        return selectors.alerts_visible_to(self.request.user)


class AlertTransitionView(APIView):
    """POST /api/v1/alerts/{id}/transitions/ — section 9 workflow; every transition writes its event."""

    permission_classes = [IsBureau]

    @extend_schema(request=TransitionInput, responses=AlertOutput)
    def post(self, request, pk: int):
        alert = selectors.alert_get(user=request.user, pk=pk)
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        assignee = None
        if v["to"] == Alert.Status.ASSIGNED:
            assignee = get_user_model().objects.filter(username=v.get("assignee") or "").first()
        now = timezone.now()
        alert = services.alert_transition(alert=alert, to=v["to"], actor=request.user, assignee=assignee,
                                          reason=v.get("reason", ""), sanction_kind=v.get("sanction_kind", ""),
                                          sanction_amount=v.get("sanction_amount"), now=now,
                                          today=timezone.localdate(now))
        return Response(AlertOutput(alert).data, status=status.HTTP_200_OK)


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.DateField()
    status = serializers.CharField()
    rules_done = serializers.IntegerField()
    rules_total = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    findings = serializers.IntegerField()
    alerts_raised = serializers.IntegerField()
    error = serializers.CharField()


class RunInput(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM")


class RunView(APIView):
    """POST /api/v1/monitoring/runs/ — start the batch for a month (the bureau user's region); GET one run's
    progress at /api/v1/monitoring/runs/{id}/."""

    permission_classes = [IsBureau]

    @extend_schema(request=RunInput, responses=RunOutput)
    def post(self, request):
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        period = _month(data.validated_data["period"])
        run = services.monitoring_run_queue(period=period, actor=request.user, now=timezone.now())
        return Response(RunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailView(RetrieveAPIView):
    permission_classes = [IsBureau]
    serializer_class = RunOutput

    def get_queryset(self):
        return selectors.runs_visible_to(self.request.user)
