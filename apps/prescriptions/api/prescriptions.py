"""Prescriptions over REST (API.md "Prescriptions"): upload and list (R-RX-1..4, R-RX-6 first download), detail,
quote and dispense (R-RX-5, R-PAY-3..5), cancel and decline."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.exceptions import ApplicationError
from apps.core.permissions import IsHospital, IsPharmacy
from apps.prescriptions import selectors
from apps.prescriptions.api.serializers import (
    DeclineIn, DispenseIn, DispensingOut, PrescriptionDetailOut, PrescriptionOut, QuoteIn, QuoteOut, ReasonIn,
    UploadIn, UploadOut, valid,
)
from apps.prescriptions.models import Prescription
from apps.prescriptions.services import dispensing, upload


def parse_date(value):
    return dt.date.fromisoformat(value) if value else None


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
        v = valid(UploadIn, request.data)
        data = upload.UploadData(
            serial_no=v["serial_no"].strip(), application=v.get("application"),
            physician_code=v["physician_code"], pharmacy_code=v["pharmacy_code"], issued_at=v["issued_at"],
            long_term=v["long_term"], care_setting=v["care_setting"], signature=v["signature"],
            items=[upload.UploadItem(**i) for i in v["items"]], patient=v.get("patient") or None,
            delivery=v.get("delivery") or "",
        )
        prescription, created = upload.prescription_upload(user=request.user, data=data, now=timezone.now())
        return Response(UploadOut(prescription).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses=PrescriptionOut(many=True), parameters=[
        OpenApiParameter("status", str, enum=Prescription.Status.values), OpenApiParameter("date_from", OpenApiTypes.DATE),
        OpenApiParameter("date_to", OpenApiTypes.DATE), OpenApiParameter("patient", str),
        OpenApiParameter("serial_no", str)])
    def get(self, request):
        q = request.query_params
        try:
            filters = selectors.PrescriptionFilters(
                status=q.get("status", ""), patient=q.get("patient", ""), serial_no=q.get("serial_no", ""),
                date_from=parse_date(q.get("date_from")), date_to=parse_date(q.get("date_to")))
        except ValueError:
            raise ApplicationError("invalid", "日期格式应为 YYYY-MM-DD", fields={"date_from": ["YYYY-MM-DD"]}) from None
        qs = selectors.prescription_list(user=request.user, filters=filters).prefetch_related("items__drug")
        page = self.paginate_queryset(qs)
        upload.prescriptions_mark_downloaded(user=request.user, prescription_ids=[p.pk for p in page],
                                             now=timezone.now())
        return self.get_paginated_response(PrescriptionOut(page, many=True).data)


class PrescriptionDetail(APIView):
    @extend_schema(responses=PrescriptionDetailOut)
    def get(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        upload.prescriptions_mark_downloaded(user=request.user, prescription_ids=[prescription.pk], now=timezone.now())
        return Response(PrescriptionDetailOut(prescription).data)


def dispense_items(v) -> list[dispensing.DispenseItem]:
    return [dispensing.DispenseItem(drug_code=i["drug_code"], quantity=i["quantity"], unit_price=i["unit_price"],
                                    trace_codes=i.get("trace_codes")) for i in v["items"]]


class PrescriptionDispense(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=DispenseIn, responses={201: DispensingOut})
    def post(self, request, pk):
        v = valid(DispenseIn, request.data)
        done = dispensing.prescription_dispense(prescription_id=pk, user=request.user, dispensed_at=v["dispensed_at"],
                                                items=dispense_items(v), now=timezone.now())
        return Response(DispensingOut(done).data, status=status.HTTP_201_CREATED)


class PrescriptionQuote(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=QuoteIn, responses={200: QuoteOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = valid(QuoteIn, request.data)
        result = dispensing.prescription_quote(prescription=prescription, dispensed_at=v.get("dispensed_at"),
                                               items=dispense_items(v), now=timezone.now())
        return Response(QuoteOut({"prescription": prescription.pk, "settlement": result.figures(),
                                  "lines": result.lines}).data)


class PrescriptionCancel(APIView):
    permission_classes = [IsHospital]

    @extend_schema(request=ReasonIn, responses={200: PrescriptionOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = valid(ReasonIn, request.data)
        prescription = upload.prescription_cancel(prescription=prescription, user=request.user, reason=v["reason"],
                                                  now=timezone.now())
        return Response(PrescriptionOut(prescription).data)


class PrescriptionDecline(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=DeclineIn, responses={200: PrescriptionOut})
    def post(self, request, pk):
        prescription = selectors.prescription_get_for(request.user, pk)
        v = valid(DeclineIn, request.data)
        prescription = dispensing.prescription_decline(prescription=prescription, user=request.user,
                                                       reason=v["reason"], note=v["note"], now=timezone.now())
        return Response(PrescriptionOut(prescription).data)
