"""Token authentication (django-rest-knox: tokens stored as SHA-512 digests, with an expiry; R-SEC-1) that
also tells django-auditlog who the actor is (R-SEC-3).

``AuditlogMiddleware`` reads ``request.user`` before DRF has authenticated a token, so API changes would be
logged without an actor. After a token is accepted we put the user into the current auditlog context."""
import binascii
from hmac import compare_digest

from auditlog.context import auditlog_value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions


class AuditedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            context = auditlog_value.get(None)  # None outside AuditlogMiddleware (no request context)
            if context is not None and context.get("actor") is None:
                context["actor"] = result[0]
        return result

    def authenticate_credentials(self, token):
        """knox's check in one statement (token with its user by the indexed key prefix, then the digest compared
        in constant time); an expired token is refused. Every API call of hospitals' and pharmacies' systems passes
        here (the R-RX hot path), so knox's per-request sweep of the user's other tokens is left to sign-in
        (``token_issue`` deletes expired ones)."""
        msg = _("Invalid token.")
        try:
            token = token.decode("utf-8")
            digest = hash_token(token)
        except (UnicodeDecodeError, TypeError, ValueError, binascii.Error):
            raise exceptions.AuthenticationFailed(msg) from None
        now = timezone.now()
        for auth_token in AuthToken.objects.filter(token_key=token[:CONSTANTS.TOKEN_KEY_LENGTH]).select_related("user"):
            if compare_digest(digest, auth_token.digest):
                if auth_token.expiry is not None and auth_token.expiry < now:
                    raise exceptions.AuthenticationFailed(msg)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(msg)


class AuditedTokenScheme(OpenApiAuthenticationExtension):
    """The served schema names the scheme as before: ``Authorization: Token <token>`` (API.md)."""

    target_class = "apps.accounts.authentication.AuditedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
