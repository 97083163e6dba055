"""Developer machine: `make run`. SQLite and eager Celery unless DATABASE_URL / CELERY_BROKER_URL are set."""
from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

# A development key derived from the (development) secret key when FIELD_ENCRYPTION_KEY is not set (PIPL,
# apps/core/crypto.py); production requires its own.
if not FIELD_ENCRYPTION_KEY:  # noqa: F405
    import hashlib as _hashlib

    FIELD_ENCRYPTION_KEY = "dev-field-key-" + _hashlib.sha256(("field:" + SECRET_KEY).encode()).hexdigest()  # noqa: F405
