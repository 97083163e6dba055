"""/api/v1/policies/: payment policies per region and period (R-PAY-1, R-PAY-2)."""
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.exceptions import ApplicationError
from apps.core.permissions import ReadAnyWriteBureauAdmin
from apps.core.api_fields import ScopedSlugRelatedField
from apps.core.models import Region
from apps.core.selectors import regions_under
from apps.policies.models import PaymentPolicy
from apps.policies.presets import PRESETS
from apps.policies.selectors import policies_visible_to, policy_for
from apps.policies.services import VALUE_FIELDS, policy_create, policy_create_from_preset, policy_update


class PolicySerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)

    class Meta:
        model = PaymentPolicy
        fields = ["id", "region", "region_name", "preset", "name", "valid_from", "valid_until", *VALUE_FIELDS,
                  "source", "created_at", "updated_at"]


def _money(**kw):
    return serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, **kw)


def _ratio(**kw):
    return serializers.DecimalField(max_digits=5, decimal_places=4, min_value=0, max_value=1, **kw)


class PolicyWriteSerializer(serializers.Serializer):
    region = ScopedSlugRelatedField(slug_field="code", scope=lambda u: regions_under(u.scope_region), model=Region)
    preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False,
                                     help_text="给出预置方案时其余参数取自预置方案")
    name = serializers.CharField(max_length=128, required=False)
    valid_from = serializers.DateField()
    valid_until = serializers.DateField(required=False, allow_null=True)
    source = serializers.CharField(max_length=255, required=False, allow_blank=True)
    deductible_outpatient_employee = _money(required=False)
    deductible_outpatient_resident = _money(required=False)
    deductible_inpatient_employee = _money(required=False)
    deductible_inpatient_resident = _money(required=False)
    ratio_outpatient_employee = _ratio(required=False)
    ratio_outpatient_resident = _ratio(required=False)
    ratio_inpatient_employee = _ratio(required=False)
    ratio_inpatient_resident = _ratio(required=False)
    annual_cap_employee = _money(required=False, allow_null=True)
    annual_cap_resident = _money(required=False, allow_null=True)

    def validate(self, attrs):
        if self.partial or attrs.get("preset"):
            return attrs
        missing = [f for f in ("name", *[v for v in VALUE_FIELDS if not v.startswith("annual_cap")]) if f not in attrs]
        if missing:
            raise serializers.ValidationError({f: ["必填（或给出 preset）"] for f in missing})
        return attrs


class PolicyFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="region__code")

    class Meta:
        model = PaymentPolicy
        fields = ["region", "preset"]


class PolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PolicySerializer
    permission_classes = [ReadAnyWriteBureauAdmin]
    filterset_class = PolicyFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation
            return PaymentPolicy.objects.none()
        return policies_visible_to(self.request.user)

    @extend_schema(request=PolicyWriteSerializer, responses={201: PolicySerializer})
    def create(self, request):
        data = PolicyWriteSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        preset = values.pop("preset", "")
        if preset:
            policy = policy_create_from_preset(region=values["region"], preset=preset,
                                               valid_from=values["valid_from"], actor=request.user)
        else:
            policy = policy_create(actor=request.user, **values)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PolicyWriteSerializer, responses=PolicySerializer)
    def partial_update(self, request, pk=None):
        policy = self.get_object()
        if not request.user.is_superuser and not policy.region.code.startswith(request.user.region.descendant_prefix):
            raise ApplicationError("permission_denied", "只能修改本统筹区的支付政策", status=403)
        data = PolicyWriteSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = {k: v for k, v in data.validated_data.items() if k not in ("region", "preset", "valid_from")}
        policy = policy_update(policy=policy, actor=request.user, data=values)
        return Response(PolicySerializer(policy).data)

    update = partial_update

    @extend_schema(parameters=[OpenApiParameter("region", str, required=True), OpenApiParameter("on", str, required=True)],
                   responses=PolicySerializer)
    @action(detail=False, methods=["get"])
    def lookup(self, request):
        """The policy in force for a region on a date, walking up the region tree (R-PAY-1)."""
        params = LookupSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        region = Region.objects.filter(code=params.validated_data["region"]).first()
        if region is None:
            raise serializers.ValidationError({"region": ["未知的区划代码"]})
        return Response(PolicySerializer(policy_for(region=region, on=params.validated_data["on"])).data)


class LookupSerializer(serializers.Serializer):
    region = serializers.CharField()
    on = serializers.DateField()
