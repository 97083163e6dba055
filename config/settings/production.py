"""Production: PostgreSQL and Redis are required; secrets come from the environment; HTTPS only (R-SEC-1).

The site runs behind a TLS-terminating proxy that sets ``X-Forwarded-Proto: https``; plain HTTP is redirected.
``python manage.py check --deploy --settings=config.settings.production`` is clean (tests/security)."""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
_PLACEHOLDERS = ("change-me", "changeme", "insecure", "dev-only", "secret-key", "collectstatic")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or any(p in SECRET_KEY.lower() for p in _PLACEHOLDERS):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be a real secret of at least 50 random characters (e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), not a placeholder")
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")
if (len(FIELD_ENCRYPTION_KEY) < 32 or len(set(FIELD_ENCRYPTION_KEY)) < 5 or FIELD_ENCRYPTION_KEY == SECRET_KEY
        or FIELD_ENCRYPTION_KEY.startswith("dev-field-key-")
        or any(p in FIELD_ENCRYPTION_KEY.lower() for p in _PLACEHOLDERS)):
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY must be a real secret of at least 32 random characters, other than DJANGO_SECRET_KEY "
        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`): ID numbers and phones are "
        "encrypted with it (PIPL)")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if env("DATABASE_REPLICA_URL", default=""):  # reports and exports read there (config/db_router.py)
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTPS (R-SEC-1)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
