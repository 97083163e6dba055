"""REST endpoints of the catalogue (API.md "Catalogue" and "Administration"): drugs, payment-standard history,
withdrawal, and the Excel import/export of the catalogue and the registries (R-CAT-2)."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from django.db.models import Q
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.permissions import IsBureau, IsBureauAdmin, ReadAnyWriteBureauAdmin
from apps.catalogue import selectors, services
from apps.catalogue.selectors import with_current_standard
from apps.core.excel import registry as excel_kinds
from apps.core.excel.exporting import XLSX_CONTENT_TYPE, export_filename, export_workbook
from apps.catalogue.models import Drug, ImportRun, PaymentStandard, TherapeuticArea
from apps.core.exceptions import ApplicationError, NotFoundError


def ratio_text(value: Decimal | None) -> str | None:
    """A fraction with at least two decimals: 0.1000 → "0.10", 0.0525 → "0.0525" (API.md)."""
    if value is None:
        return None
    text = f"{Decimal(value).normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


# --- serializers (shapes only) --------------------------------------------------------------------------------

class PaymentStandardSerializer(serializers.ModelSerializer):
    class Meta:
        model = PaymentStandard
        fields = ["amount", "valid_from", "valid_until", "source"]


class DrugSerializer(serializers.ModelSerializer):
    category_display = serializers.CharField(source="get_category_display")
    therapeutic_area = serializers.CharField(source="therapeutic_area.name")
    therapeutic_area_code = serializers.CharField(source="therapeutic_area.code")
    route_display = serializers.CharField(source="get_route_display")
    payment_standard = serializers.SerializerMethodField()
    first_self_pay_ratio = serializers.SerializerMethodField()
    listing_end = serializers.DateField()
    active = serializers.SerializerMethodField()
    withdrawal_reason_display = serializers.CharField(source="get_withdrawal_reason_display")

    class Meta:
        model = Drug
        fields = ["id", "code", "generic_name", "dosage_form", "specification", "manufacturer", "category",
                  "category_display", "therapeutic_area", "therapeutic_area_code", "route", "route_display",
                  "cold_chain", "payment_standard", "first_self_pay_ratio", "restricted_scope", "agreement_start",
                  "agreement_end", "listing_end", "active", "withdrawn_on", "withdrawal_reason",
                  "withdrawal_reason_display"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_payment_standard(self, drug) -> str:
        amount = getattr(drug, "current_standard", None)
        return f"{(amount if amount is not None else drug.payment_standard):.2f}"

    @extend_schema_field(OpenApiTypes.STR)
    def get_first_self_pay_ratio(self, drug) -> str:
        return ratio_text(drug.first_self_pay_ratio)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_active(self, drug) -> bool:
        return drug.is_listed_on(timezone.localdate())


class DrugDetailSerializer(DrugSerializer):
    payment_standards = PaymentStandardSerializer(many=True, read_only=True)

    class Meta(DrugSerializer.Meta):
        fields = DrugSerializer.Meta.fields + ["withdrawal_note", "payment_standards"]


class DrugFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, help_text="通用名、代码或生产企业")
    code = serializers.CharField(required=False)
    generic_name = serializers.CharField(required=False)
    manufacturer = serializers.CharField(required=False)
    category = serializers.ChoiceField(choices=Drug.Category.choices, required=False)
    therapeutic_area = serializers.CharField(required=False, help_text="治疗领域编码或名称")
    dosage_form = serializers.CharField(required=False)
    route = serializers.ChoiceField(choices=Drug.Route.choices, required=False)
    listed_on = serializers.DateField(required=False, help_text="在该日期有效（R-CAT-4/5）")
    active = serializers.BooleanField(required=False, allow_null=True, default=None,
                                      help_text="true：今日在目录内；false：不在")


class AreaField(serializers.SlugRelatedField):
    """A therapeutic area by code or Chinese name."""

    def to_internal_value(self, data):
        area = TherapeuticArea.objects.filter(Q(code=data) | Q(name=data)).first()
        if area is None:
            self.fail("does_not_exist", slug_name="code", value=data)
        return area


class DrugInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=23)
    generic_name = serializers.CharField(max_length=128)
    dosage_form = serializers.CharField(max_length=32)
    specification = serializers.CharField(max_length=128)
    manufacturer = serializers.CharField(max_length=128)
    category = serializers.ChoiceField(choices=Drug.Category.choices)
    therapeutic_area = AreaField(slug_field="code", queryset=TherapeuticArea.objects.all())
    route = serializers.ChoiceField(choices=Drug.Route.choices, default=Drug.Route.ORAL)
    cold_chain = serializers.BooleanField(default=False)
    payment_standard = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    first_self_pay_ratio = serializers.DecimalField(max_digits=5, decimal_places=4, min_value=Decimal("0"),
                                                    max_value=Decimal("1"), default=Decimal("0"))
    restricted_scope = serializers.CharField(required=False, allow_blank=True, default="")
    agreement_start = serializers.DateField()
    agreement_end = serializers.DateField(required=False, allow_null=True, default=None)


class DrugUpdateSerializer(DrugInputSerializer):
    effective_date = serializers.DateField(required=False, help_text="支付标准变更的生效日期（R-CAT-3），默认今日")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, fld in self.fields.items():
            fld.required = False
            if name != "effective_date":
                fld.default = serializers.empty


class WithdrawSerializer(serializers.Serializer):
    withdrawn_on = serializers.DateField()
    reason = serializers.ChoiceField(choices=Drug.WithdrawalReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=False)
    effective_date = serializers.DateField(required=False, help_text="本次导入中支付标准变更的生效日期，默认今日")


class ImportRunSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    kind_display = serializers.CharField(source="get_kind_display")
    created = serializers.IntegerField(source="created_count")
    updated = serializers.IntegerField(source="updated_count")
    unchanged = serializers.IntegerField(source="unchanged_count")
    progress = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None)
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportRun
        fields = ["id", "kind", "kind_display", "file_name", "status", "status_display", "dry_run", "asynchronous",
                  "phase", "progress", "created", "updated", "unchanged", "changes", "error_count", "errors",
                  "more_errors", "message", "effective_date", "created_by", "created_at", "finished_at",
                  "applied_at", "status_url"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_progress(self, run) -> dict:
        return {"processed": run.processed_rows, "total": run.total_rows, "percent": run.progress_percent}

    @extend_schema_field(OpenApiTypes.STR)
    def get_status_url(self, run) -> str:
        return reverse("catalogue-api:import-run", args=[run.pk])


# --- helpers ----------------------------------------------------------------------------------------------------

def _drug_for(user, ref: str) -> Drug:
    qs = with_current_standard(selectors.drugs_visible_to(user), today=timezone.localdate())
    # an id is ASCII digits that fit a bigint; "²" or "١٢٣" is a code that matches nothing (R-SEC-4: was 500)
    by_id = ref.isascii() and ref.isdigit() and len(ref) <= 18
    drug = qs.filter(pk=int(ref)).first() if by_id else qs.filter(code=ref.upper()).first()
    if drug is None:
        raise NotFoundError("药品不存在")
    return drug


def run_response(run: ImportRun, *, created_status: int = status.HTTP_200_OK) -> Response:
    """The R-CAT-2 result: counts, or ``invalid_import`` with every bad row (400) and nothing written."""
    body = ImportRunSerializer(run).data
    if run.status == ImportRun.Status.FAILED:
        error = ApplicationError("invalid_import", run.message or "导入文件有误，未写入任何数据",
                                 data={"errors": run.errors, "error_count": run.error_count,
                                       "more_errors": run.more_errors, "id": run.pk, "status": run.status,
                                       "status_url": body["status_url"]})
        return Response(error.as_body(), status=400)
    if not run.is_finished:
        return Response(body, status=status.HTTP_202_ACCEPTED)
    return Response(body, status=created_status)


def xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


# --- drugs ------------------------------------------------------------------------------------------------------

class DrugListView(ListAPIView):
    """GET: the catalogue with API.md's fields and filters, for every signed-in role.
    POST: a new drug (bureau administrators; others 403)."""

    permission_classes = [ReadAnyWriteBureauAdmin]
    serializer_class = DrugSerializer
    filter_backends: list = []

    @extend_schema(parameters=[DrugFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = DrugFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        today = timezone.localdate()
        return with_current_standard(selectors.drug_list(user=self.request.user, today=today,
                                                         filters=filters.validated_data), today=today)

    @extend_schema(request=DrugInputSerializer, responses={201: DrugDetailSerializer})
    def post(self, request):
        data = DrugInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        drug = services.drug_create(actor=request.user, **data.validated_data)
        return Response(DrugDetailSerializer(_drug_for(request.user, str(drug.pk))).data,
                        status=status.HTTP_201_CREATED)


class DrugDetailView(APIView):
    permission_classes = [ReadAnyWriteBureauAdmin]

    @extend_schema(responses=DrugDetailSerializer)
    def get(self, request, ref: str):
        return Response(DrugDetailSerializer(_drug_for(request.user, ref)).data)

    @extend_schema(request=DrugUpdateSerializer, responses=DrugDetailSerializer)
    def patch(self, request, ref: str):
        drug = _drug_for(request.user, ref)
        data = DrugUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        effective = changes.pop("effective_date", None)
        services.drug_update(drug=drug, actor=request.user, effective_date=effective or timezone.localdate(), **changes)
        return Response(DrugDetailSerializer(_drug_for(request.user, ref)).data)

    put = patch


class DrugWithdrawView(APIView):
    permission_classes = [IsBureauAdmin]

    @extend_schema(request=WithdrawSerializer, responses=DrugDetailSerializer)
    def post(self, request, ref: str):
        drug = _drug_for(request.user, ref)
        data = WithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.drug_withdraw(drug=drug, actor=request.user, now=timezone.now(), **data.validated_data)
        return Response(DrugDetailSerializer(_drug_for(request.user, ref)).data)


# --- imports and exports -------------------------------------------------------------------------------------------

class ImportCreateView(APIView):
    """POST an .xlsx (multipart ``file``; ``dry_run=true`` for a preview). Small files answer at once (200 preview,
    201 applied, 400 ``invalid_import``); large ones answer 202 with the run's ``id`` and ``status_url``."""

    permission_classes = [IsBureauAdmin]
    parser_classes = [MultiPartParser, FormParser]
    kind = "drugs"

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses=ImportRunSerializer)
    def post(self, request, kind: str | None = None):
        data = ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.import_run_create(kind=kind or self.kind, upload=data.validated_data["file"],
                                         actor=request.user, now=timezone.now(),
                                         dry_run=data.validated_data["dry_run"],
                                         effective_date=data.validated_data.get("effective_date"))
        run = services.import_run_start(run=run, clock=timezone.now)
        return run_response(run, created_status=status.HTTP_200_OK if run.dry_run else status.HTTP_201_CREATED)


