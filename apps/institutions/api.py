"""/api/v1/institutions/: read within scope (R-SEC-1); create, update and lifecycle for bureau administrators."""
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.catalogue.models import TherapeuticArea
from apps.core.api_fields import RegionPrefixFilterMixin
from apps.registries.api import (
    DesignationSerializer, DesignationViewSet, DesignationWriteSerializer, lifecycle_schema,
)
from apps.institutions import services
from apps.institutions.models import Institution
from apps.institutions.selectors import (
    institution_criteria, institutions_flagged_for_exit, institutions_recheck_overdue, institutions_visible_to,
)


class RecheckSerializer(serializers.Serializer):
    on = serializers.DateField(required=False, allow_null=True, help_text="re-check date (default today)")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class InstitutionSerializer(DesignationSerializer):
    criteria_of = staticmethod(institution_criteria)
    specialty = serializers.SlugRelatedField(slug_field="code", read_only=True)
    level_display = serializers.CharField(source="get_level_display", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Institution
        fields = ["id", "code", "name", "region", "region_name", "address", "contact_name", "contact_phone",
                  "bank_name", "bank_account_name", "bank_account_no", "level",
                  "level_display", "hospital_type", "specialty", "kind", "kind_display", "status", "status_display",
                  "status_changed_at", "agreement_no", "agreement_start", "agreement_end",
                  "has_clinical_department", "sells_at_negotiated_price", "info_system_capable",
                  "no_penalty_past_year", "registration_changed_on", "unable_to_serve_since", "is_public",
                  "grade_a", "is_key_hospital", "last_rechecked_on", "criteria", "created_at", "updated_at"]


class InstitutionWriteSerializer(DesignationWriteSerializer):
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
    is_public = serializers.BooleanField(required=False, help_text="R-STK-3: public hospital")
    grade_a = serializers.BooleanField(required=False, help_text="R-STK-3: grade A (甲等)")
    is_key_hospital = serializers.BooleanField(required=False, help_text="R-STK-3: named by the region as key hospital")


class InstitutionFilter(RegionPrefixFilterMixin, filters.FilterSet):
    region = filters.CharFilter(method="filter_region", label="所在区划（含下级）")
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Institution
        fields = ["code", "name", "region", "status", "level", "kind", "hospital_type"]


@lifecycle_schema(exit_flags_description="R-INS-4: institutions meeting an exit criterion, with the reasons.")
class InstitutionViewSet(DesignationViewSet):
    """Designated institutions (R-INS-1..4)."""

    serializer_class = InstitutionSerializer
    filterset_class = InstitutionFilter
    ordering_fields = ["code", "name", "level"]
    write_serializer_class = InstitutionWriteSerializer
    lifecycle = services.LIFECYCLE
    visible_to = staticmethod(institutions_visible_to)
    flagged_for_exit = staticmethod(institutions_flagged_for_exit)
    bureau_actions = (*DesignationViewSet.bureau_actions, "recheck", "rechecks_overdue")

    @extend_schema(request=RecheckSerializer, responses={200: InstitutionSerializer})
    @action(detail=True, methods=["post"])
    def recheck(self, request, pk=None):
        """R-INS-6: record the annual re-check of this institution's filing."""
        data = RecheckSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        today = timezone.localdate()
        institution = services.institution_recheck_record(
            actor=request.user, institution=self.get_object(), today=today,
            on=data.validated_data.get("on") or today, note=data.validated_data["note"])
        return Response(InstitutionSerializer(institution).data)

    @extend_schema(responses={200: dict})
    @action(detail=False, methods=["get"], url_path="rechecks-overdue")
    def rechecks_overdue(self, request):
        """R-INS-6: admitted institutions whose annual re-check is overdue."""
        rows = institutions_recheck_overdue(user=request.user, today=timezone.localdate())
        return Response([{**r, "due": str(r["due"]), "last_rechecked_on": str(r["last_rechecked_on"] or "")}
                         for r in rows])

