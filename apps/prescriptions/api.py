"""REST API of prescriptions, dispensing and stock (API.md "Prescriptions", "Stock"). Thin: serializers check
shapes, services decide; objects come through the scoped selectors (404 outside the user's organisation)."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import BUREAU_ROLES
from apps.accounts.permissions import IsHospital, IsPharmacy
from apps.core.exceptions import ApplicationError
from apps.core.masking import mask_id_number
from apps.policies.models import CareSetting
from apps.prescriptions import selectors, services
from apps.prescriptions.models import Delivery, Dispensing, Prescription, StockMovement

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
        prescription, created = services.prescription_upload(user=request.user, data=data)
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
        services.prescriptions_mark_downloaded(user=request.user, prescription_ids=[p.pk for p in page])
        return self.get_paginated_response([prescription_out(p) for p in page])


def _date(value):
    import datetime as dt

    return dt.date.fromisoformat(value) if value else None


class PrescriptionDetail(APIView):
    @extend_schema(responses=PrescriptionDetailOut)
    def get(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        services.prescriptions_mark_downloaded(user=request.user, prescription_ids=[prescription.pk])
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
                                                    dispensed_at=v["dispensed_at"], items=_dispense_items(v))
        return Response(dispensing_out(dispensing, lines=dispensing.lines_cache), status=status.HTTP_201_CREATED)


class PrescriptionQuote(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=QuoteIn, responses={200: QuoteOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = _valid(QuoteIn, request.data)
        result = services.prescription_quote(prescription=prescription, dispensed_at=v.get("dispensed_at"),
                                             items=_dispense_items(v))
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
        prescription = services.prescription_cancel(prescription=prescription, user=request.user, reason=v["reason"])
        return Response(prescription_out(prescription))


class PrescriptionDecline(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=DeclineIn, responses={200: PrescriptionOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = _valid(DeclineIn, request.data)
        prescription = services.prescription_decline(prescription=prescription, user=request.user,
                                                     reason=v["reason"], note=v["note"])
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
        reversal = services.dispensing_reverse(dispensing=dispensing, user=request.user, reason=v["reason"])
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
        movement = services.stock_movement_record(user=request.user, pharmacy=request.user.pharmacy, **v)
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
            from apps.pharmacies.selectors import pharmacies_visible_to

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
            from apps.catalogue.models import Drug

            drug = Drug.objects.filter(code=q["drug_code"].strip().upper()).first()
            if drug is None:
                raise ApplicationError("not_found", "未找到该药品", status=404)
        rows = selectors.stock_for(pharmacy=pharmacy, drug=drug)
        return Response({"pharmacy_code": pharmacy.code, "results": [
            {"drug_code": r.drug.code, "generic_name": r.drug.generic_name, "purchased": r.purchased,
             "returned": r.returned, "dispensed": r.dispensed, "on_hand": r.on_hand} for r in rows]})

