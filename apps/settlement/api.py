"""REST endpoints of settlement, reconciliation, statistics and stocking (API.md "Settlement and reports")."""
from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.permissions import IsBureau, IsBureauAdmin
from apps.catalogue.models import Drug
from apps.core.exceptions import ApplicationError
from apps.core.parsers import ObjectJSONParser
from apps.institutions.selectors import institutions_visible_to
from apps.settlement import excel, money_selectors, services, stocking_selectors
from apps.settlement.models import ReconciliationDifference, SettlementRun, Statement, StockingReport
from apps.settlement.periods import label, parse_period
from apps.settlement.selectors import (
    differences_visible_to, monthly_report_for, organisation_of, reported_comparison, runs_visible_to, scope_region,
    statement_get_for, statements_visible_to, ward_delivery_statements,
)
from config.db_router import replica_reads

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class XlsxRenderer(BaseRenderer):
    """Lets ``?format=xlsx`` through content negotiation; the view returns the workbook bytes itself."""

    media_type = XLSX
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _period_param(request):
    return parse_period(request.query_params.get("period"))


# --------------------------------------------------------------------------- statements and runs (R-SET-1)

class StatementSerializer(serializers.ModelSerializer):
    period = serializers.SerializerMethodField()
    organisation = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()
    adjustments = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = ["id", "number", "period", "organisation_kind", "organisation", "visits", "total", "fund_payment",
                  "personal_payment", "deposit_rate", "deposit", "deductions", "payable", "held", "status",
                  "computed_at", "confirmed_at", "lines", "adjustments"]

    def get_held(self, obj) -> str:
        """R-SET-5: what of the payable a payment deferral still holds."""
        held = getattr(obj, "held_now", None)  # annotated for lists (money_selectors.with_held_and_adjustments)
        return f"{money_selectors.statement_held(obj) if held is None else held:.2f}"

    def get_adjustments(self, obj) -> list[dict]:
        """R-SET-5: the money sanctions' lines (kind, amount, sanction, who decided)."""
        return [{"kind": a.kind, "kind_display": a.get_kind_display(), "sanction": a.sanction_id,
                 "reason": a.sanction.reason, "outstanding": f"{a.outstanding:.2f}", "amount": f"{a.amount:.2f}",
                 "carried_forward": f"{a.carried_forward:.2f}",
                 "decided_by": a.decided_by.username if a.decided_by_id else None, "released": a.released}
                for a in (obj.adjustment_list if hasattr(obj, "adjustment_list")
                          else money_selectors.statement_adjustments(obj))]

    def get_period(self, obj) -> str:
        return label(obj.period)

    def get_organisation(self, obj) -> dict:
        org = obj.organisation
        return {"kind": obj.organisation_kind, "code": org.code, "name": org.name}

    def get_lines(self, obj) -> int:
        return obj.line_count  # stored by the run (issue 16: lists never count a month's lines)


class StatementListView(ListAPIView):
    """GET /api/v1/settlements/?period=2026-11 (bureau: its region; hospitals and pharmacies: their own)."""

    serializer_class = StatementSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("period", str, description="YYYY-MM"),
                               OpenApiParameter("status", str, enum=["draft", "confirmed"])])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = statements_visible_to(self.request.user)
        if self.request.query_params.get("period"):
            qs = qs.filter(period=_period_param(self.request))
        if self.request.query_params.get("status"):
            qs = qs.filter(status=self.request.query_params["status"])
        return money_selectors.with_held_and_adjustments(qs.order_by("-period", "organisation_kind", "id"))


class StatementDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StatementSerializer)
    def get(self, request, pk):
        return Response(StatementSerializer(statement_get_for(request.user, pk)).data)


class StatementConfirmView(APIView):
    """POST /api/v1/settlements/{id}/confirm/: the bureau locks the statement (R-SET-1)."""

    permission_classes = [IsBureauAdmin]

    @extend_schema(request=None, responses=StatementSerializer)
    def post(self, request, pk):
        statement = services.statement_confirm(statement=statement_get_for(request.user, pk), actor=request.user,
                                               today=timezone.localdate(), now=timezone.now())
        return Response(StatementSerializer(statement).data)


