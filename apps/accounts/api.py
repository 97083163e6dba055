"""POST /api/v1/auth/token/ and GET /api/v1/auth/me/ (API.md Conventions)."""
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
        key = token_issue(request=request, **data.validated_data)
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
