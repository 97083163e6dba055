"""REST endpoints of the money side of settlement (API.md "Revision 2 additions"): deposit accounts (R-SET-5),
ward-delivery payments (R-SET-2), institutions' monthly reports (R-SET-3), month confirmation, deferral release,
the annual deposit return and the payment list (Excel for print, CSV). Thin: parse, call one service or selector,
serialize with an output serializer."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.exceptions import ApplicationError
from apps.core.parsers import ObjectJSONParser
from apps.core.models import Sanction
from apps.core.permissions import IsBureau, IsBureauAdmin
from apps.core.roles import Role
from apps.settlement import money_excel, money_selectors, money_services
from apps.settlement.models import DepositEntry, InstitutionMonthlyReport, StatementAdjustment, WardPayment
from apps.settlement.api import XlsxRenderer
from apps.settlement.periods import label, parse_period
from apps.settlement.selectors import organisation_of, scope_region
from config.db_router import replica_reads

MONEY = {"max_digits": 14, "decimal_places": 2}


class IsOrganisationUser(BasePermission):
    """Hospital or pharmacy users acting for their own organisation."""

    def has_permission(self, request, view):
        u = request.user
        return bool(u and u.is_authenticated and (
            (u.role == Role.HOSPITAL and u.institution_id) or (u.role == Role.PHARMACY and u.pharmacy_id)))


# --------------------------------------------------------------------------- deposit accounts (R-SET-5)

class DepositEntryOutput(serializers.ModelSerializer):
    statement_number = serializers.SerializerMethodField()
    decided_by = serializers.CharField(source="decided_by.username", default=None)
    kind_display = serializers.CharField(source="get_kind_display")

    class Meta:
        model = DepositEntry
        fields = ["id", "kind", "kind_display", "amount", "balance_after", "statement", "statement_number",
                  "sanction", "year", "decision", "reason", "decided_by", "created_at"]

    def get_statement_number(self, obj) -> str | None:
        return obj.statement.number if obj.statement_id else None


class DepositAccountOutput(serializers.Serializer):
    organisation_code = serializers.CharField()
    organisation_name = serializers.CharField()
    balance = serializers.DecimalField(**MONEY)
    withheld = serializers.DecimalField(**MONEY)
    deducted = serializers.DecimalField(**MONEY)
    returned = serializers.DecimalField(**MONEY)
    entries = DepositEntryOutput(many=True)


def _account_body(organisation) -> dict:
    summary = money_selectors.deposit_account_summary(organisation)
    return DepositAccountOutput({**summary, "organisation_code": organisation.code,
                                 "organisation_name": organisation.name}).data


class DepositAccountView(APIView):
    """GET /api/v1/deposit-accounts/{organisation_code}/: the bureau of the region, or the organisation itself."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=DepositAccountOutput)
    def get(self, request, code):
        return Response(_account_body(money_selectors.organisation_by_code_for(request.user, code)))


class DepositReturnInput(serializers.Serializer):
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    decision = serializers.ChoiceField(choices=DepositEntry.Decision.choices)
    amount = serializers.DecimalField(required=False, allow_null=True, **MONEY)
    reason = serializers.CharField()


