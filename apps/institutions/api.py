"""/api/v1/institutions/: read within scope (R-SEC-1); create, update and lifecycle for bureau administrators."""
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.response import Response

from apps.accounts.permissions import IsBureau, IsBureauAdmin, ReadAnyWriteBureauAdmin
from apps.catalogue.models import TherapeuticArea
from apps.core.api_fields import (
    AdmitSerializer, CriterionSerializer, ExitFlagSerializer, ReasonSerializer, RegionPrefixFilterMixin,
    SanctionInputSerializer, SanctionSerializer, ScopedSlugRelatedField,
)
from apps.core.designation import sanctions_for
from apps.core.models import Region
from apps.core.selectors import regions_under
from apps.institutions import services
from apps.institutions.models import Institution
from apps.institutions.selectors import institution_criteria, institutions_flagged_for_exit, institutions_visible_to


class InstitutionSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    specialty = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    level_display = serializers.CharField(source="get_level_display", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    criteria = serializers.SerializerMethodField()

    class Meta:
        model = Institution
        fields = ["id", "code", "name", "region", "region_name", "address", "contact_name", "contact_phone", "level",
                  "level_display", "hospital_type", "specialty", "kind", "kind_display", "status", "status_display",
                  "status_changed_at", "agreement_no", "agreement_start", "agreement_end",
                  "has_clinical_department", "sells_at_negotiated_price", "info_system_capable",
                  "no_penalty_past_year", "registration_changed_on", "unable_to_serve_since", "criteria",
                  "created_at", "updated_at"]

    def get_criteria(self, obj) -> list[dict]:
        return CriterionSerializer(institution_criteria(obj), many=True).data


def _regions(user):
    return regions_under(user.scope_region)


class InstitutionWriteSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Z0-9]{4,20}$", error_messages={"invalid": "编码为4–20位大写字母或数字"})
    name = serializers.CharField(max_length=128)
    region = ScopedSlugRelatedField(slug_field="code", scope=_regions, model=Region)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    level = serializers.ChoiceField(choices=Institution.Level.choices)
    hospital_type = serializers.ChoiceField(choices=Institution.HospitalType.choices, required=False)
    specialty = serializers.SlugRelatedField(slug_field="code", queryset=TherapeuticArea.objects.all(),
                                             required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=Institution.Kind.choices, required=False)
    has_clinical_department = serializers.BooleanField(required=False)
    sells_at_negotiated_price = serializers.BooleanField(required=False)
    info_system_capable = serializers.BooleanField(required=False)
    no_penalty_past_year = serializers.BooleanField(required=False)
    registration_changed_on = serializers.DateField(required=False, allow_null=True)
    unable_to_serve_since = serializers.DateField(required=False, allow_null=True)


class InstitutionFilter(RegionPrefixFilterMixin, filters.FilterSet):
    region = filters.CharFilter(method="filter_region", label="所在区划（含下级）")
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Institution
        fields = ["code", "name", "region", "status", "level", "kind", "hospital_type"]


class InstitutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Designated institutions (R-INS-1..4)."""

    serializer_class = InstitutionSerializer
    permission_classes = [ReadAnyWriteBureauAdmin]
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = InstitutionFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "level"]
    ordering = ["code"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation
            return Institution.objects.none()
        return institutions_visible_to(self.request.user)

    def get_permissions(self):
        if self.action in ("admit", "suspend", "resume", "exit", "sanction"):
            return [IsBureauAdmin()]
        if self.action in ("exit_flags", "sanctions"):
            return [IsBureau()]
        return super().get_permissions()

    @extend_schema(request=InstitutionWriteSerializer, responses={201: InstitutionSerializer})
    def create(self, request):
        data = InstitutionWriteSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        institution = services.institution_create(actor=request.user, **data.validated_data)
        return Response(InstitutionSerializer(institution).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=InstitutionWriteSerializer, responses=InstitutionSerializer)
    def partial_update(self, request, pk=None):
        institution = self.get_object()
        data = InstitutionWriteSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if values.pop("code", institution.code) != institution.code:
            raise serializers.ValidationError({"code": ["编码不能修改"]})
        institution = services.institution_update(institution=institution, actor=request.user, data=values)
        return Response(InstitutionSerializer(institution).data)

    update = partial_update

    def _reply(self, institution):
        institution.refresh_from_db()
        return Response(InstitutionSerializer(institution).data)

    @extend_schema(request=AdmitSerializer, responses=InstitutionSerializer)
    @action(detail=True, methods=["post"])
    def admit(self, request, pk=None):
        data = AdmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.institution_admit(institution=self.get_object(), actor=request.user,
                                                      **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=InstitutionSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.institution_suspend(institution=self.get_object(), actor=request.user,
                                                        **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=InstitutionSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.institution_resume(institution=self.get_object(), actor=request.user,
                                                       **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=InstitutionSerializer)
    @action(detail=True, methods=["post"])
    def exit(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.institution_exit(institution=self.get_object(), actor=request.user,
                                                     **data.validated_data))

    @extend_schema(request=SanctionInputSerializer, responses={201: SanctionSerializer})
    @action(detail=True, methods=["post"])
    def sanction(self, request, pk=None):
        data = SanctionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sanction = services.institution_sanction(institution=self.get_object(), actor=request.user,
                                                 **data.validated_data)
        return Response(SanctionSerializer(sanction).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=SanctionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def sanctions(self, request, pk=None):
        return Response(SanctionSerializer(sanctions_for(self.get_object()), many=True).data)

    @extend_schema(responses=ExitFlagSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="exit-flags")
    def exit_flags(self, request):
        """R-INS-4: institutions meeting an exit criterion, with the reasons."""
        flags = institutions_flagged_for_exit(user=request.user, today=timezone.localdate())
        return Response(ExitFlagSerializer(flags, many=True).data)