class RunSerializer(serializers.ModelSerializer):
    period = serializers.SerializerMethodField()

    class Meta:
        model = SettlementRun
        fields = ["id", "period", "status", "progress", "steps_done", "steps_total", "statements_written",
                  "lines_written", "created_at", "started_at", "finished_at", "error"]

    def get_period(self, obj) -> str:
        return label(obj.period)


class RunStartSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM")


class RunListView(APIView):
    """POST /api/v1/settlements/runs/ {"period": "2026-11"} → 202 with the run (R-SET-4); GET lists recent runs."""

    permission_classes = [IsBureau]

    def get_permissions(self):
        return [IsBureauAdmin()] if self.request.method == "POST" else [IsBureau()]

    @extend_schema(responses=RunSerializer(many=True))
    def get(self, request):
        return Response(RunSerializer(runs_visible_to(request.user)[:50], many=True).data)

    @extend_schema(request=RunStartSerializer, responses={202: RunSerializer})
    def post(self, request):
        data = RunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.settlement_run_start(period=parse_period(data.validated_data["period"]), actor=request.user,
                                            now=timezone.now())
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetailView(APIView):
    permission_classes = [IsBureau]

    @extend_schema(responses=RunSerializer)
    def get(self, request, pk):
        return Response(RunSerializer(get_object_or_404(runs_visible_to(request.user), pk=pk)).data)


# --------------------------------------------------------------------------- statistics (R-SET-3)

class MonthlyReportView(APIView):
    """GET /api/v1/reports/monthly/?period=2026-11[&format=xlsx]."""

    permission_classes = [IsBureau]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, XlsxRenderer]

    @extend_schema(parameters=[OpenApiParameter("period", str, required=True, description="YYYY-MM"),
                               OpenApiParameter("format", str, enum=["json", "xlsx"])],
                   responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, XLSX): OpenApiTypes.BINARY})
    def get(self, request):
        period = _period_param(request)
        with replica_reads():  # a report: may read the replica (issue 16)
            report = monthly_report_for(period=period, region=scope_region(request.user))
        if request.accepted_renderer.format == "xlsx":
            return xlsx_response(excel.monthly_report_workbook(report), f"monthly-report-{label(period)}.xlsx")
        return Response(report)


# --------------------------------------------------------------------------- reconciliation (R-SET-2)

class DifferenceSerializer(serializers.ModelSerializer):
    period = serializers.SerializerMethodField()
    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    pharmacy = serializers.SlugRelatedField(slug_field="code", read_only=True)
    drug = serializers.SlugRelatedField(slug_field="code", read_only=True)
    prescription = serializers.SlugRelatedField(slug_field="serial_no", read_only=True)

    class Meta:
        model = ReconciliationDifference
        fields = ["id", "period", "kind", "status", "institution", "pharmacy", "drug", "prescription", "dispensing",
                  "expected", "actual", "detail", "found_at", "resolved_at", "resolution"]

    def get_period(self, obj) -> str:
        return label(obj.period)


class DifferenceListView(ListAPIView):
    """GET /api/v1/reconciliation/differences/?period=&kind=&status=."""

    serializer_class = DifferenceSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        qs = differences_visible_to(self.request.user)
        params = self.request.query_params
        if params.get("period"):
            qs = qs.filter(period=_period_param(self.request))
        if params.get("kind"):
            qs = qs.filter(kind=params["kind"])
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs


class ResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField()


class DifferenceResolveView(APIView):
    permission_classes = [IsBureau]

    @extend_schema(request=ResolveSerializer, responses=DifferenceSerializer)
    def post(self, request, pk):
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        difference = get_object_or_404(differences_visible_to(request.user), pk=pk)
        difference = services.reconciliation_difference_resolve(
            difference=difference, resolution=data.validated_data["resolution"], actor=request.user,
            now=timezone.now())
        return Response(DifferenceSerializer(difference).data)


