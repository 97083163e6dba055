"""/api/v1/pharmacies/: read within scope (R-SEC-1); create, update and lifecycle for bureau administrators."""
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.response import Response

from apps.accounts.permissions import IsBureau, IsBureauAdmin, ReadAnyWriteBureauAdmin
from apps.core.api_fields import (
    AdmitSerializer, CriterionSerializer, ExitFlagSerializer, ReasonSerializer, RegionPrefixFilterMixin,
    SanctionInputSerializer, SanctionSerializer, ScopedSlugRelatedField,
)
from apps.core.designation import sanctions_for
from apps.core.models import Region
from apps.core.selectors import regions_under
from apps.pharmacies import services
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.selectors import pharmacy_criteria, pharmacies_flagged_for_exit, pharmacies_visible_to


class PharmacySerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    criteria = serializers.SerializerMethodField()

    class Meta:
        model = Pharmacy
        fields = ["id", "code", "name", "region", "region_name", "address", "contact_name", "contact_phone",
                  "licence_no", "status", "status_display", "status_changed_at", "agreement_no", "agreement_start",
                  "agreement_end", "has_business_licence", "has_dedicated_storage", "stocks_cold_chain",
                  "has_cold_storage", "sells_at_or_below_price", "has_licensed_pharmacist", "traceability_capable",
                  "delivery_capable", "trading_licence_valid", "no_penalty_past_year", "registration_changed_on",
                  "unable_to_serve_since", "criteria", "created_at", "updated_at"]

    def get_criteria(self, obj) -> list[dict]:
        return CriterionSerializer(pharmacy_criteria(obj), many=True).data


def _regions(user):
    return regions_under(user.scope_region)


class PharmacyWriteSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Z0-9]{4,20}$", error_messages={"invalid": "编码为4–20位大写字母或数字"})
    name = serializers.CharField(max_length=128)
    region = ScopedSlugRelatedField(slug_field="code", scope=_regions, model=Region)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
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


class PharmacyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Designated pharmacies (R-PHA-1, R-PHA-2)."""

    serializer_class = PharmacySerializer
    permission_classes = [ReadAnyWriteBureauAdmin]
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = PharmacyFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]
    ordering = ["code"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation
            return Pharmacy.objects.none()
        return pharmacies_visible_to(self.request.user)

    def get_permissions(self):
        if self.action in ("admit", "suspend", "resume", "exit", "sanction", "revoke_licence"):
            return [IsBureauAdmin()]
        if self.action in ("exit_flags", "sanctions"):
            return [IsBureau()]
        return super().get_permissions()

    @extend_schema(request=PharmacyWriteSerializer, responses={201: PharmacySerializer})
    def create(self, request):
        data = PharmacyWriteSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        pharmacy = services.pharmacy_create(actor=request.user, **data.validated_data)
        return Response(PharmacySerializer(pharmacy).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PharmacyWriteSerializer, responses=PharmacySerializer)
    def partial_update(self, request, pk=None):
        pharmacy = self.get_object()
        data = PharmacyWriteSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if values.pop("code", pharmacy.code) != pharmacy.code:
            raise serializers.ValidationError({"code": ["编码不能修改"]})
        pharmacy = services.pharmacy_update(pharmacy=pharmacy, actor=request.user, data=values)
        return Response(PharmacySerializer(pharmacy).data)

    update = partial_update

    def _reply(self, pharmacy):
        pharmacy.refresh_from_db()
        return Response(PharmacySerializer(pharmacy).data)

    @extend_schema(request=AdmitSerializer, responses=PharmacySerializer)
    @action(detail=True, methods=["post"])
    def admit(self, request, pk=None):
        data = AdmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.pharmacy_admit(pharmacy=self.get_object(), actor=request.user,
                                                      **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=PharmacySerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.pharmacy_suspend(pharmacy=self.get_object(), actor=request.user,
                                                        **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=PharmacySerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.pharmacy_resume(pharmacy=self.get_object(), actor=request.user,
                                                       **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=PharmacySerializer)
    @action(detail=True, methods=["post"])
    def exit(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.pharmacy_exit(pharmacy=self.get_object(), actor=request.user,
                                                     **data.validated_data))

    @extend_schema(request=SanctionInputSerializer, responses={201: SanctionSerializer})
    @action(detail=True, methods=["post"])
    def sanction(self, request, pk=None):
        data = SanctionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sanction = services.pharmacy_sanction(pharmacy=self.get_object(), actor=request.user,
                                                 **data.validated_data)
        return Response(SanctionSerializer(sanction).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=SanctionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def sanctions(self, request, pk=None):
        return Response(SanctionSerializer(sanctions_for(self.get_object()), many=True).data)

    @extend_schema(responses=ExitFlagSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="exit-flags")
    def exit_flags(self, request):
        """R-PHA-2 / R-INS-4: pharmacies meeting an exit criterion, with the reasons."""
        flags = pharmacies_flagged_for_exit(user=request.user, today=timezone.localdate())
        return Response(ExitFlagSerializer(flags, many=True).data)

    @extend_schema(request=LicenceRevokedSerializer, responses=PharmacySerializer)
    @action(detail=True, methods=["post"], url_path="revoke-licence")
    def revoke_licence(self, request, pk=None):
        """R-PHA-2: the drug-trading licence was revoked: the pharmacy exits."""
        data = LicenceRevokedSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.pharmacy_revoke_licence(pharmacy=self.get_object(), actor=request.user,
                                                            **data.validated_data))
