"""/api/v1/physicians/: hospitals propose, the bureau files (R-DOC-1..3); reads scoped (R-SEC-1)."""
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apps.core.permissions import IsBureau, IsBureauAdmin, ReadAnyWriteBureauAdmin
from apps.catalogue.models import TherapeuticArea
from apps.core.api_fields import ReasonSerializer, RegionPrefixFilterMixin, ScopedSlugRelatedField
from apps.institutions.models import Institution
from apps.institutions.selectors import institutions_visible_to
from apps.physicians import services
from apps.physicians.models import Physician
from apps.physicians.selectors import physicians_recheck_overdue, physicians_visible_to
from apps.institutions.api import RecheckSerializer  # one re-check body for both registries (R-INS-6)


class CanPropose(BasePermission):
    """R-DOC-3: a hospital proposes its own physicians; a bureau administrator may propose too."""

    def has_permission(self, request, view):
        u = request.user
        return bool(u and u.is_authenticated and (u.is_bureau_admin or (u.is_hospital and u.institution_id)))


class PhysicianSerializer(serializers.ModelSerializer):
    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    institution_name = serializers.CharField(source="institution.name", read_only=True)
    therapeutic_areas = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    title_display = serializers.CharField(source="get_title_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Physician
        fields = ["id", "code", "name", "institution", "institution_name", "department", "title", "title_display",
                  "is_certifying", "is_treating", "therapeutic_areas", "practice_licence_no",
                  "no_insurance_sanction_3y", "no_pharmacy_incident_3y", "status", "status_display",
                  "status_changed_at", "filed_on", "filing_valid_until", "revoked_on", "last_rechecked_on",
                  "created_at", "updated_at"]


class PhysicianProposeSerializer(serializers.Serializer):
    institution = ScopedSlugRelatedField(slug_field="code", scope=institutions_visible_to, model=Institution, required=False,
                                         help_text="医疗机构编码；医院用户可省略（默认本院）")
    code = serializers.RegexField(r"^[A-Z0-9]{4,20}$", required=False, allow_blank=True,
                                  help_text="省略时自动编号")
    name = serializers.CharField(max_length=64)
    department = serializers.CharField(max_length=64)
    title = serializers.ChoiceField(choices=Physician.Title.choices)
    is_certifying = serializers.BooleanField(required=False, default=False)
    is_treating = serializers.BooleanField(required=False, default=True)
    therapeutic_areas = serializers.SlugRelatedField(slug_field="code", many=True,
                                                     queryset=TherapeuticArea.objects.all())
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    practice_licence_no = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    no_insurance_sanction_3y = serializers.BooleanField(required=False, default=True)
    no_pharmacy_incident_3y = serializers.BooleanField(required=False, default=True)


class PhysicianUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False)
    department = serializers.CharField(max_length=64, required=False)
    title = serializers.ChoiceField(choices=Physician.Title.choices, required=False)
    is_certifying = serializers.BooleanField(required=False)
    is_treating = serializers.BooleanField(required=False)
    therapeutic_areas = serializers.SlugRelatedField(slug_field="code", many=True,
                                                     queryset=TherapeuticArea.objects.all(), required=False)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    practice_licence_no = serializers.CharField(max_length=64, required=False, allow_blank=True)
    no_insurance_sanction_3y = serializers.BooleanField(required=False)
    no_pharmacy_incident_3y = serializers.BooleanField(required=False)
    filing_valid_until = serializers.DateField(required=False, allow_null=True)


class FileSerializer(serializers.Serializer):
    filed_on = serializers.DateField(required=False, allow_null=True, default=None)
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DatedReasonSerializer(ReasonSerializer):
    on = serializers.DateField(required=False, allow_null=True, default=None, help_text="生效日期，默认今天")


class PhysicianFilter(RegionPrefixFilterMixin, filters.FilterSet):
    region_field = "institution__region"
    region = filters.CharFilter(method="filter_region", label="所在区划（含下级）")
    institution = filters.CharFilter(field_name="institution__code")
    therapeutic_area = filters.CharFilter(field_name="therapeutic_areas__code", distinct=True)
    department = filters.CharFilter(lookup_expr="icontains")
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Physician
        fields = ["code", "name", "institution", "region", "status", "title", "department", "therapeutic_area",
                  "is_certifying", "is_treating"]


class PhysicianViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Responsible physicians. Another hospital's physician is 404 (R-SEC-1)."""

    serializer_class = PhysicianSerializer
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = PhysicianFilter
    search_fields = ["code", "name", "department"]
    ordering_fields = ["code", "name", "department"]
    ordering = ["code"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation
            return Physician.objects.none()
        return physicians_visible_to(self.request.user)

    def get_permissions(self):
        if self.action == "create":
            return [CanPropose()]
        if self.action in ("file", "reject", "recheck", "rechecks_overdue"):
            return [IsBureau()]
        if self.action in ("suspend", "resume", "revoke"):
            return [IsBureauAdmin()]
        return [ReadAnyWriteBureauAdmin()]

    @extend_schema(request=PhysicianProposeSerializer, responses={201: PhysicianSerializer})
    def create(self, request):
        """R-DOC-3: propose a physician (status ``proposed``)."""
        data = PhysicianProposeSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        institution = values.pop("institution", None)
        if institution is None:
            if not request.user.is_hospital:
                raise serializers.ValidationError({"institution": ["必填"]})
            institution = request.user.institution
        physician = services.physician_propose(actor=request.user, institution=institution, now=timezone.now(), **values)
        return Response(PhysicianSerializer(physician).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PhysicianUpdateSerializer, responses=PhysicianSerializer)
    def partial_update(self, request, pk=None):
        physician = self.get_object()
        data = PhysicianUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        areas = values.pop("therapeutic_areas", None)
        physician = services.physician_update(physician=physician, actor=request.user, data=values,
                                              therapeutic_areas=areas)
        return Response(PhysicianSerializer(physician).data)

    update = partial_update

    def _reply(self, physician):
        physician.refresh_from_db()
        return Response(PhysicianSerializer(physician).data)

    @extend_schema(request=FileSerializer, responses=PhysicianSerializer)
    @action(detail=True, methods=["post"])
    def file(self, request, pk=None):
        data = FileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.physician_file(physician=self.get_object(), actor=request.user,
                                                   now=timezone.now(), **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=PhysicianSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.physician_reject_filing(physician=self.get_object(), actor=request.user,
                                                            now=timezone.now(), **data.validated_data))

    @extend_schema(request=DatedReasonSerializer, responses=PhysicianSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        data = DatedReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.physician_suspend(physician=self.get_object(), actor=request.user,
                                                      now=timezone.now(), **data.validated_data))

    @extend_schema(request=ReasonSerializer, responses=PhysicianSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.physician_resume(physician=self.get_object(), actor=request.user,
                                                     now=timezone.now(), **data.validated_data))

    @extend_schema(request=DatedReasonSerializer, responses=PhysicianSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        data = DatedReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(services.physician_revoke(physician=self.get_object(), actor=request.user,
                                                     now=timezone.now(), **data.validated_data))

    @extend_schema(request=RecheckSerializer, responses={200: PhysicianSerializer})
    @action(detail=True, methods=["post"])
    def recheck(self, request, pk=None):
        """R-INS-6: record the annual re-check of this physician's filing."""
        data = RecheckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        today = timezone.localdate()
        physician = services.physician_recheck_record(actor=request.user, physician=self.get_object(), today=today,
                                                      on=data.validated_data.get("on") or today,
                                                      note=data.validated_data["note"])
        return Response(PhysicianSerializer(physician).data)

    @extend_schema(responses={200: dict})
    @action(detail=False, methods=["get"], url_path="rechecks-overdue")
    def rechecks_overdue(self, request):
        """R-INS-6: filed physicians whose annual re-check is overdue."""
        rows = physicians_recheck_overdue(user=request.user, today=timezone.localdate())
        return Response([{**r, "due": str(r["due"]), "last_rechecked_on": str(r["last_rechecked_on"] or "")}
                         for r in rows])

