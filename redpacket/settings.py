"""Settings for the red packet system, read from the environment (django-environ).

Without DATABASE_URL / REDIS_URL the project runs on its embedded default: an SQLite
file, the local-memory cache, the in-memory channel layer, an in-process packet gate
and eager Celery tasks, so one process serves everything. With them set it runs on
PostgreSQL and Redis as deployed. Every variable is listed in the README.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from redpacket.kernel.startup import (
    DEV_ALLOCATION_SECRET,
    DEV_PIN_PEPPER,
    DEV_SECRET_KEY,
    production_problems,
    trusted_proxy_settings,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# One switch: DEBUG=1 is development mode (`make run`, `make test`, CI ask for it). It
# turns on Django's debug pages, built-in development secrets (key, allocation, PIN), the
# sandbox bank and SMS, and `seed_demo`. Without it (the default) the process refuses to
# start unless real secrets are set and the sandbox is allowed or replaced (SPEC §7).
DEBUG: bool = env.bool("DEBUG", default=False)
# Fixed at load: pytest-django turns DEBUG off while tests run, the mode stays.
DEVELOPMENT = DEBUG
SECRET_KEY: str = env.str("SECRET_KEY", default="")
# Seeds the keyed stream every lucky share is drawn from (SPEC §3). Kept apart from
# SECRET_KEY (and never defaulting to it) so rotating session keys does not break the
# audit of old packets and a leaked or example SECRET_KEY does not reveal shares.
ALLOCATION_SECRET: str = env.str("ALLOCATION_SECRET", default="")
# Keys the payment PIN's HMAC (SPEC §2, wallet/pin_hash.py): with 10⁶ PINs only a key kept
# outside the database stops an offline search of a copied table. Newest first: PIN_PEPPER
# signs; retired ones (PIN_PEPPERS_OLD, comma-separated) still verify, and a hash under one
# is signed again with PIN_PEPPER on its owner's next right PIN.
_pin_pepper = env.str("PIN_PEPPER", default="")
_old_pin_peppers = [
    pepper.strip() for pepper in env.str("PIN_PEPPERS_OLD", default="").split(",") if pepper.strip()
]
if DEVELOPMENT:
    SECRET_KEY = SECRET_KEY or DEV_SECRET_KEY
    ALLOCATION_SECRET = ALLOCATION_SECRET or DEV_ALLOCATION_SECRET
    _pin_pepper = _pin_pepper or DEV_PIN_PEPPER
PIN_PEPPERS = [_pin_pepper, *_old_pin_peppers]
# The sandbox bank and SMS outside development only when asked for (a loopback demo
# such as `make stack` or the benchmark): it tops up for free and shows SMS codes.
ALLOW_SANDBOX_PAYMENTS: bool = env.bool("ALLOW_SANDBOX_PAYMENTS", default=DEVELOPMENT)

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "channels",
    # Layers, lowest first (README "Layout"; import-linter keeps them so).
    "redpacket.kernel",
    "redpacket.accounts",
    "wallet",
    "chat",
    "redpacket.packets",  # app label "redpacket": its tables and migrations keep their names
    "shake",
    # The project itself: its management commands (seed_demo, makemessages) and the Celery
    # app, configured before anything sends a task.
    "redpacket",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "redpacket.kernel.middleware.ApiSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "redpacket.kernel.middleware.ApiUtcMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "redpacket.kernel.middleware.ApiAuthenticationMiddleware",
    # A signed-in user's write request: their next history reads skip the replica.
    "redpacket.kernel.replica.WroteMiddleware",
    "redpacket.kernel.middleware.ApiMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "redpacket.kernel.middleware.DomainErrorMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a sign-in refused for a locked account into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "redpacket.urls"
WSGI_APPLICATION = "redpacket.wsgi.application"
ASGI_APPLICATION = "redpacket.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "redpacket.packets.context_processors.packet_links",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# DATABASE_PGBOUNCER=1: DATABASE_URL (and DATABASE_REPLICA_URL) lead to pgbouncer in
# transaction mode, which pools the server connections itself. Each transaction may then
# run on another server connection, so nothing may outlive one: no server-side cursors
# (a cursor is declared in one transaction and fetched from in the next), no prepared
# statements (psycopg prepares a query after `prepare_threshold` runs: None never does),
# no session state, advisory locks only transaction-scoped (pg_advisory_xact_lock).
DATABASE_PGBOUNCER: bool = env.bool("DATABASE_PGBOUNCER", default=False)
# A bounded pool per process (psycopg's, ARCHITECTURE "Connections"): under an ASGI server
# every request runs in a thread of its own, and Django's persistent connections
# (CONN_MAX_AGE) are per thread, so they piled up to PostgreSQL's limit (issue #16
# finding 9). A process never holds more than DB_POOL_MAX_SIZE connections; the whole
# deployment at most DB_POOL_MAX_SIZE × processes (README "Settings"). 0 turns it off.
# Behind pgbouncer there is no pool in the process: pgbouncer is the pool.
DB_POOL_MAX_SIZE: int = env.int("DB_POOL_MAX_SIZE", default=10)
DB_POOL_MIN_SIZE: int = env.int("DB_POOL_MIN_SIZE", default=1)
DB_POOL_TIMEOUT: float = env.float("DB_POOL_TIMEOUT", default=10.0)
# History pages and APIs (我的红包, the ledger, older messages) may read from a streaming
# replica (redpacket/kernel/replica.py): alias "replica". A user who wrote in the last
# REPLICA_READ_YOUR_WRITES_SECONDS reads the primary instead, and so does everyone while
# the replica cannot be reached within REPLICA_CONNECT_TIMEOUT seconds.
DATABASE_REPLICA_URL: str = env.str("DATABASE_REPLICA_URL", default="")
REPLICA_READ_YOUR_WRITES_SECONDS: int = env.int("REPLICA_READ_YOUR_WRITES_SECONDS", default=10)
REPLICA_CONNECT_TIMEOUT: int = env.int("REPLICA_CONNECT_TIMEOUT", default=2)
# Whether history reads may go to the replica at all (on whenever there is one; the test
# settings keep an alias "replica" mirroring the test database, off unless a test asks).
REPLICA_READS: bool = bool(DATABASE_REPLICA_URL)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = REPLICA_CONNECT_TIMEOUT
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}


def _postgres_connection_settings(database: dict, *, pool_timeout: float) -> None:
    options = database.setdefault("OPTIONS", {})
    if DATABASE_PGBOUNCER:
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
        options["prepare_threshold"] = None
        database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    elif DB_POOL_MAX_SIZE > 0:
        options["pool"] = {
            "min_size": min(DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE),
            "max_size": DB_POOL_MAX_SIZE,
            # A request waits this long for a free connection, then gets 503 `unavailable`.
            "timeout": pool_timeout,
        }
        # The pool keeps the connections; Django must hand each back after a request.
        database["CONN_MAX_AGE"] = 0
    else:
        database.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    database["CONN_HEALTH_CHECKS"] = True


if USING_POSTGRES:
    _postgres_connection_settings(DATABASES["default"], pool_timeout=DB_POOL_TIMEOUT)
    if "replica" in DATABASES:
        # A replica that does not answer is given up quickly: the primary serves instead.
        _postgres_connection_settings(
            DATABASES["replica"], pool_timeout=float(REPLICA_CONNECT_TIMEOUT)
        )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # One writer at a time is SQLite's nature; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # Tests on a file, not Django's shared-cache in-memory database: there a second writer
    # (a browser test's live server beside the test itself) fails at once with "table is
    # locked" instead of waiting for the lock as `timeout` says.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"redpacket-test-{os.getpid()}.sqlite3")
    }
# Every write and every read but the history pages' goes to the primary ("default").
DATABASE_ROUTERS = ["redpacket.kernel.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, broker, packet gate ----------------------------------
REDIS_URL: str = env.str("REDIS_URL", default="")
# REDIS_CLUSTER=1: REDIS_URL names one node of a Redis Cluster (the others are found from
# it). The cache, and through it the gate, the facts, the shake store, the throttles, the
# SMS limits and the lockout, then use a cluster client (redpacket/kernel/redis_cluster.py);
# every Lua script touches the keys of one hash tag only (ARCHITECTURE "Redis keys").
REDIS_CLUSTER: bool = env.bool("REDIS_CLUSTER", default=False)
# Redis connections one process may hold for the cache, the packet gate and the shake
# store (per node on a cluster). A request beyond them waits (up to DB_POOL_TIMEOUT) for a
# free one: redis-py's plain pool raised "Too many connections" at 100 when daphne ran 200
# requests at once.
REDIS_POOL_MAX_SIZE: int = env.int("REDIS_POOL_MAX_SIZE", default=50)
# The channel layer's Redis hosts, comma-separated: channels-redis shards groups and
# channels over them by itself. A Redis Cluster node cannot be one (channels-redis speaks
# to plain Redis), so with REDIS_CLUSTER=1 they must be given; otherwise REDIS_URL.
CHANNEL_REDIS_URLS: list[str] = env.list("CHANNEL_REDIS_URLS", default=[])
if REDIS_CLUSTER and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_CLUSTER=1 needs REDIS_URL (one node of the cluster).")
if REDIS_CLUSTER and not CHANNEL_REDIS_URLS:
    raise ImproperlyConfigured(
        "REDIS_CLUSTER=1 needs CHANNEL_REDIS_URLS (plain Redis hosts for the channel layer)."
    )
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "redpacket.kernel.redis_cluster.ClusterClient"
                if REDIS_CLUSTER
                else "django_redis.client.DefaultClient",
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": REDIS_POOL_MAX_SIZE,
                    "timeout": DB_POOL_TIMEOUT,
                },
            },
            "KEY_PREFIX": "c",
        }
    }
if REDIS_URL or CHANNEL_REDIS_URLS:
    # Pub/sub: an event is one PUBLISH, and each daphne process subscribes once per
    # group and hands it to its own connections (docs/performance.md, "Round 4"). With
    # several hosts (CHANNEL_REDIS_URLS) the layer shards the groups over them.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": CHANNEL_REDIS_URLS or [REDIS_URL], "prefix": "ws"},
        }
    }
if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if not (REDIS_URL or CHANNEL_REDIS_URLS):
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery ----------------------------------------------------------------------------
# The broker only carries wake-ups: a claim's "pending" state is committed with the claim,
# and the sweeper re-queues whatever a lost message left behind.
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
if REDIS_CLUSTER and "CELERY_BROKER_URL" not in os.environ:
    # Kombu's Redis transport needs a plain Redis, not a cluster node: the cluster's
    # broker is RabbitMQ (or another plain Redis), named explicitly.
    raise ImproperlyConfigured("REDIS_CLUSTER=1 needs CELERY_BROKER_URL (e.g. RabbitMQ).")
CELERY_TASK_ALWAYS_EAGER: bool = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory")
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Message priorities 0–9 (kept so the queues stay declared as before: RabbitMQ declares
# the queue with x-max-priority; Redis emulates priorities with one list per level). Larger
# shares are credited first (大额优先) by the crediting drain's order, not by priorities.
CELERY_TASK_QUEUE_MAX_PRIORITY = 10
CELERY_TASK_DEFAULT_PRIORITY = 5
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "priority_steps": list(range(10)),
    "sep": ":",
    "queue_order_strategy": "priority",
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
}
CELERY_WORKER_SEND_TASK_EVENTS = False
# Without this, Celery's Django fixup closes the database connection before and after
# every task: each credit paid for a new PostgreSQL connection, the largest cost of
# crediting in the profile (docs/performance.md). Connections are reused instead, and
# checked before each task as Django checks them around a request (CONN_MAX_AGE, the
# health check, errors): see redpacket/celery.py.
CELERY_DB_REUSE_MAX: int = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULE = {
    "expire-packets": {"task": "redpacket.tasks.expire_packets", "schedule": 60.0},
    "credit-sweep": {
        "task": "redpacket.tasks.credit_sweep",
        "schedule": env.float("CREDIT_SWEEP_EVERY_SECONDS", default=60.0),
    },
    "reconcile": {
        "task": "redpacket.tasks.reconcile",
        "schedule": env.float("RECONCILE_EVERY_SECONDS", default=3600.0),
    },
    # Start due shake campaigns, end those past their end time and refund the rest.
    "shake-end-campaigns": {"task": "shake.tasks.end_campaigns", "schedule": 60.0},
    "idempotency-purge": {"task": "wallet.tasks.idempotency_purge", "schedule": 3600.0},
    # The coming months' partitions of claims, ledger entries and messages (PostgreSQL).
    "partition-upkeep": {"task": "redpacket.tasks.partition_upkeep", "schedule": 86400.0},
}
# How long an answered Idempotency-Key is kept for replay (the client's retry window).
IDEMPOTENCY_KEEP_DAYS: int = env.int("IDEMPOTENCY_KEEP_DAYS", default=7)

# --- Auth ------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:rooms"
LOGOUT_REDIRECT_URL = "login"
# Client addresses come only from trusted proxies: with TRUSTED_PROXY_COUNT=0 (the
# default) the peer address (REMOTE_ADDR); with N proxies in front, the address the
# outermost of them saw (the N-th entry of X-Forwarded-For counted from the right).
# DRF's throttles (NUM_PROXIES) and the sign-in lockout (django-axes, ipware) share it.
TRUSTED_PROXY_COUNT: int = env.int("TRUSTED_PROXY_COUNT", default=0)

# Sign-in lockout (SPEC §7): after LOGIN_FAILURE_LIMIT wrong passwords for one account,
# from any address, that account cannot sign in for LOGIN_LOCKOUT_MINUTES (API token,
# login page, admin). Attempts are kept in the database (django-axes).
AXES_ENABLED: bool = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT: int = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# By account only: one address may be thousands of phones behind a carrier's NAT, and
# locking it would lock them all out. Per-address limits are the `auth` throttle's
# (API and login page), hence axes.W006 silenced below.
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "redpacket.accounts.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The same trusted-proxy rule for axes (ipware) and DRF (NUM_PROXIES, below).
_client_address = trusted_proxy_settings(TRUSTED_PROXY_COUNT)
AXES_IPWARE_PROXY_COUNT = _client_address["AXES_IPWARE_PROXY_COUNT"]
AXES_IPWARE_META_PRECEDENCE_ORDER = _client_address["AXES_IPWARE_META_PRECEDENCE_ORDER"]
# Not strict: entries a client put before the trusted proxies' are skipped, as DRF does,
# instead of discarding the header and counting every client as the proxy's address.
IPWARE_STRICT = False
AXES_SENSITIVE_PARAMETERS = ["password", "pin", "card_number"]

SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# API tokens expire (SPEC §7): a fresh sign-in is needed after this long.
API_TOKEN_TTL_SECONDS: int = env.int("API_TOKEN_TTL_SECONDS", default=7 * 24 * 3600)
# One-use websocket tickets (`POST /api/auth/ws-ticket`).
WS_TICKET_TTL_SECONDS = 60

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS: list[str] = env.list(
    "PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)

# --- REST API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "redpacket.accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only in production: the browsable API (an HTML page per answer, and a second
    # renderer for content negotiation to weigh on every request) only in development.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "redpacket.kernel.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "redpacket.kernel.api.NextPagination",
    "PAGE_SIZE": 30,
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH", default="30/min"),
        "money": env.str("THROTTLE_MONEY", default="120/min"),
        "open": env.str("THROTTLE_OPEN", default="600/min"),
        "chat": env.str("THROTTLE_CHAT", default="120/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles key anonymous clients by address: only from trusted proxies (above).
    "NUM_PROXIES": _client_address["NUM_PROXIES"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Red packet API",
    "DESCRIPTION": "Wallet, rooms, red packets and shake campaigns. Money is integer fen.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `kind` field; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "RoomKindEnum": "chat.models.Room.Kind",
        "MessageKindEnum": "chat.models.Message.Kind",
        "PacketKindEnum": "redpacket.packets.models.Packet.Kind",
        "PacketStatusEnum": "redpacket.packets.models.Packet.Status",
        "CampaignStatusEnum": "shake.models.Campaign.Status",
    },
}

# --- I18N ------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE: str = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security --------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page's fetch() reads it for X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# A strict Content-Security-Policy (django-csp): scripts, styles and everything else only
# from this origin, no inline script, style or event handler anywhere (data for a page's
# script travels in `json_script` blocks, which are never executed); websockets to this
# origin ('self' covers ws:/wss: on the same host). The browser tests fail on any
# violation (tests/conftest.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Off only for a local stack served over plain HTTP on loopback (`make stack`).
    SESSION_COOKIE_SECURE: bool = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Product settings (SPEC §2, §3, §5) ------------------------------------------------
PAYMENTS_SANDBOX: bool = env.bool("PAYMENTS_SANDBOX", default=ALLOW_SANDBOX_PAYMENTS)
REDPACKET_TTL_SECONDS: int = env.int("REDPACKET_TTL_SECONDS", default=86400)
CHAT_GROUP_MAX_MEMBERS: int = env.int("CHAT_GROUP_MAX_MEMBERS", default=500)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # Every failed sign-in and lockout stays a WARNING; axes' INFO is housekeeping.
        "axes": {"level": "WARNING"},
    },
}


AUTHENTICATION_BACKENDS = [
    # First: refuses a locked account before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "redpacket.accounts.authentication.CachedModelBackend",
]
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Wallet (SPEC §2) ------------------------------------------------------------------
BANK_GATEWAY: str = env.str("BANK_GATEWAY", default="wallet.gateway.SandboxGateway")
SMS_BACKEND: str = env.str("SMS_BACKEND", default="wallet.gateway.SandboxSms")
WALLET_MAX_AMOUNT_FEN: int = env.int("WALLET_MAX_AMOUNT_FEN", default=5_000_000)  # ¥50,000 per op
PIN_MAX_ATTEMPTS = 5
PIN_LOCK_SECONDS = 3 * 3600
SMS_CODE_TTL_SECONDS = 300
SMS_CODE_MAX_ATTEMPTS = 5
# Card-binding SMS per user and per phone number (wallet/sms_limits.py), page and API.
SMS_SENDS_PER_USER: str = env.str("SMS_SENDS_PER_USER", default="5/hour")
SMS_SENDS_PER_PHONE: str = env.str("SMS_SENDS_PER_PHONE", default="3/hour")

# --- Red packets (SPEC §3) -------------------------------------------------------------
REDPACKET_MAX_COUNT: int = env.int("REDPACKET_MAX_COUNT", default=100)
REDPACKET_MAX_SHARE_FEN: int = env.int("REDPACKET_MAX_SHARE_FEN", default=20_000)
REDPACKET_GREETING_MAX = 25
REDPACKET_DEFAULT_GREETING = "恭喜发财，大吉大利"
# Crediting (an outbox: wallet/crediting.py): pending rows credited per batch, largest
# first (大额优先); a wake-up is due this long after the first new row (the rows of that
# while share one batch); credits still pending this long make the sweeper drain again.
CREDIT_BATCH_SIZE: int = env.int("CREDIT_BATCH_SIZE", default=500)
CREDIT_WAKE_DELAY_MS: int = env.int("CREDIT_WAKE_DELAY_MS", default=100)
CREDIT_SWEEP_AFTER_SECONDS: int = env.int("CREDIT_SWEEP_AFTER_SECONDS", default=60)
# What the credit sweeper looks after (claims, shake wins) and the checks 对账 runs are
# registered by the apps themselves (their AppConfig.ready; wallet/crediting.py and
# wallet/reconciliation.py), so wallet names neither packets nor shake.

# A bank payment is in flight between the bank's answer and our commit: statement rows
# younger than this are compared at the next run.
RECONCILE_SETTLE_SECONDS: int = env.int("RECONCILE_SETTLE_SECONDS", default=60)
# A bank operation still pending this long after it was made belongs to a request that
# died: 对账 asks the bank again under its reference and finishes it.
BANK_OPERATION_RESOLVE_AFTER_SECONDS: int = env.int(
    "BANK_OPERATION_RESOLVE_AFTER_SECONDS", default=300
)

# --- Shake campaigns (SPEC §5) ---------------------------------------------------------
# Wins a campaign may run ahead of its pace line (count × elapsed ÷ duration).
SHAKE_BURST: int = env.int("SHAKE_BURST", default=10)
# Shakes in flight at once across all web processes; beyond it a shake answers "busy".
SHAKE_MAX_IN_FLIGHT: int = env.int("SHAKE_MAX_IN_FLIGHT", default=200)
# One shake per user per this many milliseconds; faster ones answer "busy" (0: off).
SHAKE_USER_INTERVAL_MS: int = env.int("SHAKE_USER_INTERVAL_MS", default=300)
# The remaining count users see is refreshed each time it drops by this % of the packets.
SHAKE_REMAINING_STEP_PERCENT: int = env.int("SHAKE_REMAINING_STEP_PERCENT", default=1)

# --- Refuse to start with unsafe settings outside development (SPEC §7) ----------------
if not DEVELOPMENT:
    _problems = production_problems(
        secret_key=SECRET_KEY,
        allocation_secret=ALLOCATION_SECRET,
        pin_peppers=PIN_PEPPERS,
        payments_sandbox=PAYMENTS_SANDBOX,
        bank_gateway=BANK_GATEWAY,
        sms_backend=SMS_BACKEND,
        sandbox_allowed=ALLOW_SANDBOX_PAYMENTS,
    )
    if _problems:
        raise ImproperlyConfigured(
            "Refusing to start outside development (DEBUG=0):\n  - "
            + "\n  - ".join(_problems)
            + "\nFor development set DEBUG=1 (README, Settings)."
        )
