from django.urls import path

from apps.accounts import api

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("auth/me/", api.MeView.as_view(), name="auth-me"),
]