class DepositReturnView(APIView):
    """POST /api/v1/deposit-accounts/{organisation_code}/returns/: the annual assessment's return (R-SET-5)."""

    permission_classes = [IsBureauAdmin]

    @extend_schema(request=DepositReturnInput, responses={201: DepositAccountOutput})
    def post(self, request, code):
        organisation = money_selectors.organisation_by_code_for(request.user, code)
        data = DepositReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        money_services.deposit_return(organisation=organisation, actor=request.user, now=timezone.now(),
                                      **data.validated_data)
        return Response(_account_body(organisation), status=status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- sanctions on statements (R-SET-5)

class AdjustmentOutput(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display")
    sanction_reason = serializers.CharField(source="sanction.reason")
    decided_by = serializers.CharField(source="decided_by.username", default=None)
    released = serializers.BooleanField(default=False)

    class Meta:
        model = StatementAdjustment
        fields = ["id", "kind", "kind_display", "sanction", "sanction_reason", "outstanding", "amount",
                  "carried_forward", "decided_by", "released"]


class DeferralReleaseInput(serializers.Serializer):
    reason = serializers.CharField()


class DeferralReleaseOutput(serializers.Serializer):
    sanction = serializers.IntegerField()
    released_at = serializers.DateTimeField()
    reason = serializers.CharField()


class DeferralReleaseView(APIView):
    """POST /api/v1/sanctions/{id}/release/: the bureau releases a payment deferral (once)."""

    permission_classes = [IsBureauAdmin]

    @extend_schema(request=DeferralReleaseInput, responses=DeferralReleaseOutput)
    def post(self, request, pk):
        data = DeferralReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        sanction = get_object_or_404(money_selectors.money_sanctions_visible_to(request.user), pk=pk)
        release = money_services.deferral_release(sanction=sanction, actor=request.user, now=timezone.now(),
                                                  reason=data.validated_data["reason"])
        return Response(DeferralReleaseOutput({"sanction": sanction.pk, "released_at": release.released_at,
                                               "reason": release.reason}).data)


class MonthConfirmInput(serializers.Serializer):
    period = serializers.CharField()


class MonthConfirmOutput(serializers.Serializer):
    period = serializers.CharField()
    confirmed = serializers.IntegerField(help_text="确认的结算单数")


class PaymentRowOutput(serializers.Serializer):
    statement_id = serializers.IntegerField()
    number = serializers.CharField()
    organisation_kind = serializers.CharField()
    code = serializers.CharField()
    name = serializers.CharField()
    bank_name = serializers.CharField()
    bank_account_name = serializers.CharField()
    bank_account_no = serializers.CharField()
    fund_payment = serializers.DecimalField(**MONEY)
    deposit = serializers.DecimalField(**MONEY)
    deductions = serializers.DecimalField(**MONEY)
    payable = serializers.DecimalField(**MONEY)
    held = serializers.DecimalField(**MONEY)
    pay_now = serializers.DecimalField(**MONEY)


class PaymentTotalsOutput(serializers.Serializer):
    fund_payment = serializers.DecimalField(**MONEY)
    deposit = serializers.DecimalField(**MONEY)
    deductions = serializers.DecimalField(**MONEY)
    payable = serializers.DecimalField(**MONEY)
    held = serializers.DecimalField(**MONEY)
    pay_now = serializers.DecimalField(**MONEY)


class PaymentListOutput(serializers.Serializer):
    period = serializers.CharField()
    results = PaymentRowOutput(many=True, source="rows")
    totals = PaymentTotalsOutput()


class MonthConfirmView(APIView):
    """POST /api/v1/settlements/confirm-month/ {"period"}: every draft statement of the month in the region."""

    permission_classes = [IsBureauAdmin]

    @extend_schema(request=MonthConfirmInput, responses=MonthConfirmOutput)
    def post(self, request):
        period = parse_period(request.data.get("period"))
        confirmed = money_services.statements_confirm_month(period=period, region=scope_region(request.user),
                                                            actor=request.user, today=timezone.localdate(),
                                                            now=timezone.now())
        return Response(MonthConfirmOutput({"period": label(period), "confirmed": len(confirmed)}).data)


# --------------------------------------------------------------------------- payment list

class CsvRenderer(BaseRenderer):
    """Lets ``?format=csv`` through content negotiation; the view returns the CSV itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes | str) else b""


class PaymentListView(APIView):
    """GET /api/v1/settlements/payment-list/?period=2026-11[&format=xlsx|csv]: the finance office's list."""

    permission_classes = [IsBureau]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, XlsxRenderer, CsvRenderer]

    @extend_schema(parameters=[OpenApiParameter("period", str, required=True),
                               OpenApiParameter("format", str, enum=["json", "xlsx", "csv"])],
                   responses=PaymentListOutput)
    def get(self, request):
        period = parse_period(request.query_params.get("period"))
        with replica_reads():  # a list for payment and export: may read the replica (issue 16)
            listing = money_selectors.payment_list(period=period, region=scope_region(request.user))
        fmt = request.query_params.get("format")
        if fmt == "xlsx":
            return money_excel.payment_list_xlsx_response(listing)
        if fmt == "csv":
            return money_excel.payment_list_csv_response(listing)
        return Response(PaymentListOutput(listing).data)


# --------------------------------------------------------------------------- ward-delivery payments (R-SET-2)

class WardPaymentInput(serializers.Serializer):
    paid_on = serializers.DateField()
    amount = serializers.DecimalField(**MONEY)
    reference = serializers.CharField(max_length=64)
    pharmacy = serializers.CharField(required=False, allow_blank=True, help_text="收款药店编码（涉及多家药店时必填）")


class WardPaymentOutput(serializers.ModelSerializer):
    pharmacy = serializers.CharField(source="pharmacy.code")

    class Meta:
        model = WardPayment
        fields = ["id", "statement", "pharmacy", "paid_on", "amount", "reference", "recorded_at", "reversed_at",
                  "reversal_reason"]


class WardPaymentCreatedOutput(WardPaymentOutput):
    owed = serializers.DecimalField(**MONEY)
    paid_total = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)

    class Meta(WardPaymentOutput.Meta):
        fields = [*WardPaymentOutput.Meta.fields, "owed", "paid_total", "outstanding"]


