"""Developer machine: `make run`. SQLite and eager Celery unless DATABASE_URL / CELERY_BROKER_URL are set."""
from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])
