"""pytest settings: same database choice as base (SQLite, or PostgreSQL with DATABASE_URL)."""
from .base import *  # noqa: F401,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MEDIA_ROOT = BASE_DIR / ".test-media"  # noqa: F405
ALLOWED_HOSTS = ["*"]

# A development key derived from the (development) secret key when FIELD_ENCRYPTION_KEY is not set (PIPL,
# apps/core/crypto.py); production requires its own.
if not FIELD_ENCRYPTION_KEY:  # noqa: F405
    import hashlib as _hashlib

    FIELD_ENCRYPTION_KEY = "dev-field-key-" + _hashlib.sha256(("field:" + SECRET_KEY).encode()).hexdigest()  # noqa: F405
