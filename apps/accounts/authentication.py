"""Token authentication that also tells django-auditlog who the actor is (R-SEC-3).

``AuditlogMiddleware`` reads ``request.user`` before DRF has authenticated a token, so API changes would be
logged without an actor. After a token is accepted we put the user into the current auditlog context."""
from auditlog.context import auditlog_value
from rest_framework.authentication import TokenAuthentication


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
