"""Settings shared by every environment, read from the environment with django-environ.

With no ``DATABASE_URL`` the app runs on SQLite; with no ``CELERY_BROKER_URL`` Celery runs tasks eagerly
(in-process). Setting both runs the same code on PostgreSQL and Redis.
"""
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
# Personal numbers (ID numbers, phones) encrypted at rest with a keyed lookup digest (PIPL; apps/core/crypto.py).
# The current key encrypts; old keys (comma-separated) are still accepted for reading until
# `manage.py rotate_field_encryption` has re-encrypted every row. local/test settings derive a development key;
# production refuses to start without a real one.
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")
FIELD_ENCRYPTION_OLD_KEYS = env.list("FIELD_ENCRYPTION_OLD_KEYS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "knox",  # API tokens: stored hashed, expiring, revocable (R-SEC-1)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files (intranet, issue 15)
    "import_export",
    "auditlog",
    "csp",
]
LOCAL_APPS = [
    "apps.core",
    "apps.accounts",
    "apps.registries",  # the designation lifecycle shared by institutions and pharmacies
    "apps.institutions",
    "apps.physicians",
    "apps.pharmacies",
    "apps.catalogue",
    "apps.policies",
    "apps.applications",
    "apps.prescriptions",
    "apps.settlement",
    "apps.procurement",
    "apps.monitoring",
    "apps.demo",  # top layer: the demo loader and load_demo
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.request_guard.RequestGuardMiddleware",  # NUL bytes in the path or query string: 400 (R-SEC-4)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.core.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy on every response (R-SEC-1)
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.navigation.navigation",
                "apps.core.context_processors.calendar_warning",
            ],
        },
    },
]

# --- Database: SQLite by default, PostgreSQL with DATABASE_URL=postgres://user:pass@host:5432/name
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
# A separate test database name lets several test runs share one PostgreSQL server.
if env("TEST_DATABASE_NAME", default=None):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}
# Reports and exports may read from a streaming replica (issue 16): DATABASE_REPLICA_URL adds the ``replica`` alias
# and config/db_router.py sends the reads made inside ``replica_reads()`` there; without it every read is the
# primary's. Tests mirror it onto the test database.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
# Where "/" sends bureau users: a URL name, so the kernel's home view imports no feature app.
BUREAU_HOME_URL_NAME = "settlement:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions end after a working day, or when the browser closes (R-SEC-1)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Content-Security-Policy (django-csp): scripts only from this site or with the response's nonce
# (<script nonce="{{ request.csp_nonce }}">); the two inline handlers the pages use are allowed by their hash.
# /api/docs/ serves Swagger UI from drf-spectacular-sidecar's static files, its initialiser as a script URL.
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE  # noqa: E402

CSP_INLINE_HANDLERS = ["'unsafe-hashes'", "'sha256-osjxnKEPL/pQJbFk1dKsF7PYFmTyMWGmVSiL9inhxJY='",  # this.form.submit()
                       "'sha256-MguIPR6qNR8D3B+eAlK+bIRTZe8t3wkOY4B/56Me9FU='"]  # window.print()
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, *CSP_INLINE_HANDLERS],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# One login service for every door (R-SEC-1): authenticate() goes through the lockout too
AUTHENTICATION_BACKENDS = ["apps.accounts.backends.LockoutBackend"]
# Lockout after repeated failed logins (apps/accounts/services.py)
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)

# --- i18n: Simplified Chinese by default, English available
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
# uploaded documents hold personal data: readable by the application's user and group only (R-SEC-2, PIPL)
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- REST framework
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.AuditedTokenAuthentication",  # knox tokens; R-SEC-3: actor in the audit log
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.StandardPagination",
    # a body is one JSON object: a list, number or string at the top level is 400 (R-SEC-4)
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.ObjectJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exceptions.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# API tokens (django-rest-knox): a token lives API_TOKEN_TTL_HOURS from sign-in; a password change or a lockout
# revokes them all; at most API_TOKENS_PER_USER live at once (the oldest go first)
REST_KNOX = {
    "TOKEN_TTL": __import__("datetime").timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=12)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=10)
