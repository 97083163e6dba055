"""The floor of the REST benchmark (issue 16 "REST"): a bare DRF create of the prescription upload's body.

Same stack as the real endpoint — gunicorn, Django's middleware, DRF with the project's authentication (knox
token), parser and renderer, the same PostgreSQL — and the same rows written (a prescription and its items, in
one transaction), but none of the rules: no scope checks, no application or physician validation, no duplicate
check, no events, no monitoring. What the real upload (and dispensing) costs beyond this is what the rules cost.

Mounted only when ``BENCHMARK_BARE_ENDPOINTS`` is true (an environment variable the benchmark sets for its own
gunicorn; never in a deployment), at ``POST /bench/bare/prescriptions/`` (config/urls.py).

    BENCHMARK_BARE_ENDPOINTS=true gunicorn config.wsgi:application …
    curl -H "Authorization: Token …" -H "Content-Type: application/json" -d @body.json \
         http://127.0.0.1:18765/bench/bare/prescriptions/
"""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.urls import path
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.applications.models import Application
from apps.catalogue.models import Drug
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.prescriptions.models import Prescription, PrescriptionItem


class BareItemInput(serializers.Serializer):
    drug_code = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1)
    days_supply = serializers.IntegerField(min_value=1)


class BarePrescriptionInput(serializers.Serializer):
    """The upload's body (API.md, POST /api/v1/prescriptions/), shapes only."""

    serial_no = serializers.CharField(max_length=64)
    application = serializers.IntegerField()
    physician_code = serializers.CharField(max_length=64)
    pharmacy_code = serializers.CharField(max_length=64)
    issued_at = serializers.DateTimeField()
    long_term = serializers.BooleanField(default=False)
    care_setting = serializers.CharField(max_length=12)
    items = BareItemInput(many=True, allow_empty=False)
    signature = serializers.CharField()


class BarePrescriptionCreate(APIView):
    """Parse, look up the referenced rows by their keys, insert: nothing else."""

    permission_classes = [IsAuthenticated]

    def post(self, request):
        data = BarePrescriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        application = Application.objects.only("pk", "person_id").get(pk=body["application"])
        physician_id = Physician.objects.values_list("pk", flat=True).get(code=body["physician_code"])
        pharmacy_id = Pharmacy.objects.values_list("pk", flat=True).get(code=body["pharmacy_code"])
        drugs = dict(Drug.objects.filter(code__in=[i["drug_code"] for i in body["items"]]).values_list("code", "pk"))
        with transaction.atomic():
            prescription = Prescription.objects.create(
                institution_id=request.user.institution_id, serial_no=body["serial_no"], application=application,
                person_id=application.person_id, physician_id=physician_id, pharmacy_id=pharmacy_id,
                issued_at=body["issued_at"], long_term=body["long_term"], care_setting=body["care_setting"],
                signature=body["signature"], expires_at=body["issued_at"] + dt.timedelta(days=3), content_hash="",
                uploaded_by=request.user)
            PrescriptionItem.objects.bulk_create([
                PrescriptionItem(prescription=prescription, drug_id=drugs[i["drug_code"]], quantity=i["quantity"],
                                 days_supply=i["days_supply"]) for i in body["items"]])
        return Response({"id": prescription.pk, "serial_no": prescription.serial_no}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("bare/prescriptions/", BarePrescriptionCreate.as_view(), name="bench-bare-prescription-create"),
]