class WardStatusOutput(serializers.Serializer):
    statement_id = serializers.IntegerField()
    period = serializers.CharField()
    institution_code = serializers.CharField()
    pharmacy_code = serializers.CharField()
    owed = serializers.DecimalField(**MONEY)
    paid = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    due_date = serializers.DateField()
    status = serializers.CharField()
    overdue = serializers.BooleanField()


class WardStatementOutput(serializers.Serializer):
    status = WardStatusOutput(many=True)
    payments = WardPaymentOutput(many=True)


class WardPaymentListView(APIView):
    """GET/POST /api/v1/settlements/{id}/payments/: the hospital's payments of a ward-delivery statement (R-SET-2)."""

    permission_classes = [IsAuthenticated]

    def _statement(self, request, pk):
        return get_object_or_404(money_selectors.ward_statements_visible_to(request.user), pk=pk)

    @extend_schema(responses=WardStatementOutput)
    def get(self, request, pk):
        statement = self._statement(request, pk)
        rows = money_selectors.ward_payment_status(
            statements=money_selectors.ward_statements_visible_to(request.user).filter(pk=statement.pk),
            today=timezone.localdate())
        if request.user.role == Role.PHARMACY:
            rows = [r for r in rows if r["pharmacy_code"] == request.user.pharmacy.code]
        return Response(WardStatementOutput({"status": rows, "payments": money_selectors.ward_payments_for(
            statement, request.user)}).data)

    @extend_schema(request=WardPaymentInput, responses={201: WardPaymentCreatedOutput})
    def post(self, request, pk):
        if not IsOrganisationUser().has_permission(request, self):
            raise ApplicationError("forbidden", "只有付款的医疗机构或收款的药店可以登记付款", status=403)
        statement = self._statement(request, pk)
        data = WardPaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        payment = money_services.ward_payment_record(statement=statement, actor=request.user, paid_on=v["paid_on"],
                                                     amount=v["amount"], reference=v["reference"],
                                                     pharmacy_code=v.get("pharmacy") or None, now=timezone.now())
        row = next(r for r in money_selectors.ward_payment_status(
            statements=money_selectors.ward_statements_visible_to(request.user).filter(pk=statement.pk),
            today=timezone.localdate()) if r["pharmacy_code"] == payment.pharmacy.code)
        payment.owed, payment.paid_total, payment.outstanding = row["owed"], row["paid"], row["outstanding"]
        return Response(WardPaymentCreatedOutput(payment).data, status=status.HTTP_201_CREATED)


class WardPaymentReverseView(APIView):
    """POST /api/v1/settlements/{id}/payments/{payment_id}/reverse/ {"reason"}."""

    permission_classes = [IsOrganisationUser]

    @extend_schema(request=DeferralReleaseInput, responses=WardPaymentOutput)
    def post(self, request, pk, payment_id):
        statement = get_object_or_404(money_selectors.ward_statements_visible_to(request.user), pk=pk)
        payment = get_object_or_404(money_selectors.ward_payments_for(statement, request.user), pk=payment_id)
        data = DeferralReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment = money_services.ward_payment_reverse(payment=payment, actor=request.user, now=timezone.now(),
                                                      reason=data.validated_data["reason"])
        return Response(WardPaymentOutput(payment).data)


# --------------------------------------------------------------------------- monthly reports (R-SET-3)

class ReportLineInput(serializers.Serializer):
    drug_code = serializers.CharField()
    visits = serializers.IntegerField()
    total = serializers.DecimalField(**MONEY)
    fund_payment = serializers.DecimalField(**MONEY)


class MonthlyReportInput(serializers.Serializer):
    period = serializers.CharField()
    visits = serializers.CharField()
    total = serializers.CharField()
    fund_payment = serializers.CharField()
    lines = ReportLineInput(many=True, required=False)


class MonthlyReportOutput(serializers.ModelSerializer):
    period = serializers.SerializerMethodField()
    organisation_code = serializers.SerializerMethodField()
    late = serializers.SerializerMethodField()

    class Meta:
        model = InstitutionMonthlyReport
        fields = ["id", "period", "organisation_kind", "organisation_code", "visits", "total", "fund_payment",
                  "source", "submitted_at", "updated_at", "late"]

    def get_period(self, obj) -> str:
        return label(obj.period)

    def get_organisation_code(self, obj) -> str:
        return obj.organisation.code

    def get_late(self, obj) -> bool:
        return timezone.localtime(obj.submitted_at).date() > money_selectors.report_due(obj.period)


