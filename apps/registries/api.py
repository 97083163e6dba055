"""One REST viewset for the lifecycle of designated institutions and pharmacies (R-INS-1..4, R-PHA-1, R-PHA-2).

A concrete viewset names its read serializer (``serializer_class``), its write serializer, the selectors that
scope it (R-SEC-1) and its services (``lifecycle``: a ``LifecycleServices`` naming each one explicitly). Decorate the class with
``@lifecycle_schema`` so that the OpenAPI schema names its own serializers.
"""
from __future__ import annotations

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.response import Response

from apps.core.permissions import IsBureau, IsBureauAdmin, ReadAnyWriteBureauAdmin
from apps.core.api_fields import (
    AdmitSerializer, CriterionSerializer, ExitFlagSerializer, ReasonSerializer, SanctionInputSerializer,
    SanctionSerializer, ScopedSlugRelatedField,
)
from apps.registries.designation import LifecycleServices, sanctions_for
from apps.core.models import Region
from apps.core.selectors import regions_under


# no docstrings on the two base serializers: drf-spectacular would show them in every subclass's schema
# Read fields common to institutions and pharmacies; the subclass lists them all in ``Meta.fields`` and sets
# ``criteria_of = staticmethod(<model>_criteria)``.
class DesignationSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    criteria = serializers.SerializerMethodField()
    criteria_of = None

    def get_criteria(self, obj) -> list[dict]:
        return CriterionSerializer(self.criteria_of(obj), many=True).data


def _regions(user):
    return regions_under(user.scope_region)


# Registration fields common to institutions and pharmacies (first in the subclass's field order).
class DesignationWriteSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[A-Z0-9]{4,20}$", error_messages={"invalid": "编码为4–20位大写字母或数字"})
    name = serializers.CharField(max_length=128)
    region = ScopedSlugRelatedField(slug_field="code", scope=_regions, model=Region)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    bank_name = serializers.CharField(max_length=128, required=False, allow_blank=True)
    bank_account_name = serializers.CharField(max_length=128, required=False, allow_blank=True)
    bank_account_no = serializers.CharField(max_length=40, required=False, allow_blank=True)


class DesignationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List, read, create, update and the lifecycle actions of a designated organisation."""

    permission_classes = [ReadAnyWriteBureauAdmin]
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    search_fields = ["code", "name"]
    ordering = ["code"]
    #: set by the concrete viewset
    write_serializer_class: type[serializers.Serializer]
    lifecycle: LifecycleServices
    visible_to = None  # staticmethod(user) -> queryset
    flagged_for_exit = None  # staticmethod(*, user, today) -> list of flags
    admin_actions = ("admit", "suspend", "resume", "exit", "sanction")
    bureau_actions = ("exit_flags", "sanctions")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation
            return self.serializer_class.Meta.model.objects.none()
        return self.visible_to(self.request.user)

    def get_permissions(self):
        if self.action in self.admin_actions:
            return [IsBureauAdmin()]
        if self.action in self.bureau_actions:
            return [IsBureau()]
        return super().get_permissions()

    def _run(self, service, obj, **data):
        return service(**{self.lifecycle.subject: obj}, actor=self.request.user, **data)

    def create(self, request):
        data = self.write_serializer_class(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        obj = self.lifecycle.create(actor=request.user, **data.validated_data)
        return Response(self.serializer_class(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        obj = self.get_object()
        data = self.write_serializer_class(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if values.pop("code", obj.code) != obj.code:
            raise serializers.ValidationError({"code": ["编码不能修改"]})
        obj = self._run(self.lifecycle.update, obj, data=values)
        return Response(self.serializer_class(obj).data)

    def update(self, request, pk=None):
        return self.partial_update(request, pk=pk)

    def _reply(self, obj):
        obj.refresh_from_db()
        return Response(self.serializer_class(obj).data)

    def _transition(self, service, input_serializer: type[serializers.Serializer]):
        data = input_serializer(data=self.request.data)
        data.is_valid(raise_exception=True)
        return self._reply(self._run(service, self.get_object(), now=timezone.now(), **data.validated_data))

    @action(detail=True, methods=["post"])
    def admit(self, request, pk=None):
        return self._transition(self.lifecycle.admit, AdmitSerializer)

    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self._transition(self.lifecycle.suspend, ReasonSerializer)

    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._transition(self.lifecycle.resume, ReasonSerializer)

    @action(detail=True, methods=["post"])
    def exit(self, request, pk=None):
        return self._transition(self.lifecycle.exit, ReasonSerializer)

    @extend_schema(request=SanctionInputSerializer, responses={201: SanctionSerializer})
    @action(detail=True, methods=["post"])
    def sanction(self, request, pk=None):
        data = SanctionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sanction = self._run(self.lifecycle.sanction, self.get_object(), now=timezone.now(), **data.validated_data)
        return Response(SanctionSerializer(sanction).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=SanctionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def sanctions(self, request, pk=None):
        return Response(SanctionSerializer(sanctions_for(self.get_object()), many=True).data)

    @action(detail=False, methods=["get"], url_path="exit-flags")
    def exit_flags(self, request):
        flags = self.flagged_for_exit(user=request.user, today=timezone.localdate())
        return Response(ExitFlagSerializer(flags, many=True).data)


def lifecycle_schema(*, exit_flags_description: str):
    """Class decorator: the OpenAPI request/response serializers of a ``DesignationViewSet`` subclass."""

    def decorate(view):
        read, write = view.serializer_class, view.write_serializer_class
        transition = {"admit": AdmitSerializer, "suspend": ReasonSerializer, "resume": ReasonSerializer,
                      "exit": ReasonSerializer}
        return extend_schema_view(
            create=extend_schema(request=write, responses={201: read}),
            partial_update=extend_schema(request=write, responses=read),
            update=extend_schema(request=write, responses=read),
            exit_flags=extend_schema(responses=ExitFlagSerializer(many=True), description=exit_flags_description),
            **{name: extend_schema(request=body, responses=read) for name, body in transition.items()},
        )(view)

    return decorate
