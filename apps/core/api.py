"""Regions and the working-day calendar: read by every signed-in user, written by bureau administrators."""
from django.http import HttpResponse
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from apps.core.permissions import ReadAnyWriteBureauAdmin
from apps.core.models import CalendarDay, Region
from apps.core.services import (
    calendar_day_delete, calendar_day_set, calendar_import, calendar_template_workbook, region_create, region_update,
)


class RegionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)
    level_display = serializers.CharField(source="get_level_display", read_only=True)

    class Meta:
        model = Region
        fields = ["id", "code", "name", "level", "level_display", "parent"]


class RegionCreateSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^\d{6}$", error_messages={"invalid": "行政区划代码应为6位数字"})
    name = serializers.CharField(max_length=64)


class RegionUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)


class RegionFilter(filters.FilterSet):
    parent = filters.CharFilter(field_name="parent__code")
    under = filters.CharFilter(method="filter_under", label="区划代码（含下级）")

    class Meta:
        model = Region
        fields = ["code", "level", "parent"]

    def filter_under(self, queryset, name, value):
        region = Region.objects.filter(code=value).first()
        return queryset.filter(code__startswith=region.descendant_prefix) if region else queryset.none()


class RegionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Administrative regions (6-digit codes, province → city → county)."""

    serializer_class = RegionSerializer
    permission_classes = [ReadAnyWriteBureauAdmin]
    filter_backends = [filters.DjangoFilterBackend, SearchFilter]
    filterset_class = RegionFilter
    search_fields = ["code", "name"]
    queryset = Region.objects.select_related("parent")

    @extend_schema(request=RegionCreateSerializer, responses={201: RegionSerializer})
    def create(self, request):
        data = RegionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        region = region_create(actor=request.user, **data.validated_data)
        return Response(RegionSerializer(region).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RegionUpdateSerializer, responses=RegionSerializer)
    def partial_update(self, request, pk=None):
        region = self.get_object()
        data = RegionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        region = region_update(region=region, actor=request.user, **data.validated_data)
        return Response(RegionSerializer(region).data)

    update = partial_update


class CalendarDaySerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = CalendarDay
        fields = ["id", "date", "kind", "kind_display", "name"]


class CalendarDayInputSerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=CalendarDay.Kind.choices)
    name = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class CalendarImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)


class CalendarFilter(filters.FilterSet):
    # a year the calendar can hold (year 0 or 99999 used to fail inside the date lookup: 500, R-SEC-4)
    year = filters.NumberFilter(field_name="date__year", min_value=1, max_value=9999, decimal_places=0)
    date_from = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = CalendarDay
        fields = ["kind", "year", "date_from", "date_to"]


class CalendarDayViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Public holidays and make-up working days (R-APP-5)."""

    serializer_class = CalendarDaySerializer
    permission_classes = [ReadAnyWriteBureauAdmin]
    filterset_class = CalendarFilter
    queryset = CalendarDay.objects.all()

    @extend_schema(request=CalendarDayInputSerializer, responses={201: CalendarDaySerializer})
    def create(self, request):
        data = CalendarDayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        day = calendar_day_set(actor=request.user, **data.validated_data)
        return Response(CalendarDaySerializer(day).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CalendarDayInputSerializer, responses=CalendarDaySerializer)
    def update(self, request, pk=None):
        day = self.get_object()
        data = CalendarDayInputSerializer(data={"date": day.date.isoformat(), "kind": request.data.get("kind", day.kind),
                                                "name": request.data.get("name", day.name)})
        data.is_valid(raise_exception=True)
        day = calendar_day_set(actor=request.user, date=day.date, kind=data.validated_data["kind"],
                               name=data.validated_data["name"])
        return Response(CalendarDaySerializer(day).data)

    partial_update = update

    def destroy(self, request, pk=None):
        calendar_day_delete(actor=request.user, day=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request={"multipart/form-data": CalendarImportSerializer},
                   responses=inline_serializer("CalendarImportResult", {
                       "created": serializers.IntegerField(), "updated": serializers.IntegerField(),
                       "unchanged": serializers.IntegerField(), "dry_run": serializers.BooleanField(),
                       "errors": serializers.ListField(child=serializers.DictField())}))
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_(self, request):
        """Import from .xlsx (columns 日期/类型/名称); all-or-nothing, every bad row reported."""
        data = CalendarImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = calendar_import(actor=request.user, now=timezone.now(), **data.validated_data)
        return Response(result.as_dict())

    @extend_schema(responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): bytes})
    @action(detail=False, methods=["get"], url_path="import/template")
    def template(self, request):
        response = HttpResponse(calendar_template_workbook(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="calendar-template.xlsx"'
        return response
