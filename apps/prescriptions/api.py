"""REST API of prescriptions, dispensing and stock (API.md "Prescriptions", "Stock"), and for bureau users the
R-PAY-5 manual claims and cross-region filings. Thin: serializers check
shapes, services decide; objects come through the scoped selectors (404 outside the user's organisation)."""
from __future__ import annotations

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.applications.models import InsuredPerson
from apps.catalogue.models import Drug
from apps.core.models import Region
from apps.core.roles import BUREAU_ROLES
from apps.core.permissions import IsBureau, IsHospital, IsPharmacy
from apps.core.exceptions import ApplicationError
from apps.core.masking import mask_id_number
from apps.core.selectors import regions_under
from apps.pharmacies.selectors import pharmacies_visible_to
from apps.policies.models import CareSetting
from apps.prescriptions import selectors, services
from apps.prescriptions.models import CrossRegionFiling, Delivery, Dispensing, ManualClaim, Prescription, StockMovement

MONEY = {"max_digits": 14, "decimal_places": 2}


# --- input shapes ------------------------------------------------------------------------------------------------

class PatientIn(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    id_number = serializers.CharField(max_length=18)
    insurance_type = serializers.CharField(max_length=10)
    insured_region = serializers.CharField(max_length=6)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    card_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    employer = serializers.CharField(max_length=128, required=False, allow_blank=True)


class UploadItemIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    quantity = serializers.IntegerField(min_value=1, max_value=10000)
    days_supply = serializers.IntegerField(min_value=1, max_value=366)


class UploadIn(serializers.Serializer):
    serial_no = serializers.CharField(max_length=64)
    application = serializers.IntegerField(required=False, allow_null=True)
    physician_code = serializers.CharField(max_length=20)
    pharmacy_code = serializers.CharField(max_length=20)
    issued_at = serializers.DateTimeField()
    long_term = serializers.BooleanField(required=False, default=False)
    care_setting = serializers.ChoiceField(choices=CareSetting.choices, required=False, default=CareSetting.OUTPATIENT)
    items = UploadItemIn(many=True, allow_empty=False)
    signature = serializers.CharField()
    patient = PatientIn(required=False, allow_null=True)
    delivery = serializers.ChoiceField(choices=Delivery.choices, required=False, allow_blank=True, default="")


class DispenseItemIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    quantity = serializers.IntegerField(min_value=1, max_value=10000)
    unit_price = serializers.DecimalField(min_value=0, **MONEY)
    trace_codes = serializers.ListField(child=serializers.CharField(max_length=40), required=False, allow_null=True)


class DispenseIn(serializers.Serializer):
    dispensed_at = serializers.DateTimeField()
    items = DispenseItemIn(many=True, allow_empty=False)


class QuoteIn(DispenseIn):
    dispensed_at = serializers.DateTimeField(required=False, allow_null=True)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class DeclineIn(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Prescription.DeclineReason.choices)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReverseIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class StockMovementIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    kind = serializers.ChoiceField(choices=StockMovement.Kind.choices)
    quantity = serializers.IntegerField(min_value=1, max_value=1000000)
    unit_price = serializers.DecimalField(min_value=0, **MONEY)
    occurred_at = serializers.DateTimeField()


# --- output shapes (the OpenAPI schema; the views build the same dicts directly, which is faster on the hot path)

class PatientOut(serializers.Serializer):
    name = serializers.CharField()
    id_number = serializers.CharField(help_text="masked (R-SEC-2)")
    insurance_type = serializers.CharField()


class ItemOut(serializers.Serializer):
    drug_code = serializers.CharField()
    generic_name = serializers.CharField()
    specification = serializers.CharField()
    quantity = serializers.IntegerField()
    days_supply = serializers.IntegerField()


class PrescriptionOut(serializers.Serializer):
    id = serializers.IntegerField()
    serial_no = serializers.CharField()
    status = serializers.ChoiceField(choices=Prescription.Status.choices)
    expires_at = serializers.DateTimeField()
    issued_at = serializers.DateTimeField()
    institution_code = serializers.CharField()
    institution_name = serializers.CharField()
    physician_code = serializers.CharField()
    physician_name = serializers.CharField()
    pharmacy_code = serializers.CharField()
    pharmacy_name = serializers.CharField()
    application = serializers.IntegerField(allow_null=True)
    patient = PatientOut()
    long_term = serializers.BooleanField()
    care_setting = serializers.CharField()
    delivery = serializers.ChoiceField(choices=Delivery.choices)
    downloaded_at = serializers.DateTimeField(allow_null=True)
    status_changed_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    decline_reason = serializers.CharField()
    decline_note = serializers.CharField()
    items = ItemOut(many=True)


class UploadOut(serializers.Serializer):
    id = serializers.IntegerField()
    serial_no = serializers.CharField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    delivery = serializers.CharField()


class SettlementOut(serializers.Serializer):
    total = serializers.DecimalField(**MONEY)
    first_self_pay = serializers.DecimalField(**MONEY)
    in_scope = serializers.DecimalField(**MONEY)
    deductible = serializers.DecimalField(**MONEY)
    fund_payment = serializers.DecimalField(**MONEY)
    personal_payment = serializers.DecimalField(**MONEY)


class LineOut(serializers.Serializer):
    drug_code = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)
    line_total = serializers.DecimalField(**MONEY)
    payment_standard = serializers.DecimalField(**MONEY)
    first_self_pay_ratio = serializers.DecimalField(max_digits=5, decimal_places=4)
    reimbursement_ratio = serializers.DecimalField(max_digits=5, decimal_places=4)
    first_self_pay = serializers.DecimalField(**MONEY)
    in_scope = serializers.DecimalField(**MONEY)
    fund_payment = serializers.DecimalField(**MONEY)
    personal_payment = serializers.DecimalField(**MONEY)


