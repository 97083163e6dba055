"""Stock over REST (API.md "Stock", R-PHA-3): movements (purchases, returns) and stock per drug."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalogue.models import Drug
from apps.core.exceptions import ApplicationError
from apps.core.permissions import IsPharmacy
from apps.core.roles import BUREAU_ROLES
from apps.pharmacies.selectors import pharmacies_visible_to
from apps.prescriptions import selectors
from apps.prescriptions.api.serializers import MovementOut, StockMovementIn, StockOut, valid
from apps.prescriptions.models import StockMovement
from apps.prescriptions.services import dispensing


class StockMovementListCreate(GenericAPIView):
    serializer_class = MovementOut
    queryset = StockMovement.objects.none()  # schema only

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsPharmacy()]
        return [IsAuthenticated()]

    @extend_schema(request=StockMovementIn, responses={201: MovementOut})
    def post(self, request):
        v = valid(StockMovementIn, request.data)
        movement = dispensing.stock_movement_record(user=request.user, pharmacy=request.user.pharmacy,
                                                    now=timezone.now(), **v)
        return Response(MovementOut(movement).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=MovementOut(many=True), parameters=[OpenApiParameter("drug_code", str)])
    def get(self, request):
        qs = selectors.stock_movements_visible_to(request.user)
        if request.query_params.get("drug_code"):
            qs = qs.filter(drug__code=request.query_params["drug_code"].strip().upper())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(MovementOut(page, many=True).data)


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
        return Response(StockOut({"pharmacy": pharmacy, "rows": rows}).data)
