"""Token authentication that also tells django-auditlog who the actor is (R-SEC-3).

``AuditlogMiddleware`` reads ``request.user`` before DRF has authenticated a token, so API changes would be
logged without an actor. After a token is accepted we put the user into the current auditlog context."""
from auditlog.context import auditlog_value
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


class AuditedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            try:
                context = auditlog_value.get()
            except LookupError:
                context = None
            if context is not None and context.get("actor") is None:
                context["actor"] = result[0]
        return result

    def authenticate_credentials(self, key):
        """DRF's lookup (the token with its user, refused when unknown or the user is inactive) as one raw
        statement: every API call of hospitals' and pharmacies' systems passes here (issue 5 "Speed")."""
        User = get_user_model()
        found = list(User.objects.raw(
            f"SELECT u.*, t.created AS token_created FROM {Token._meta.db_table} t "
            f"JOIN {User._meta.db_table} u ON u.{User._meta.pk.column} = t.user_id WHERE t.key = %s", [key]))
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = found[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        connection = connections[user._state.db]
        created, col = user.token_created, Token._meta.get_field("created").get_col(Token._meta.db_table)
        for convert in connection.ops.get_db_converters(col):  # SQLite returns text
            created = convert(created, col, connection)
        token = Token(key=key, user=user, created=created)
        token._state.adding, token._state.db = False, user._state.db
        return user, token