class DispensingOut(serializers.Serializer):
    id = serializers.IntegerField()
    prescription = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Dispensing.Kind.choices)
    reverses = serializers.IntegerField(allow_null=True)
    dispensed_at = serializers.DateTimeField()
    period = serializers.CharField(help_text="YYYY-MM, the settlement month it counts in")
    settlement_mode = serializers.ChoiceField(choices=Dispensing.Settlement.choices)
    policy = serializers.IntegerField()
    delivery = serializers.CharField()
    settlement = SettlementOut()
    lines = LineOut(many=True)


class QuoteOut(serializers.Serializer):
    prescription = serializers.IntegerField()
    settlement = SettlementOut()


class PrescriptionDetailOut(PrescriptionOut):
    dispensings = DispensingOut(many=True)


class MovementOut(serializers.Serializer):
    id = serializers.IntegerField()
    pharmacy_code = serializers.CharField()
    drug_code = serializers.CharField()
    kind = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY)
    occurred_at = serializers.DateTimeField()


class StockRowOut(serializers.Serializer):
    drug_code = serializers.CharField()
    generic_name = serializers.CharField()
    purchased = serializers.IntegerField()
    returned = serializers.IntegerField()
    dispensed = serializers.IntegerField()
    on_hand = serializers.IntegerField()


class StockOut(serializers.Serializer):
    pharmacy_code = serializers.CharField()
    results = StockRowOut(many=True)


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- output ------------------------------------------------------------------------------------------------------

def _money(value) -> str:
    return f"{value:.2f}"


def _dt(value):
    return timezone.localtime(value).isoformat() if value else None


def prescription_out(p: Prescription, *, items=None) -> dict:
    items = items if items is not None else list(p.items.all())
    return {
        "id": p.pk, "serial_no": p.serial_no, "status": p.status, "expires_at": _dt(p.expires_at),
        "issued_at": _dt(p.issued_at), "institution_code": p.institution.code, "institution_name": p.institution.name,
        "physician_code": p.physician.code, "physician_name": p.physician.name,
        "pharmacy_code": p.pharmacy.code, "pharmacy_name": p.pharmacy.name, "application": p.application_id,
        "patient": {"name": p.person.name, "id_number": mask_id_number(p.person.id_number),
                    "insurance_type": p.person.insurance_type},
        "long_term": p.long_term, "care_setting": p.care_setting, "delivery": p.delivery,
        "downloaded_at": _dt(p.downloaded_at), "status_changed_at": _dt(p.status_changed_at),
        "cancel_reason": p.cancel_reason, "decline_reason": p.decline_reason, "decline_note": p.decline_note,
        "items": [{"drug_code": i.drug.code, "generic_name": i.drug.generic_name, "specification": i.drug.specification,
                   "quantity": i.quantity, "days_supply": i.days_supply} for i in items],
    }