class ReconciliationRunView(APIView):
    """POST /api/v1/reconciliation/runs/ {"period"}: recompute the month's differences now (counts by kind)."""

    permission_classes = [IsBureauAdmin]

    @extend_schema(request=RunStartSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = RunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        period = parse_period(data.validated_data["period"])
        counts = services.reconciliation_run(period=period, actor=request.user, now=timezone.now())
        return Response({"period": label(period), "differences": counts})


class ReportedRowSerializer(serializers.Serializer):
    drug_code = serializers.CharField()
    quantity = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    fund_payment = serializers.DecimalField(max_digits=14, decimal_places=2)


class ReportedTotalsSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM")
    rows = ReportedRowSerializer(many=True, required=False)
    file = serializers.FileField(required=False, help_text=".xlsx：药品代码、数量、金额、统筹基金支付")


class ReportedTotalsView(APIView):
    """Hospitals and pharmacies: GET ?period= compares their reported totals with the system's line by line;
    POST uploads them (JSON rows, or an .xlsx ``file``), replacing the month's earlier upload (R-SET-2)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [ObjectJSONParser, MultiPartParser, FormParser]  # a body is one JSON object (R-SEC-4)

    def _organisation(self, request):
        organisation = organisation_of(request.user)
        if organisation is None:
            raise ApplicationError("permission_denied", "只有定点医疗机构或药店可以上报月度汇总", status=403)
        return organisation

    @extend_schema(parameters=[OpenApiParameter("period", str, required=True, description="YYYY-MM")], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        organisation = self._organisation(request)
        period = _period_param(request)
        return Response({"period": label(period), "rows": reported_comparison(organisation=organisation, period=period)})

    @extend_schema(request=ReportedTotalsSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        organisation = self._organisation(request)
        data = ReportedTotalsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        period = parse_period(data.validated_data["period"])
        if data.validated_data.get("file") is not None:
            rows = services.reported_totals_from_xlsx(data.validated_data["file"])
        elif data.validated_data.get("rows"):
            rows = [dict(r) for r in request.data.get("rows", [])]
        else:
            raise ApplicationError("invalid", "请提供 rows 或 Excel 文件", fields={"rows": ["必填"]})
        created = services.reported_totals_replace(organisation=organisation, period=period, rows=rows,
                                                   actor=request.user)
        return Response({"period": label(period), "saved": len(created),
                         "rows": reported_comparison(organisation=organisation, period=period)},
                        status=status.HTTP_201_CREATED)


class WardDeliveryView(APIView):
    """GET /api/v1/reconciliation/ward-deliveries/?period=: what each hospital owes each pharmacy, due the 10th."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[OpenApiParameter("period", str, required=True, description="YYYY-MM")], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        period = _period_param(request)
        return Response({"period": label(period), "results": ward_delivery_statements(user=request.user, period=period,
                                                                                        today=timezone.localdate())})


# --------------------------------------------------------------------------- stocking (R-STK-1..4, R-INS-5, R-DOC-4, R-CAT-7)

class StockingReportSerializer(serializers.ModelSerializer):
    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    drug_code = serializers.CharField(source="drug.code", read_only=True)
    generic_name = serializers.CharField(source="drug.generic_name", read_only=True)

    class Meta:
        model = StockingReport
        fields = ["id", "institution", "drug_code", "generic_name", "kind", "listed_on", "ended_on", "created_at"]


class StockingReportCreateSerializer(serializers.Serializer):
    drug_code = serializers.CharField()
    kind = serializers.ChoiceField(choices=StockingReport.Kind.choices)
    listed_on = serializers.DateField()
    ended_on = serializers.DateField(required=False, allow_null=True)
    institution_code = serializers.CharField(required=False, help_text="经办机构管理员代报时填写")


class StockingReportListView(ListAPIView):
    """GET/POST /api/v1/stocking-reports/ (R-STK-1): hospitals report what they stock; the bureau reads."""

    serializer_class = StockingReportSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        return stocking_selectors.stocking_reports_visible_to(self.request.user)

    @extend_schema(request=StockingReportCreateSerializer, responses={201: StockingReportSerializer})
    def post(self, request):
        data = StockingReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = request.user
        if user.is_hospital:
            institution = user.institution
        elif user.is_bureau_admin and v.get("institution_code"):
            institution = get_object_or_404(institutions_visible_to(user), code=v["institution_code"])
        elif user.is_bureau_admin:
            raise ApplicationError("invalid", "请填写 institution_code", fields={"institution_code": ["必填"]})
        else:
            raise ApplicationError("permission_denied", "只有医疗机构可以报告药品配备", status=403)
        drug = Drug.objects.filter(code=v["drug_code"]).first()
        if drug is None:
            raise ApplicationError("invalid", f"药品代码 {v['drug_code']} 不在目录中", fields={"drug_code": ["不存在"]})
        report = services.stocking_report_create(institution=institution, drug=drug, kind=v["kind"],
                                                 listed_on=v["listed_on"], ended_on=v.get("ended_on"), actor=user)
        return Response(StockingReportSerializer(report).data, status=status.HTTP_201_CREATED)


class EndSerializer(serializers.Serializer):
    ended_on = serializers.DateField()


class StockingReportEndView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=EndSerializer, responses=StockingReportSerializer)
    def post(self, request, pk):
        report = get_object_or_404(stocking_selectors.stocking_reports_visible_to(request.user), pk=pk)
        if not (request.user.is_hospital or request.user.is_bureau_admin):
            raise ApplicationError("permission_denied", "当前角色无权执行此操作", status=403)
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.stocking_report_end(report=report, ended_on=data.validated_data["ended_on"],
                                              actor=request.user)
        return Response(StockingReportSerializer(report).data)


