"""Dispensings over REST (API.md "Prescriptions"): list (by settlement month), detail, reversal (R-RX-6)."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.exceptions import ApplicationError
from apps.core.permissions import IsPharmacy
from apps.prescriptions import selectors
from apps.prescriptions.api.prescriptions import parse_date
from apps.prescriptions.api.serializers import DispensingOut, ReverseIn, valid
from apps.prescriptions.models import Dispensing
from apps.prescriptions.services import dispensing


class DispensingList(GenericAPIView):
    serializer_class = DispensingOut
    queryset = Dispensing.objects.none()  # schema only

    @extend_schema(responses=DispensingOut(many=True), parameters=[OpenApiParameter("period", str, description="YYYY-MM")])
    def get(self, request):
        qs = selectors.dispensings_visible_to(request.user).prefetch_related("lines__drug")
        if request.query_params.get("period"):
            try:
                period = parse_date(request.query_params["period"].strip() + "-01")
            except ValueError:
                raise ApplicationError("invalid", "月份格式应为 YYYY-MM", fields={"period": ["YYYY-MM"]}) from None
            qs = qs.filter(period=period)
        page = self.paginate_queryset(qs.order_by("-dispensed_at", "-id"))
        return self.get_paginated_response(DispensingOut(page, many=True).data)


class DispensingDetail(APIView):
    @extend_schema(responses=DispensingOut)
    def get(self, request, pk):
        return Response(DispensingOut(selectors.dispensing_get_for(request.user, pk)).data)


class DispensingReverse(APIView):
    permission_classes = [IsPharmacy]

    @extend_schema(request=ReverseIn, responses={201: DispensingOut})
    def post(self, request, pk):
        original = selectors.dispensing_get_for(request.user, pk)
        v = valid(ReverseIn, request.data)
        reversal = dispensing.dispensing_reverse(dispensing=original, user=request.user, reason=v["reason"],
                                                 now=timezone.now())
        return Response(DispensingOut(reversal).data, status=status.HTTP_201_CREATED)