SPECTACULAR_SETTINGS = {
    "TITLE": "双通道药品管理平台 API",
    "DESCRIPTION": "REST interface for hospitals, pharmacies and the bureau. Rules cited as R-… are in DOMAIN.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # one name per choice set, so `check --deploy` is clean (R-SEC-1)
    "ENUM_NAME_OVERRIDES": {
        "CalendarDayKindEnum": "apps.core.models.CalendarDay.Kind",
        "StockingReportKindEnum": "apps.settlement.models.StockingReport.Kind",
        "InstitutionLevelEnum": "apps.institutions.models.Institution.Level",
        "ReviewStageEnum": "apps.applications.models.Stage",
        "ApplicationStatusEnum": "apps.applications.models.Application.Status",
        "DesignationStatusEnum": "apps.core.models.DesignationStatus",
        "PrescriptionStatusEnum": "apps.prescriptions.models.Prescription.Status",
        "WithdrawalReasonEnum": "apps.catalogue.models.Drug.WithdrawalReason",
        "InstitutionKindEnum": "apps.institutions.models.Institution.Kind",
        "DocumentKindEnum": "apps.applications.models.ApplicationDocument.Kind",
        "DepositReturnDecisionEnum": "apps.settlement.models.DepositEntry.Decision",
        "ApplicationKindEnum": [("initial", "首次申请"), ("extension", "延期申请")],
    },
    # Swagger UI and its favicon from drf-spectacular-sidecar's static files: /api/docs/ works without internet
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery: eager (in-process) unless a broker is configured
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
# a worker killed mid-task (OOM, deploy) gives the message back instead of acknowledging it; with Redis the
# broker redelivers an unacknowledged message after the visibility timeout: 15 minutes, longer than any task
# (a month's settlement takes under a minute) and far shorter than the one-hour default
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=15 * 60)}
# a prefix on the broker's Redis keys lets several deployments (or test runs with real workers) share one Redis
BROKER_KEY_PREFIX = env("BROKER_KEY_PREFIX", default="")
if BROKER_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = BROKER_KEY_PREFIX
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# One queue per kind of work (issue 16), so each can get its own workers, on their own machines
# (docker-compose.yml: worker-imports, worker-settlement, worker-monitoring, worker-default). Exact names first;
# the dead-run check and the small daily jobs stay on ``default`` so they run even when the settlement workers
# are busy or gone.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "apps.settlement.tasks.fail_dead_runs": {"queue": "default"},
    "apps.settlement.tasks.follow_up_rectifications": {"queue": "default"},
    "apps.settlement.tasks.ensure_month_partitions": {"queue": "default"},
    "catalogue.import_run_execute": {"queue": "imports"},
    "apps.catalogue.tasks.*": {"queue": "imports"},
    "apps.settlement.tasks.*": {"queue": "settlement"},
    "apps.monitoring.tasks.*": {"queue": "monitoring"},
}
# R-SET-1: a settlement run split into this many groups of organisations per kind, one task each on the
# ``settlement`` queue (0 = one task settles the whole month, fastest on a single machine)
SETTLEMENT_GROUPS = env.int("SETTLEMENT_GROUPS", default=0)
# Section 9 (issue 16): a monitoring run split into this many groups of pooling cities, one task each on the
# ``monitoring`` queue (0 = one task runs the whole month, fastest on a single machine; PostgreSQL only)
MONITORING_GROUPS = env.int("MONITORING_GROUPS", default=0)
# issue 16 "REST": the load benchmark's bare DRF create (benchmarks/bare_endpoint.py) is mounted at /bench/ only when
# its gunicorn sets this; never in a deployment
BENCHMARK_BARE_ENDPOINTS = env.bool("BENCHMARK_BARE_ENDPOINTS", default=False)
# section 9: R-MON-1..5 flag every dispensing inside its transaction; off only for the rx load benchmark's
# "before" figure (benchmarks/bench_rx_load.py --monitoring=both)
MONITORING_FLAGS_ON_DISPENSING = env.bool("MONITORING_FLAGS_ON_DISPENSING", default=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
from config.beat_schedule import CELERY_BEAT_SCHEDULE  # noqa: E402,F401  (one place for periodic jobs)

# --- Cache (login throttling, patient lookup throttling); Redis when configured
REDIS_CACHE_URL = env("REDIS_CACHE_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_CACHE_URL}
        if REDIS_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Domain settings (defaults; per-region overrides live in core.RegionSettings)
PRESCRIPTION_VALIDITY_DAYS = env.int("PRESCRIPTION_VALIDITY_DAYS", default=3)  # R-RX-4
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)  # R-SEC-4
IMPORT_ASYNC_ROW_THRESHOLD = env.int("IMPORT_ASYNC_ROW_THRESHOLD", default=3000)  # R-CAT-2: larger files run as a Celery task
# R-SEC-4: a run "running" with no heartbeat for this long is failed by the beat sweep (longer than the longest write
# transaction of an import, in which no heartbeat can be seen); the kept file of a failed run is deleted after the
# retention (the run's record stays)
IMPORT_STALE_AFTER_MINUTES = env.int("IMPORT_STALE_AFTER_MINUTES", default=15)
IMPORT_FAILED_FILE_RETENTION_DAYS = env.int("IMPORT_FAILED_FILE_RETENTION_DAYS", default=30)

AUDITLOG_INCLUDE_ALL_MODELS = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
