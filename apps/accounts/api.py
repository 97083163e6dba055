"""POST /api/v1/auth/token/ and GET /api/v1/auth/me/ (API.md Conventions)."""
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.services import token_issue


class TokenInputSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=TokenInputSerializer,
                   responses=inline_serializer("TokenOutput", {"token": serializers.CharField()}))
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = token_issue(request=request, now=timezone.now(), **data.validated_data)
        return Response({"token": key})


class OrganisationSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["institution", "pharmacy", "region"])
    code = serializers.CharField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")
    role = serializers.CharField()
    role_display = serializers.CharField(source="get_role_display")
    organisation = OrganisationSerializer(allow_null=True)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)


# --- /api/v1/users/ (bureau administrators) -------------------------------------------------------------
from django_filters import rest_framework as filters  # noqa: E402
from rest_framework import mixins, status, viewsets  # noqa: E402
from rest_framework.decorators import action  # noqa: E402
from rest_framework.filters import SearchFilter  # noqa: E402

from apps.accounts import hooks  # noqa: E402
from apps.accounts.models import Role, User  # noqa: E402
from apps.core.permissions import IsBureauAdmin  # noqa: E402
from apps.accounts.selectors import users_visible_to  # noqa: E402
from apps.accounts.services import user_create, user_unlock, user_update  # noqa: E402
from apps.core.api_fields import ScopedSlugRelatedField  # noqa: E402
from apps.core.models import Region  # noqa: E402
from apps.core.selectors import regions_under  # noqa: E402


class UserSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    pharmacy = serializers.SlugRelatedField(slug_field="code", read_only=True)
    role_display = serializers.CharField(source="get_role_display", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "phone", "role", "role_display", "region",
                  "institution", "pharmacy", "is_active", "locked_until", "last_login", "date_joined"]


def _institutions(user):
    return hooks.institutions_visible_to.call(user=user)


def _pharmacies(user):
    return hooks.pharmacies_visible_to.call(user=user)


class UserWriteSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
    password = serializers.CharField(write_only=True, trim_whitespace=False, required=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices)
    region = ScopedSlugRelatedField(slug_field="code", scope=lambda u: regions_under(u.scope_region),
                                    model=Region, required=False, allow_null=True)
    institution = ScopedSlugRelatedField(slug_field="code", scope=_institutions, model=User._meta.get_field("institution").related_model, required=False, allow_null=True)
    pharmacy = ScopedSlugRelatedField(slug_field="code", scope=_pharmacies, model=User._meta.get_field("pharmacy").related_model, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


class UserFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="region__code")
    institution = filters.CharFilter(field_name="institution__code")
    pharmacy = filters.CharFilter(field_name="pharmacy__code")

    class Meta:
        model = User
        fields = ["role", "region", "institution", "pharmacy", "is_active"]


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Users of the administrator's region (bureau staff, hospital and pharmacy accounts)."""

    serializer_class = UserSerializer
    permission_classes = [IsBureauAdmin]
    filter_backends = [filters.DjangoFilterBackend, SearchFilter]
    filterset_class = UserFilter
    search_fields = ["username", "first_name", "last_name"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation
            return User.objects.none()
        return users_visible_to(self.request.user).order_by("username")

    @extend_schema(request=UserWriteSerializer, responses={201: UserSerializer})
    def create(self, request):
        data = UserWriteSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if not values.get("password"):
            raise serializers.ValidationError({"password": ["必填"]})
        user = user_create(actor=request.user, **values)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserWriteSerializer, responses=UserSerializer)
    def partial_update(self, request, pk=None):
        user = self.get_object()
        data = UserWriteSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        password = values.pop("password", None)
        if values.pop("username", user.username) != user.username:
            raise serializers.ValidationError({"username": ["用户名不能修改"]})
        user = user_update(actor=request.user, user=user, data=values, password=password)
        return Response(UserSerializer(user).data)

    update = partial_update

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        user = self.get_object()
        user_unlock(user=user, actor=request.user)
        user.refresh_from_db()
        return Response(UserSerializer(user).data)