class ImportRunListView(ListAPIView):
    permission_classes = [IsBureau]
    serializer_class = ImportRunSerializer
    filter_backends: list = []

    def get_queryset(self):
        qs = selectors.import_runs_visible_to(self.request.user)
        kind = self.kwargs.get("kind") or self.request.query_params.get("kind")
        return qs.filter(kind=kind) if kind else qs


class ImportRunView(APIView):
    """GET the status of a run (progress while it works, the result when it is done)."""

    permission_classes = [IsBureau]

    @extend_schema(responses=ImportRunSerializer)
    def get(self, request, pk: int):
        return run_response(selectors.import_run_get(user=request.user, pk=pk))


class ImportConfirmView(APIView):
    """POST: apply a previewed run — the same kept file, refused if the plan changed since the preview."""

    permission_classes = [IsBureauAdmin]

    @extend_schema(request=None, responses=ImportRunSerializer)
    def post(self, request, pk: int):
        run = selectors.import_run_get(user=request.user, pk=pk)
        run = services.import_run_confirm(run=run, actor=request.user)
        run = services.import_run_start(run=run, clock=timezone.now)
        return run_response(run, created_status=status.HTTP_201_CREATED)


class TemplateView(APIView):
    permission_classes = [IsBureau]

    @extend_schema(responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY})
    def get(self, request, kind: str = "drugs"):
        _check_kind(kind)
        return xlsx_response(export_workbook(kind=kind, user=request.user, empty=True),
                             export_filename(kind, empty=True))


class ExportView(APIView):
    permission_classes = [IsBureau]

    @extend_schema(responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY})
    def get(self, request, kind: str = "drugs"):
        _check_kind(kind)
        return xlsx_response(export_workbook(kind=kind, user=request.user),
                             export_filename(kind, today=timezone.localdate()))


def _check_kind(kind: str):
    if not excel_kinds.is_registered(kind):
        raise NotFoundError(f"不支持的导入类型：{kind}")