@extend_schema_field(OpenApiTypes.STR)
class CountOrMoneyField(serializers.Field):
    """Visits as a whole number ("2"), amounts to the fen ("1984.50")."""

    def to_representation(self, value):
        return str(value) if isinstance(value, int) else f"{value:.2f}"


class FigureOutput(serializers.Serializer):
    figure = serializers.ChoiceField(choices=["visits", "total", "fund_payment"])
    name = serializers.CharField()
    reported = CountOrMoneyField()
    system = CountOrMoneyField()
    difference = CountOrMoneyField()
    matches = serializers.BooleanField()


class LineFiguresOutput(serializers.Serializer):
    visits = serializers.IntegerField()
    total = serializers.DecimalField(**MONEY)
    fund_payment = serializers.DecimalField(**MONEY)


class DifferenceLineOutput(serializers.Serializer):
    drug_code = serializers.CharField()
    generic_name = serializers.CharField()
    system = LineFiguresOutput()
    reported = LineFiguresOutput()
    difference = LineFiguresOutput()
    matches = serializers.BooleanField()
    dispensings = serializers.ListField(child=serializers.IntegerField())


class ReportDetailOutput(serializers.Serializer):
    report = MonthlyReportOutput()
    matches = serializers.BooleanField()
    figures = FigureOutput(many=True)
    lines = DifferenceLineOutput(many=True)
    dispensings = serializers.ListField(child=serializers.IntegerField())


class ReportStatusRowOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=["on_time", "late", "missing", "missing_overdue"])
    differs = serializers.BooleanField(allow_null=True)
    report = serializers.IntegerField(source="report.pk", allow_null=True, default=None)


class ReportStatusOutput(serializers.Serializer):
    period = serializers.CharField()
    due = serializers.DateField()
    results = ReportStatusRowOutput(many=True)


class MonthlyReportListView(APIView):
    """POST /api/v1/monthly-reports/ (JSON figures, or multipart ``file`` = the Excel report with ``period``);
    GET lists the reports the user may see (``?period=``)."""

    parser_classes = [ObjectJSONParser, MultiPartParser, FormParser]  # a body is one JSON object (R-SEC-4)

    def get_permissions(self):
        return [IsOrganisationUser()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(parameters=[OpenApiParameter("period", str)], responses=MonthlyReportOutput(many=True))
    def get(self, request):
        qs = money_selectors.reports_visible_to(request.user)
        if request.query_params.get("period"):
            qs = qs.filter(period=parse_period(request.query_params["period"]))
        return Response(MonthlyReportOutput(qs.order_by("-period", "id"), many=True).data)

    @extend_schema(request=MonthlyReportInput, responses={201: MonthlyReportOutput})
    def post(self, request):
        organisation = organisation_of(request.user)
        period = parse_period(request.data.get("period"))
        upload = request.FILES.get("file")
        if upload is not None:
            figures, lines = money_services.institution_report_rows_from_xlsx(upload)
            source = InstitutionMonthlyReport.Source.EXCEL
        else:
            data = MonthlyReportInput(data=request.data)
            data.is_valid(raise_exception=True)
            figures = {k: data.validated_data[k] for k in ("visits", "total", "fund_payment")}
            lines = [dict(line) for line in data.validated_data.get("lines", [])]
            source = InstitutionMonthlyReport.Source.API
        report = money_services.institution_report_submit(organisation=organisation, period=period, figures=figures,
                                                          lines=lines, actor=request.user, source=source,
                                                          now=timezone.now())
        return Response(MonthlyReportOutput(report).data, status=status.HTTP_201_CREATED)


class MonthlyReportDetailView(APIView):
    """GET /api/v1/monthly-reports/{id}/: the report and its differences from the system's figures."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReportDetailOutput)
    def get(self, request, pk):
        report = get_object_or_404(money_selectors.reports_visible_to(request.user), pk=pk)
        return Response(ReportDetailOutput({"report": report, **money_selectors.report_differences(report)}).data)


class MonthlyReportStatusView(APIView):
    """GET /api/v1/monthly-reports/status/?period=2026-11: who has not reported, who is late, whose figures differ."""

    permission_classes = [IsBureau]

    @extend_schema(parameters=[OpenApiParameter("period", str, required=True)], responses=ReportStatusOutput)
    def get(self, request):
        period = parse_period(request.query_params.get("period"))
        rows = money_selectors.report_status(period=period, region=scope_region(request.user),
                                             today=timezone.localdate())
        return Response(ReportStatusOutput({"period": label(period), "due": money_selectors.report_due(period),
                                            "results": rows}).data)
