from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.accounts import api

router = SimpleRouter()
router.register("users", api.UserViewSet, basename="user")
urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("auth/me/", api.MeView.as_view(), name="auth-me"),
    *router.urls,
]
