"""/api/v1/institutions/: read within scope (R-SEC-1); create, update and lifecycle for bureau administrators."""
from django_filters import rest_framework as filters
from rest_framework import serializers

from apps.catalogue.models import TherapeuticArea
from apps.core.api_fields import RegionPrefixFilterMixin
from apps.registries.api import (
    DesignationSerializer, DesignationViewSet, DesignationWriteSerializer, lifecycle_schema,
)
from apps.institutions import services
from apps.institutions.models import Institution
from apps.institutions.selectors import institution_criteria, institutions_flagged_for_exit, institutions_visible_to


class InstitutionSerializer(DesignationSerializer):
    criteria_of = staticmethod(institution_criteria)
    specialty = serializers.SlugRelatedField(slug_field="code", read_only=True)
    level_display = serializers.CharField(source="get_level_display", read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Institution
        fields = ["id", "code", "name", "region", "region_name", "address", "contact_name", "contact_phone", "level",
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
