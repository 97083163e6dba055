"""/api/v1/pharmacies/: read within scope (R-SEC-1); create, update and lifecycle for bureau administrators."""
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from apps.core.api_fields import RegionPrefixFilterMixin
from apps.registries.api import (
    DesignationSerializer, DesignationViewSet, DesignationWriteSerializer, lifecycle_schema,
)
from apps.pharmacies import services
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.selectors import pharmacies_flagged_for_exit, pharmacies_visible_to, pharmacy_criteria


class PharmacySerializer(DesignationSerializer):
    criteria_of = staticmethod(pharmacy_criteria)

    class Meta:
        model = Pharmacy
        fields = ["id", "code", "name", "region", "region_name", "address", "contact_name", "contact_phone",
                  "bank_name", "bank_account_name", "bank_account_no",
                  "licence_no", "status", "status_display", "status_changed_at", "agreement_no", "agreement_start",
                  "agreement_end", "has_business_licence", "has_dedicated_storage", "stocks_cold_chain",
                  "has_cold_storage", "sells_at_or_below_price", "has_licensed_pharmacist", "traceability_capable",
                  "delivery_capable", "trading_licence_valid", "no_penalty_past_year", "registration_changed_on",
                  "unable_to_serve_since", "criteria", "created_at", "updated_at"]


class PharmacyWriteSerializer(DesignationWriteSerializer):
    licence_no = serializers.CharField(max_length=64, required=False, allow_blank=True)
    has_business_licence = serializers.BooleanField(required=False)
    has_dedicated_storage = serializers.BooleanField(required=False)
    stocks_cold_chain = serializers.BooleanField(required=False)
    has_cold_storage = serializers.BooleanField(required=False)
    sells_at_or_below_price = serializers.BooleanField(required=False)
    has_licensed_pharmacist = serializers.BooleanField(required=False)
    traceability_capable = serializers.BooleanField(required=False)
    delivery_capable = serializers.BooleanField(required=False)
    no_penalty_past_year = serializers.BooleanField(required=False)
    registration_changed_on = serializers.DateField(required=False, allow_null=True)
    unable_to_serve_since = serializers.DateField(required=False, allow_null=True)


class LicenceRevokedSerializer(serializers.Serializer):
    revoked_on = serializers.DateField()
    reason = serializers.CharField(max_length=2000)


class PharmacyFilter(RegionPrefixFilterMixin, filters.FilterSet):
    region = filters.CharFilter(method="filter_region", label="所在区划（含下级）")
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Pharmacy
        fields = ["code", "name", "region", "status", "stocks_cold_chain", "trading_licence_valid"]


@lifecycle_schema(exit_flags_description="R-PHA-2 / R-INS-4: pharmacies meeting an exit criterion, with the reasons.")
class PharmacyViewSet(DesignationViewSet):
    """Designated pharmacies (R-PHA-1, R-PHA-2)."""

    serializer_class = PharmacySerializer
    filterset_class = PharmacyFilter
    ordering_fields = ["code", "name"]
    write_serializer_class = PharmacyWriteSerializer
    lifecycle = services.LIFECYCLE
    visible_to = staticmethod(pharmacies_visible_to)
    flagged_for_exit = staticmethod(pharmacies_flagged_for_exit)
    admin_actions = (*DesignationViewSet.admin_actions, "revoke_licence")

    @extend_schema(request=LicenceRevokedSerializer, responses=PharmacySerializer)
    @action(detail=True, methods=["post"], url_path="revoke-licence")
    def revoke_licence(self, request, pk=None):
        """R-PHA-2: the drug-trading licence was revoked: the pharmacy exits."""
        return self._transition(services.pharmacy_revoke_licence, LicenceRevokedSerializer)