def settlement_out(figures: dict) -> dict:
    return {k: _money(v) for k, v in figures.items()}


def dispensing_out(d: Dispensing, lines=None) -> dict:
    lines = lines if lines is not None else list(d.lines.select_related("drug"))
    return {
        "id": d.pk, "prescription": d.prescription_id, "kind": d.kind, "reverses": d.reverses_id,
        "dispensed_at": _dt(d.dispensed_at), "period": f"{d.period:%Y-%m}", "settlement_mode": d.settlement,
        "policy": d.policy_id, "delivery": d.delivery,
        "settlement": settlement_out({"total": d.total, "first_self_pay": d.first_self_pay, "in_scope": d.in_scope,
                                      "deductible": d.deductible, "fund_payment": d.fund_payment,
                                      "personal_payment": d.personal_payment}),
        "lines": [{"drug_code": l.drug.code, "quantity": l.quantity, "unit_price": _money(l.unit_price),
                   "line_total": _money(l.line_total), "payment_standard": _money(l.payment_standard),
                   "first_self_pay_ratio": f"{l.first_self_pay_ratio:.4f}",
                   "reimbursement_ratio": f"{l.reimbursement_ratio:.4f}", "first_self_pay": _money(l.first_self_pay),
                   "in_scope": _money(l.in_scope), "fund_payment": _money(l.fund_payment),
                   "personal_payment": _money(l.personal_payment)} for l in lines],
    }


# --- views -------------------------------------------------------------------------------------------------------

class PrescriptionListCreate(GenericAPIView):
    """``POST`` (hospital) uploads (R-RX-1..3); ``GET`` lists what the user may see — for a pharmacy, what flowed
    to it, marking the first download (R-RX-6). Filters: ``status``, ``date_from``, ``date_to``, ``patient``,
    ``serial_no``."""

    permission_classes = [IsAuthenticated]
    serializer_class = PrescriptionOut
    queryset = Prescription.objects.none()  # schema only: reads go through the scoped selectors

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsHospital()]
        return [IsAuthenticated()]

    @extend_schema(request=UploadIn, responses={201: UploadOut, 200: UploadOut})
    def post(self, request):
        v = _valid(UploadIn, request.data)
        data = services.UploadData(
            serial_no=v["serial_no"].strip(), application=v.get("application"),
            physician_code=v["physician_code"], pharmacy_code=v["pharmacy_code"], issued_at=v["issued_at"],
            long_term=v["long_term"], care_setting=v["care_setting"], signature=v["signature"],
            items=[services.UploadItem(**i) for i in v["items"]], patient=v.get("patient") or None,
            delivery=v.get("delivery") or "",
        )
        prescription, created = services.prescription_upload(user=request.user, data=data, now=timezone.now())
        body = {"id": prescription.pk, "serial_no": prescription.serial_no, "status": prescription.status,
                "expires_at": _dt(prescription.expires_at), "delivery": prescription.delivery}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=PrescriptionOut(many=True), parameters=[
        OpenApiParameter("status", str, enum=Prescription.Status.values), OpenApiParameter("date_from", OpenApiTypes.DATE),
        OpenApiParameter("date_to", OpenApiTypes.DATE), OpenApiParameter("patient", str),
        OpenApiParameter("serial_no", str)])
    def get(self, request):
        q = request.query_params
        try:
            filters = selectors.PrescriptionFilters(
                status=q.get("status", ""), patient=q.get("patient", ""), serial_no=q.get("serial_no", ""),
                date_from=_date(q.get("date_from")), date_to=_date(q.get("date_to")))
        except ValueError:
            raise ApplicationError("invalid", "日期格式应为 YYYY-MM-DD", fields={"date_from": ["YYYY-MM-DD"]}) from None
        qs = selectors.prescription_list(user=request.user, filters=filters).prefetch_related("items__drug")
        page = self.paginate_queryset(qs)
        services.prescriptions_mark_downloaded(user=request.user, prescription_ids=[p.pk for p in page],
                                               now=timezone.now())
        return self.get_paginated_response([prescription_out(p) for p in page])


def _date(value):
    import datetime as dt

    return dt.date.fromisoformat(value) if value else None


