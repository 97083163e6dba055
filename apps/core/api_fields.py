"""Serializer fields shared by the registry APIs."""
from apps.core.models import Region
from apps.core.selectors import region_q
from rest_framework import serializers


class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """A ``SlugRelatedField`` whose choices are built for the requesting user by a selector, so that an
    object of another organisation or region is simply "not found" (R-SEC-1)::

        region = ScopedSlugRelatedField(slug_field="code", scope=lambda user: regions_under(user.scope_region))
    """

    def __init__(self, *, scope, model, **kwargs):
        self.scope = scope
        # the unscoped queryset only describes the field (OpenAPI); requests use ``scope(user)``
        super().__init__(queryset=model.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return super().get_queryset().none()
        return self.scope(request.user)


def choice_label(field_name: str):
    """A read-only field with the display label of a choices field (``get_<field>_display``)."""
    return serializers.CharField(source=f"get_{field_name}_display", read_only=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, allow_blank=False)


class AdmitSerializer(serializers.Serializer):
    agreement_no = serializers.CharField(max_length=64)
    agreement_start = serializers.DateField()
    agreement_end = serializers.DateField()
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SanctionInputSerializer(serializers.Serializer):
    from apps.core.models import Sanction as _Sanction

    kind = serializers.ChoiceField(choices=_Sanction.Kind.choices)
    decided_on = serializers.DateField()
    reason = serializers.CharField(max_length=2000)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True, default=None)
    deadline = serializers.DateField(required=False, allow_null=True, default=None)


class SanctionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_display = serializers.CharField(source="get_kind_display")
    decided_on = serializers.DateField()
    reason = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    deadline = serializers.DateField(allow_null=True)


class CriterionSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    met = serializers.BooleanField()


class ExitFlagSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="organisation.pk")
    code = serializers.CharField(source="organisation.code")
    name = serializers.CharField(source="organisation.name")
    status = serializers.CharField(source="organisation.status")
    reasons = serializers.ListField(child=serializers.CharField())


class RegionPrefixFilterMixin:
    """``?region=640500`` keeps objects in that region or below (code prefix)."""

    region_field = "region"

    def filter_region(self, queryset, name, value):
        region = Region.objects.filter(code=value).first()
        return queryset.filter(region_q(region, self.region_field)) if region else queryset.none()