def _ratio(value):
    return None if value is None else f"{value:.4f}"


def stocking_metrics_json(metrics: dict) -> dict:
    def cells(d):
        return {k: {"stocked": v["stocked"], "catalogue": v["catalogue"], "rate": _ratio(v["rate"])} for k, v in d.items()}

    return {
        "date": metrics["on"].isoformat(),
        "institutions": [
            {"code": r["code"], "name": r["name"], "level": r["level"], "hospital_type": r["hospital_type"],
             "specialty": r["specialty"], "stocked": r["stocked"], "catalogue": r["catalogue"],
             "rate": _ratio(r["rate"]), "target": _ratio(r["target"]), "below_target": r["below_target"],
             "by_area_group": cells(r["by_area_group"]), "by_route_group": cells(r["by_route_group"])}
            for r in metrics["institutions"]
        ],
        "drugs": [
            {"code": r["code"], "generic_name": r["generic_name"], "area_group": r["area_group"],
             "route_group": r["route_group"], "institutions": r["institutions"], "tertiary": r["tertiary"],
             "tertiary_share": _ratio(r["tertiary_share"]), "cities": r["cities"], "city_share": _ratio(r["city_share"]),
             "counties": r["counties"], "county_share": _ratio(r["county_share"])}
            for r in metrics["drugs"]
        ],
        "regions": metrics["regions"],
        "matrix": [dict(m, share=_ratio(m["share"])) for m in metrics["matrix"]],
        "below_target": [r["code"] for r in metrics["below_target"]],
    }


class StockingMetricsView(APIView):
    """GET /api/v1/reports/stocking/?date=YYYY-MM-DD (R-STK-2, R-STK-3)."""

    permission_classes = [IsBureau]

    @extend_schema(parameters=[OpenApiParameter("date", OpenApiTypes.DATE)], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        on = _date_param(request, "date")
        metrics = stocking_selectors.stocking_metrics(on=on, region=scope_region(request.user))
        return Response(stocking_metrics_json(metrics))


def _date_param(request, name):
    import datetime as dt

    raw = request.query_params.get(name)
    if not raw:
        return timezone.localdate()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApplicationError("invalid", "日期格式应为 YYYY-MM-DD", fields={name: ["日期格式应为 YYYY-MM-DD"]})


class CoverageReportView(APIView):
    """GET /api/v1/reports/coverage/: R-INS-5 counties, R-DOC-4 departments, R-STK-4 committee deadlines,
    R-CAT-7 drugs with zero use last year."""

    permission_classes = [IsBureau]

    @extend_schema(parameters=[OpenApiParameter("date", OpenApiTypes.DATE)], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        today = _date_param(request, "date")
        region = scope_region(request.user)
        committee = stocking_selectors.committee_deadlines(today=today, region=region)
        return Response({
            "counties_without_coverage": stocking_selectors.counties_without_coverage(region=region),
            "departments_short_of_physicians": stocking_selectors.departments_short_of_physicians(region=region),
            "committee": {
                "catalogue_version": committee["publication"].version if committee["publication"] else None,
                "rows": [{"code": r["code"], "name": r["name"], "deadline": r["deadline"].isoformat(),
                          "held_on": r["held_on"].isoformat() if r["held_on"] else None, "status": r["status"],
                          "flagged": r["flagged"]} for r in committee["rows"]],
            },
            "zero_use_drugs": [{"code": d.code, "generic_name": d.generic_name, "manufacturer": d.manufacturer}
                               for d in stocking_selectors.zero_use_drugs(year=today.year - 1)],
        })
