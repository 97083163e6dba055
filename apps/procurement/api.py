"""REST endpoints of volume-based procurement (API.md "Revision 2 additions", section 10): rounds, agreements,
the purchase import and repayments. Bureau users see their region, an institution its own rows (R-SEC-1: another
organisation's rows are 404)."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.exceptions import ApplicationError, NotFoundError
from apps.core.permissions import IsBureauAdmin
from apps.procurement import importing, selectors, services


class IsBureauOrInstitution(BasePermission):
    """Section 10 is the bureau's and the public institutions' (pharmacies have no part in it)."""

    def has_permission(self, request, view):
        return selectors.is_bureau(request.user) or selectors.is_institution(request.user)


# --- rounds ---------------------------------------------------------------------------------------------------

class WinningProductOutput(serializers.Serializer):
    code = serializers.CharField()
    generic_name = serializers.CharField()
    dosage_form = serializers.CharField()
    specification = serializers.CharField()
    firms = serializers.ListField(child=serializers.CharField())
    firm_count = serializers.IntegerField()
    winning_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    execution_date = serializers.DateField()
    cycle_years = serializers.IntegerField()
    extended = serializers.BooleanField()
    extension_decision = serializers.CharField()
    cycle_end = serializers.DateField()


class RoundOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    region = serializers.CharField(source="region.code")
    products = serializers.SerializerMethodField()

    def get_products(self, obj) -> list[dict]:
        return WinningProductOutput(obj.products.all(), many=True).data


class RoundListView(ListAPIView):
    """GET /api/v1/procurement/rounds/ — R-VBP-1: rounds with their winning products and cycles."""

    permission_classes = [IsBureauOrInstitution]
    serializer_class = RoundOutput

    def get_queryset(self):
        return selectors.rounds_visible_to(self.request.user).prefetch_related("products").order_by("-id")


# --- agreements -----------------------------------------------------------------------------------------------

class AgreementOutput(serializers.Serializer):
    id = serializers.IntegerField()
    round = serializers.CharField(source="contract.product.round.code")
    product = serializers.CharField(source="contract.product.code")
    generic_name = serializers.CharField(source="contract.product.generic_name")
    dosage_form = serializers.CharField(source="contract.product.dosage_form")
    specification = serializers.CharField(source="contract.product.specification")
    winning_price = serializers.DecimalField(source="contract.product.winning_price", max_digits=14, decimal_places=2)
    institution = serializers.SerializerMethodField()
    cycle_year = serializers.IntegerField(source="contract.cycle_year")
    starts_on = serializers.DateField(source="contract.starts_on")
    ends_on = serializers.DateField(source="contract.ends_on")
    base_quantity = serializers.IntegerField()
    agreed_volume = serializers.IntegerField()
    purchased = serializers.IntegerField()
    completion = serializers.SerializerMethodField()

    def get_institution(self, obj) -> dict:
        return {"code": obj.institution.code, "name": obj.institution.name}

    def get_completion(self, obj) -> str:
        """purchased ÷ agreed as a decimal fraction (``"0.2083"``); may pass 1 (R-VBP-3)."""
        return str(selectors.completion_ratio(obj.purchased, obj.agreed_volume))


class AgreementListView(ListAPIView):
    """GET /api/v1/procurement/agreements/?institution=H…&year=2026 — R-VBP-2 agreed volumes with the purchases
    so far (``year``: contracts running at some time in that calendar year; ``cycle_year``: 1, 2, 3)."""

    permission_classes = [IsBureauOrInstitution]
    serializer_class = AgreementOutput

    @extend_schema(parameters=[
        OpenApiParameter("institution", OpenApiTypes.STR, description="医疗机构编码"),
        OpenApiParameter("year", OpenApiTypes.INT, description="自然年度"),
        OpenApiParameter("cycle_year", OpenApiTypes.INT, description="采购周期年度 1–3"),
        OpenApiParameter("product", OpenApiTypes.STR, description="品种编码"),
    ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        try:
            filters = selectors.agreement_filters(
                institution=params.get("institution"), year=params.get("year"), cycle_year=params.get("cycle_year"),
                product=params.get("product"))
        except ValueError as exc:
            raise ApplicationError("invalid", str(exc), fields={"year": [str(exc)]}) from None
        qs = selectors.agreement_list(user=self.request.user, today=timezone.localdate(), **filters)
        if filters.get("institution") and not selectors.institution_visible(self.request.user, filters["institution"]):
            raise NotFoundError("未找到该医疗机构")
        return qs


# --- purchases import -------------------------------------------------------------------------------------------

class ImportInput(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=False)


class PurchaseImportView(APIView):
    """POST /api/v1/procurement/purchases/imports/ (multipart ``file`` .xlsx, ``dry_run``) — R-VBP-3 purchases as
    the provincial platform exports them; all or nothing, every bad row with ``row``, ``column``, ``message``
    (R-CAT-2). ``200`` with the counts of a preview (``dry_run``), ``201`` once written, ``400`` ``invalid_import``
    with ``errors`` and nothing written."""

    permission_classes = [IsBureauAdmin]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ImportInput}, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        data = ImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = importing.import_file(kind=importing.PURCHASES, upload=data.validated_data["file"],
                                       actor=request.user, dry_run=data.validated_data["dry_run"])
        return Response(result, status=status.HTTP_200_OK if result["dry_run"] else status.HTTP_201_CREATED)


# --- repayments -----------------------------------------------------------------------------------------------

class InvoiceOutput(serializers.Serializer):
    invoice_no = serializers.CharField()
    institution = serializers.SerializerMethodField()
    product = serializers.CharField(source="product.code")
    generic_name = serializers.CharField(source="product.generic_name")
    firm = serializers.CharField()
    quantity = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    invoice_date = serializers.DateField()
    due_on = serializers.DateField()
    repaid = serializers.DecimalField(max_digits=14, decimal_places=2)
    outstanding = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid_on = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    days_overdue = serializers.SerializerMethodField()

    def get_institution(self, obj) -> dict:
        return {"code": obj.institution.code, "name": obj.institution.name}

    def get_paid_on(self, obj) -> dt.date | None:
        return obj.last_paid if obj.fully_repaid else None

    def get_status(self, obj) -> str:
        """``paid`` (on time), ``paid_late``, ``open`` (not yet due), ``overdue``."""
        return selectors.invoice_status(obj, today=self.context["today"])

    def get_days_overdue(self, obj) -> int:
        return selectors.days_overdue(obj, today=self.context["today"])


class RepaymentInput(serializers.Serializer):
    invoice_no = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid_on = serializers.DateField()
    reference = serializers.CharField(required=False, allow_blank=True, default="")


class RepaymentListView(ListAPIView):
    """GET /api/v1/procurement/repayments/?overdue=true — R-VBP-5: winning-product invoices with their repayment
    state and days overdue (due 30 days after the invoice date; that day is on time). POST (bureau administrators)
    records a repayment ``{"invoice_no", "amount", "paid_on", "reference"}``."""

    permission_classes = [IsBureauOrInstitution]
    serializer_class = InvoiceOutput

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsBureauAdmin()]
        return super().get_permissions()

    def get_serializer_context(self):
        return super().get_serializer_context() | {"today": timezone.localdate()}

    @extend_schema(parameters=[
        OpenApiParameter("overdue", OpenApiTypes.BOOL, description="true：仅列出逾期未回款的发票"),
        OpenApiParameter("institution", OpenApiTypes.STR, description="医疗机构编码"),
    ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        user, today = self.request.user, timezone.localdate()
        overdue = (self.request.query_params.get("overdue") or "").lower() in ("true", "1", "yes")
        qs = (selectors.overdue_invoices(user, today=today) if overdue
              else selectors.invoices_visible_to(user, today=today))
        code = self.request.query_params.get("institution")
        if code:
            if not selectors.institution_visible(user, code):
                raise NotFoundError("未找到该医疗机构")
            qs = qs.filter(institution__code=code)
        return qs

    @extend_schema(request=RepaymentInput, responses={201: InvoiceOutput})
    def post(self, request):
        data = RepaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        purchase = selectors.purchases_visible_to(request.user).filter(invoice_no=v["invoice_no"]).first()
        if purchase is None:
            raise NotFoundError(f"未找到发票 {v['invoice_no']}")
        services.repayment_record(purchase=purchase, amount=v["amount"], paid_on=v["paid_on"],
                                  reference=v["reference"], actor=request.user)
        today = timezone.localdate()
        invoice = selectors.invoices_visible_to(request.user, today=max(today, v["paid_on"])).get(pk=purchase.pk)
        return Response(InvoiceOutput(invoice, context={"today": today}).data, status=status.HTTP_201_CREATED)