class PrescriptionDetail(APIView):
    @extend_schema(responses=PrescriptionDetailOut)
    def get(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        services.prescriptions_mark_downloaded(user=request.user, prescription_ids=[prescription.pk], now=timezone.now())
        body = prescription_out(prescription, items=list(selectors.prescription_items(prescription)))
        body["dispensings"] = [dispensing_out(d) for d in prescription.dispensings.order_by("id")]
        return Response(body)


def _dispense_items(v) -> list[services.DispenseItem]:
    return [services.DispenseItem(drug_code=i["drug_code"], quantity=i["quantity"], unit_price=i["unit_price"],
                                  trace_codes=i.get("trace_codes")) for i in v["items"]]


class PrescriptionDispense(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=DispenseIn, responses={201: DispensingOut})
    def post(self, request, pk):
        v = _valid(DispenseIn, request.data)
        dispensing = services.prescription_dispense(prescription_id=pk, user=request.user,
                                                    dispensed_at=v["dispensed_at"], items=_dispense_items(v),
                                                    now=timezone.now())
        return Response(dispensing_out(dispensing, lines=dispensing.lines_cache), status=status.HTTP_201_CREATED)


class PrescriptionQuote(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=QuoteIn, responses={200: QuoteOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = _valid(QuoteIn, request.data)
        result = services.prescription_quote(prescription=prescription, dispensed_at=v.get("dispensed_at"),
                                             items=_dispense_items(v), now=timezone.now())
        return Response({"prescription": prescription.pk, "settlement": settlement_out(result.figures()),
                         "lines": [{"quantity": l.quantity, "unit_price": _money(l.unit_price),
                                    "line_total": _money(l.line_total), "first_self_pay": _money(l.first_self_pay),
                                    "in_scope": _money(l.in_scope), "fund_payment": _money(l.fund_payment),
                                    "personal_payment": _money(l.personal_payment)} for l in result.lines]})


class PrescriptionCancel(APIView):
    permission_classes = [IsHospital]

    @extend_schema(request=ReasonIn, responses={200: PrescriptionOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = _valid(ReasonIn, request.data)
        prescription = services.prescription_cancel(prescription=prescription, user=request.user, reason=v["reason"],
                                                    now=timezone.now())
        return Response(prescription_out(prescription))


class PrescriptionDecline(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=DeclineIn, responses={200: PrescriptionOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = _valid(DeclineIn, request.data)
        prescription = services.prescription_decline(prescription=prescription, user=request.user,
                                                     reason=v["reason"], note=v["note"], now=timezone.now())
        return Response(prescription_out(prescription))


class DispensingList(GenericAPIView):
    serializer_class = DispensingOut
    queryset = Dispensing.objects.none()  # schema only

    @extend_schema(responses=DispensingOut(many=True), parameters=[OpenApiParameter("period", str, description="YYYY-MM")])
    def get(self, request):
        qs = selectors.dispensings_visible_to(request.user).prefetch_related("lines__drug")
        if request.query_params.get("period"):
            try:
                period = _date(request.query_params["period"].strip() + "-01")
            except ValueError:
                raise ApplicationError("invalid", "月份格式应为 YYYY-MM", fields={"period": ["YYYY-MM"]}) from None
            qs = qs.filter(period=period)
        page = self.paginate_queryset(qs.order_by("-dispensed_at", "-id"))
        return self.get_paginated_response([dispensing_out(d, lines=list(d.lines.all())) for d in page])


class DispensingDetail(APIView):
    @extend_schema(responses=DispensingOut)
    def get(self, request, pk):
        return Response(dispensing_out(selectors.dispensing_get_for(request.user, pk)))


class DispensingReverse(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=ReverseIn, responses={201: DispensingOut})
    def post(self, request, pk):
        dispensing = selectors.dispensing_get_for(request.user, pk)
        v = _valid(ReverseIn, request.data)
        reversal = services.dispensing_reverse(dispensing=dispensing, user=request.user, reason=v["reason"],
                                               now=timezone.now())
        return Response(dispensing_out(reversal), status=status.HTTP_201_CREATED)


class StockMovementListCreate(GenericAPIView):
    serializer_class = MovementOut
    queryset = StockMovement.objects.none()  # schema only

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsPharmacy()]
        return [IsAuthenticated()]

    @extend_schema(request=StockMovementIn, responses={201: MovementOut})
    def post(self, request):
        v = _valid(StockMovementIn, request.data)
        movement = services.stock_movement_record(user=request.user, pharmacy=request.user.pharmacy, now=timezone.now(),
                                                  **v)
        return Response(_movement_out(movement), status=status.HTTP_201_CREATED)

    @extend_schema(responses=MovementOut(many=True), parameters=[OpenApiParameter("drug_code", str)])
    def get(self, request):
        qs = selectors.stock_movements_visible_to(request.user)
        if request.query_params.get("drug_code"):
            qs = qs.filter(drug__code=request.query_params["drug_code"].strip().upper())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response([_movement_out(m) for m in page])


def _movement_out(m: StockMovement) -> dict:
    return {"id": m.pk, "pharmacy_code": m.pharmacy.code, "drug_code": m.drug.code, "kind": m.kind,
            "quantity": m.quantity, "unit_price": _money(m.unit_price), "occurred_at": _dt(m.occurred_at)}


class StockList(APIView):
    """R-PHA-3: stock per drug = purchases − returns − dispensed. A pharmacy sees its own; bureau users name a
    pharmacy of their region with ``pharmacy_code``. ``drug_code`` narrows to one drug."""

    @extend_schema(responses=StockOut, parameters=[OpenApiParameter("pharmacy_code", str),
                                                   OpenApiParameter("drug_code", str)])
    def get(self, request):
        user = request.user
        q = request.query_params
        if user.is_pharmacy:
            pharmacy = user.pharmacy
        elif user.role in BUREAU_ROLES or user.is_superuser:
            code = (q.get("pharmacy_code") or "").strip()
            if not code:
                raise ApplicationError("invalid", "请指定药店编码 pharmacy_code", fields={"pharmacy_code": ["必填"]})
            pharmacy = pharmacies_visible_to(user).filter(code=code).first()
            if pharmacy is None:
                raise ApplicationError("not_found", "未找到该药店", status=404)
        else:
            raise ApplicationError("permission_denied", "当前角色无权查看药店库存", status=403)
        drug = None
        if q.get("drug_code"):
            drug = Drug.objects.filter(code=q["drug_code"].strip().upper()).first()
            if drug is None:
                raise ApplicationError("not_found", "未找到该药品", status=404)
        rows = selectors.stock_for(pharmacy=pharmacy, drug=drug)
        return Response({"pharmacy_code": pharmacy.code, "results": [
            {"drug_code": r.drug.code, "generic_name": r.drug.generic_name, "purchased": r.purchased,
             "returned": r.returned, "dispensed": r.dispensed, "on_hand": r.on_hand} for r in rows]})



# --- R-PAY-5: manual claims (手工报销) and cross-region filings (异地就医备案), bureau users -------------------------

class ClaimLineIn(serializers.Serializer):
    drug_code = serializers.CharField(max_length=23)
    quantity = serializers.IntegerField(min_value=1, max_value=10000)
    unit_price = serializers.DecimalField(min_value=Decimal("0.01"), help_text="invoice unit price", **MONEY)


class ManualClaimIn(serializers.Serializer):
    id_number = serializers.CharField(max_length=18, help_text="the insured person's ID number (insured in your region)")
    invoice_no = serializers.CharField(max_length=64)
    invoice_date = serializers.DateField()
    provider_name = serializers.CharField(max_length=128)
    care_setting = serializers.ChoiceField(choices=CareSetting.choices, required=False, default=CareSetting.OUTPATIENT)
    dispensing = serializers.IntegerField(required=False, allow_null=True,
                                          help_text="optional: the self-paid dispensing in this system it refunds")
    lines = ClaimLineIn(many=True, allow_empty=False, max_length=50)


class ClaimLineOut(serializers.Serializer):
    drug_code = serializers.CharField()
    generic_name = serializers.CharField()
    quantity = serializers.IntegerField()
    invoice_unit_price = serializers.DecimalField(**MONEY)
    unit_price = serializers.DecimalField(help_text="settled price: the invoice price, at most the payment standard",
                                          **MONEY)
    payment_standard = serializers.DecimalField(**MONEY)
    first_self_pay_ratio = serializers.DecimalField(max_digits=5, decimal_places=4)
    line_total = serializers.DecimalField(**MONEY)
    fund_payment = serializers.DecimalField(**MONEY)


class ManualClaimOut(serializers.Serializer):
    id = serializers.IntegerField()
    patient = PatientOut()
    region = serializers.CharField(help_text="region code of the bureau that recorded it")
    insured_region = serializers.CharField()
    insurance_type = serializers.CharField()
    care_setting = serializers.ChoiceField(choices=CareSetting.choices)
    policy = serializers.IntegerField()
    dispensing = serializers.IntegerField(allow_null=True)
    invoice_no = serializers.CharField()
    invoice_date = serializers.DateField()
    provider_name = serializers.CharField()
    settlement = SettlementOut()
    deductible_met_before = serializers.DecimalField(**MONEY)
    fund_paid_before = serializers.DecimalField(**MONEY)
    lines = ClaimLineOut(many=True)
    created_at = serializers.DateTimeField()


class CrossRegionFilingIn(serializers.Serializer):
    id_number = serializers.CharField(max_length=18)
    treatment_region = serializers.CharField(max_length=6, help_text="the treatment region's code, outside your region, e.g. 430100")
    filing_no = serializers.CharField(max_length=64)
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    direct_settlement = serializers.BooleanField(required=False, default=True)


class CrossRegionFilingOut(serializers.Serializer):
    id = serializers.IntegerField()
    filing_no = serializers.CharField()
    patient = PatientOut()
    insured_region = serializers.CharField()
    treatment_region = serializers.CharField()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(allow_null=True)
    direct_settlement = serializers.BooleanField()
    created_at = serializers.DateTimeField()


def _patient_out(person) -> dict:
    return {"name": person.name, "id_number": mask_id_number(person.id_number), "insurance_type": person.insurance_type}


def _ratio(value) -> str:
    return f"{Decimal(value):.4f}"


def manual_claim_out(c: ManualClaim) -> dict:
    money_keys = ("invoice_unit_price", "unit_price", "payment_standard", "line_total", "fund_payment")
    return {
        "id": c.pk, "patient": _patient_out(c.person), "region": c.region.code, "insured_region": c.insured_region.code,
        "insurance_type": c.insurance_type, "care_setting": c.care_setting, "policy": c.policy_id,
        "dispensing": c.dispensing_id, "invoice_no": c.invoice_no, "invoice_date": c.invoice_date.isoformat(),
        "provider_name": c.provider_name,
        "settlement": settlement_out({"total": c.total, "first_self_pay": c.first_self_pay, "in_scope": c.in_scope,
                                      "deductible": c.deductible, "fund_payment": c.fund_payment,
                                      "personal_payment": c.personal_payment}),
        "deductible_met_before": _money(c.deductible_met_before), "fund_paid_before": _money(c.fund_paid_before),
        "lines": [{**{k: line.get(k) for k in ("drug_code", "generic_name", "quantity")},
                   **{k: _money(Decimal(line[k])) for k in money_keys if line.get(k) is not None},
                   "first_self_pay_ratio": _ratio(line["first_self_pay_ratio"])} for line in c.lines],
        "created_at": _dt(c.created_at),
    }


def cross_region_filing_out(x: CrossRegionFiling) -> dict:
    return {"id": x.pk, "filing_no": x.filing_no, "patient": _patient_out(x.person),
            "insured_region": x.insured_region.code, "treatment_region": x.treatment_region.code,
            "valid_from": x.valid_from.isoformat(), "valid_until": x.valid_until.isoformat() if x.valid_until else None,
            "direct_settlement": x.direct_settlement, "created_at": _dt(x.created_at)}


class ManualClaimListCreate(GenericAPIView):
    """R-PAY-5: the bureau records a manual claim from the invoice lines; computed by the R-PAY-3 engine under the
    insured region's policy on the invoice date, counting toward the patient's year."""

    permission_classes = [IsBureau]
    serializer_class = ManualClaimOut
    queryset = ManualClaim.objects.none()  # schema only

    @extend_schema(request=ManualClaimIn, responses={201: ManualClaimOut})
    def post(self, request):
        v = _valid(ManualClaimIn, request.data)
        person = selectors.persons_visible_to(request.user).filter(id_number=v["id_number"].strip().upper()).first()
        if person is None:
            raise ApplicationError("invalid", "本统筹区没有该参保人", fields={"id_number": ["本统筹区没有该参保人"]})
        dispensing = None
        if v.get("dispensing") is not None:
            dispensing = selectors.dispensings_visible_to(request.user).filter(pk=v["dispensing"]).first()
            if dispensing is None:
                raise ApplicationError("invalid", "配药记录不存在", fields={"dispensing": ["不存在"]})
        claim = services.manual_claim_record(
            user=request.user, person=person, invoice_no=v["invoice_no"], invoice_date=v["invoice_date"],
            provider_name=v["provider_name"], care_setting=v["care_setting"], dispensing=dispensing,
            now=timezone.now(),
            lines=[services.ClaimLine(l["drug_code"], l["quantity"], l["unit_price"]) for l in v["lines"]])
        claim = selectors.manual_claims_visible_to(request.user).select_related("insured_region").get(pk=claim.pk)
        return Response(manual_claim_out(claim), status=status.HTTP_201_CREATED)

    @extend_schema(responses=ManualClaimOut(many=True), parameters=[
        OpenApiParameter("id_number", str, description="the insured person's ID number")])
    def get(self, request):
        qs = selectors.manual_claims_visible_to(request.user).select_related("insured_region")
        if request.query_params.get("id_number"):
            qs = qs.filter(person__id_number=request.query_params["id_number"].strip().upper())
        page = self.paginate_queryset(qs.order_by("-invoice_date", "-id"))
        return self.get_paginated_response([manual_claim_out(c) for c in page])


class ManualClaimDetail(APIView):
    permission_classes = [IsBureau]

    @extend_schema(responses=ManualClaimOut)
    def get(self, request, pk):
        qs = selectors.manual_claims_visible_to(request.user).select_related("insured_region")
        return Response(manual_claim_out(get_object_or_404(qs, pk=pk)))


class CrossRegionFilingListCreate(GenericAPIView):
    """R-PAY-5: the bureau of the patient's insured region grants a cross-region filing (异地就医备案) naming the
    treatment region; with direct settlement, dispensings there are paid under the insured region's policy. GET for
    both regions' bureaus."""

    permission_classes = [IsBureau]
    serializer_class = CrossRegionFilingOut
    queryset = CrossRegionFiling.objects.none()  # schema only

    @extend_schema(request=CrossRegionFilingIn, responses={201: CrossRegionFilingOut})
    def post(self, request):

        v = _valid(CrossRegionFilingIn, request.data)
        # R-PAY-5: the insured region's bureau grants the filing, so the patient is one of its insured persons
        person = selectors.persons_visible_to(request.user).select_related("insured_region").filter(
            id_number=v["id_number"].strip().upper()).first()
        if person is None:
            raise ApplicationError("not_insured_region_bureau", "异地就医备案由参保地经办机构办理，本统筹区没有该参保人（R-PAY-5）",
                                   fields={"id_number": ["不是本统筹区参保人"]}, status=403)
        region = Region.objects.filter(code=v["treatment_region"].strip()).first()
        if region is None:
            raise ApplicationError("invalid", "就医地区划代码不存在", fields={"treatment_region": ["区划代码不存在"]})
        filing = services.cross_region_filing_create(
            user=request.user, person=person, treatment_region=region, filing_no=v["filing_no"],
            valid_from=v["valid_from"], valid_until=v["valid_until"], direct_settlement=v["direct_settlement"])
        return Response(cross_region_filing_out(filing), status=status.HTTP_201_CREATED)

    @extend_schema(responses=CrossRegionFilingOut(many=True), parameters=[
        OpenApiParameter("id_number", str, description="the insured person's ID number")])
    def get(self, request):
        qs = selectors.cross_region_filings_visible_to(request.user)
        if request.query_params.get("id_number"):
            qs = qs.filter(person__id_number=request.query_params["id_number"].strip().upper())
        page = self.paginate_queryset(qs.order_by("-valid_from", "-id"))
        return self.get_paginated_response([cross_region_filing_out(x) for x in page])


class CrossRegionFilingDetail(APIView):
    permission_classes = [IsBureau]

    @extend_schema(responses=CrossRegionFilingOut)
    def get(self, request, pk):
        return Response(cross_region_filing_out(get_object_or_404(selectors.cross_region_filings_visible_to(request.user),
                                                                  pk=pk)))
