"""Settings shared by every environment, read from environment variables.

See README.md ("Configuration") for the variables and their defaults.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from tracker.env import (
    database_is_local,
    env_bool,
    env_database,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_redis_url,
    env_str,
)
from tracker.rates import env_rate

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("TRACKER_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set; set it (any long random string) or set DEBUG=1 for local use."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [], allow_empty=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tracker",
    "people",
    "letters",
]

MIDDLEWARE = [
    "tracker.observability.RequestIdMiddleware",
    "tracker.metrics.MetricsMiddleware",
    # Bodies over the cap answered 413 unread; chunked bodies read (tracker/bodies.py).
    "tracker.bodies.BodyLimitMiddleware",
    "tracker.exceptions.ApiNotFoundMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tracker" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}"),
}
# DEBUG shows settings, source and data in error pages and keeps every query in
# memory: never against a shared database by accident.
if (
    DEBUG
    and not database_is_local(DATABASES["default"])
    and not env_bool("ALLOW_DEBUG_WITH_REMOTE_DATABASE", default=False)
):
    raise ImproperlyConfigured(
        f"DEBUG is on with the database at {DATABASES['default'].get('HOST')!r}, which is "
        "not on this machine; turn DEBUG off, or set ALLOW_DEBUG_WITH_REMOTE_DATABASE=1 "
        "if this really is a development database."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file in the embedded setup.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Failed logins (admin, browsable API, token endpoint) per account and address,
# and per address, before logins from there wait LOGIN_LOCKOUT_SECONDS.
AUTHENTICATION_BACKENDS = [
    "tracker.login_guard.LoginGuardBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Collected at build time in the image (TRACKER_STATIC_ROOT=/app/static), so that a new
# image serves its own files and not those an older one left in the TRACKER_VAR_DIR volume.
STATIC_ROOT = Path(env_str("TRACKER_STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis and Celery -------------------------------------------------------
REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    # A Redis that stops answering without closing its connections (failover, a
    # firewall, a hung server) must not hang requests that queue a job or read
    # the cache: every socket operation gives up after a few seconds (workers
    # wait on the queue for 1 s at a time, well within this).
    _REDIS_SOCKET = {
        "socket_timeout": env_int("REDIS_SOCKET_TIMEOUT", 5, minimum=2),
        "socket_connect_timeout": env_int("REDIS_SOCKET_TIMEOUT", 5, minimum=2),
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600, **_REDIS_SOCKET}
    # Publishing tries twice in all, then the job waits in the database for
    # beat to send it again.
    CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 0.5,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": dict(_REDIS_SOCKET),
        }
    }
else:
    # Embedded default: a file-system broker, so worker and beat need no server.
    _broker_dir = VAR_DIR / "broker"
    # A host named, or kombu warns of none at start and on every job sent.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.25,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60, minimum=1)
CELERY_TASK_IGNORE_RESULT = True
# Read here rather than from a --concurrency flag, so that every way of starting a worker
# (compose, podman run, systemd) honours it; unset: one process per CPU.
if env_str("WORKER_CONCURRENCY", ""):
    CELERY_WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 2, minimum=1)
# Workers and beat log through LOGGING below, in LOG_FORMAT like the web processes.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# On SIGTERM a worker lets its jobs run this long, then hands them back to the
# broker (acks_late) and stops: well within honcho's 5 s under `make run`.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env_float("WORKER_SOFT_SHUTDOWN_TIMEOUT", 2.0)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat touches TRACKER_VAR_DIR/beat-heartbeat on every tick; its health check reads it.
CELERY_BEAT_SCHEDULER = "tracker.beat.HeartbeatScheduler"
CELERY_BEAT_SCHEDULE: dict = {}
# How often beat looks for due sources and for lost jobs to send again.
TRACKER_BEAT_TICK_SECONDS = env_int("TRACKER_BEAT_TICK_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE["sources-sync-due"] = {
    "task": "letters.tasks.sources_sync_due",
    "schedule": float(TRACKER_BEAT_TICK_SECONDS),
    "options": {"queue": "sync", "expires": max(1, TRACKER_BEAT_TICK_SECONDS - 5)},
}
CELERY_TASK_ROUTES: dict = {}
CELERY_TASK_ROUTES["letters.tasks.source_sync"] = {"queue": "sync"}
CELERY_TASK_ROUTES["letters.tasks.sources_sync_due"] = {"queue": "sync"}
CELERY_TASK_ROUTES["people.merging.tasks.*"] = {"queue": "matching"}
# Webhooks: beat looks every WEBHOOK_BATCH_SECONDS for subscriptions with new
# events; a subscription gets at most one request per period.
WEBHOOK_BATCH_SECONDS = env_int("WEBHOOK_BATCH_SECONDS", 10, minimum=1)
CELERY_BEAT_SCHEDULE["webhooks-deliver-due"] = {
    "task": "letters.tasks.webhooks_deliver_due",
    "schedule": float(WEBHOOK_BATCH_SECONDS),
    "options": {"expires": max(1, WEBHOOK_BATCH_SECONDS - 1)},
}
# The full duplicate finder, nightly; incremental runs follow entries and syncs.
from celery.schedules import crontab  # noqa: E402

# Steps of match runs that the broker could not take or lost are sent again.
CELERY_BEAT_SCHEDULE["people-match-runs-resend"] = {
    "task": "people.merging.tasks.match_runs_resend",
    "schedule": float(TRACKER_BEAT_TICK_SECONDS),
    "options": {"expires": max(1, TRACKER_BEAT_TICK_SECONDS - 5)},
}
CELERY_BEAT_SCHEDULE["people-match-full"] = {
    "task": "people.merging.tasks.match_full",
    "schedule": crontab(hour=3, minute=30),
    "options": {"expires": 6 * 3600},
}

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "tracker.schema.TrackerAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # REST framework's JSON written by orjson (the same bytes), and the browsable API.
    "DEFAULT_RENDERER_CLASSES": [
        "tracker.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Refuse NUL, lone surrogates, bad form encodings and deep nesting in every body.
    # Multipart only for the browsable API's HTML forms, which REST framework posts
    # so; no endpoint takes files, and a body over the cap is refused unread.
    "DEFAULT_PARSER_CLASSES": [
        "tracker.parsers.JSONParser",
        "tracker.parsers.FormParser",
        "tracker.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tracker.permissions.PublicReadModelWrite"],
    "DEFAULT_PAGINATION_CLASS": "tracker.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "tracker.throttling.AnonThrottle",
        "tracker.throttling.UserThrottle",
    ],
    # Requests per second, minute, hour or day ("120/minute"), per client address
    # for anonymous clients and per account otherwise.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "120/minute"),
        "user": env_rate("API_THROTTLE_USER", "1200/minute"),
        "token": env_rate("API_THROTTLE_TOKEN", "10/minute"),
    },
    # How many proxies in front set X-Forwarded-For: 0 takes the connecting address,
    # 1 the address nginx saw. Without it a client could name any address it liked.
    "NUM_PROXIES": env_int("TRUSTED_PROXIES", 0, minimum=0),
    "EXCEPTION_HANDLER": "tracker.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Signatory tracker API",
    "DESCRIPTION": (
        "Open letters, who signed them, what those people are affiliated with, "
        "and which institutions each letter addresses. Every fact cites its source.\n\n"
        "Reading letters, signatures, people and organizations needs no account. "
        "Writing needs a token (`POST /api/auth/token/`, then `Authorization: Token KEY`) "
        "and the matching permission; sources, sync runs and duplicates are for staff. "
        "Every error answers `{status, code, message, field, errors}`. "
        "A creating `POST` accepts an `Idempotency-Key` header: a repeat with the same key "
        "returns the first answer and creates nothing."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from the service's own static files, pinned by the
    # drf-spectacular-sidecar release: the docs work offline and never change under us.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies are documented as JSON only (one body type per operation, which
    # generated clients need); the form parsers serve the browsable API's forms.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracker.schema.add_error_responses",
        "tracker.schema.integer_path_ids",
    ],
    "ENUM_NAME_OVERRIDES": {
        "LetterStatusEnum": "letters.models.LetterStatus",
        "SignatureStatusEnum": "letters.models.SignatureStatus",
        "SourceKindEnum": "letters.models.SourceKind",
        "OrganizationKindEnum": "people.models.OrganizationKind",
        "OutcomeEnum": "letters.models.SyncRunOutcome",
        "WebhookDeliveryOutcomeEnum": "letters.models.WebhookDeliveryOutcome",
        "ChangeKindEnum": "letters.changes.KINDS",
    },
}

# Any web page may read the public API from its visitors' browsers, anonymously:
# reads only, and neither cookies nor an Authorization header cross origins.
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_ALLOW_HEADERS = ("accept", "accept-language", "content-language")
CORS_EXPOSE_HEADERS = ("Content-Disposition", "Retry-After")

# --- Application ------------------------------------------------------------
TRACKER_ALLOW_PRIVATE_SOURCES = env_bool("TRACKER_ALLOW_PRIVATE_SOURCES", default=False)
# Networks fetched even though they are not public, such as an intranet feed ("10.1.2.0/24").
TRACKER_SOURCE_ALLOWED_NETWORKS = env_list("TRACKER_SOURCE_ALLOWED_NETWORKS", [], allow_empty=True)
TRACKER_SYNC_MAX_BYTES = env_int("TRACKER_SYNC_MAX_BYTES", 64 * 1024 * 1024, minimum=1)
TRACKER_SYNC_CONNECT_TIMEOUT = env_int("TRACKER_SYNC_CONNECT_TIMEOUT", 10, minimum=1)
TRACKER_SYNC_READ_TIMEOUT = env_int("TRACKER_SYNC_READ_TIMEOUT", 60, minimum=1)
# From this many new names in one run, names are parsed by one process per core.
TRACKER_SYNC_PARALLEL_PARSE_MIN = env_int("TRACKER_SYNC_PARALLEL_PARSE_MIN", 20_000, minimum=1)
# A sync recognises rows listed exactly as before by their hash and reads only the others;
# off, it reads and compares every row (the same outcome, slower).
TRACKER_SYNC_SKIP_UNCHANGED = env_bool("TRACKER_SYNC_SKIP_UNCHANGED", default=True)

# How the service's own address is written in what it sends out (webhook bodies' links).
TRACKER_PUBLIC_URL = (env_str("TRACKER_PUBLIC_URL", "http://127.0.0.1:8000") or "").rstrip("/")
if not TRACKER_PUBLIC_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"TRACKER_PUBLIC_URL={TRACKER_PUBLIC_URL!r} is not an http(s) address."
    )
# A failed delivery is tried again after WEBHOOK_RETRY_BASE_SECONDS, doubling up to
# WEBHOOK_RETRY_MAX_SECONDS, for WEBHOOK_RETRY_FOR_SECONDS; then the subscription pauses.
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600, minimum=1)
WEBHOOK_RETRY_FOR_SECONDS = env_int("WEBHOOK_RETRY_FOR_SECONDS", 24 * 3600, minimum=1)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_MAX_EVENTS = env_int("WEBHOOK_MAX_EVENTS", 1000, minimum=1)

# The duplicate finder's thresholds, in bits (people/matching/scoring.py): a pair
# scoring MATCHING_MERGE_AT with no context disagreeing is merged, one scoring
# MATCHING_REVIEW_AT goes to the review queue.
MATCHING_MERGE_AT = env_float("MATCHING_MERGE_AT", 14.0)
MATCHING_REVIEW_AT = env_float("MATCHING_REVIEW_AT", 8.0)
if MATCHING_REVIEW_AT > MATCHING_MERGE_AT:
    raise ImproperlyConfigured(
        f"MATCHING_REVIEW_AT={MATCHING_REVIEW_AT:g} is above MATCHING_MERGE_AT="
        f"{MATCHING_MERGE_AT:g}; pairs are reviewed below the score at which they merge."
    )

# Each full run learns the weights of the levels from the data
# (people/matching/learning.py): from MATCHING_LEARN_PAIRS candidate pairs and
# as many people drawn at random, with the seed MATCHING_LEARN_SEED. An
# incremental run takes the weights the last full run learned.
# MATCHING_LEARN=0 keeps the weights set in the code.
MATCHING_LEARN = env_bool("MATCHING_LEARN", True)
MATCHING_LEARN_PAIRS = env_int("MATCHING_LEARN_PAIRS", 20_000, minimum=100)
MATCHING_LEARN_SEED = env_int("MATCHING_LEARN_SEED", 0, minimum=0)

# Seconds an incremental run waits after an entry or a sync queues people, so
# that a burst of entries is matched in one run.
MATCHING_DEBOUNCE_SECONDS = env_int("MATCHING_DEBOUNCE_SECONDS", 10, minimum=0)
# A match run that made no progress for this long with no live worker at any of
# its steps (its worker died) has its next step sent again by beat.
MATCHING_STEP_LOST_AFTER_SECONDS = env_int("MATCHING_STEP_LOST_AFTER_SECONDS", 120, minimum=1)

LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not one of json, plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "tracker.observability.RequestIdFilter"},
        "redact": {"()": "tracker.redact.RedactingFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# /metrics answers staff, a bearer of METRICS_TOKEN, or unproxied clients on these networks.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
