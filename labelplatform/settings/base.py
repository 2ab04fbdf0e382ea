"""Settings shared by every environment, read from the environment.

Every value a deployment may change comes from an environment variable (or a `.env` file at
the repository root), with a default that is safe for local use. `local.py` is the default
module; `production.py` tightens security and requires secrets.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# ------------------------------------------------------------------------------
# Core  https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
# ------------------------------------------------------------------------------
# No key is written here (one in the repository is no secret): production requires it, the
# local settings keep a generated one under var/ (labelplatform.secret_key), the tests set one.
SECRET_KEY = env("SECRET_KEY", default="")
# Off unless asked for (DEBUG=true): its error pages show tracebacks, settings and the URL
# patterns to whoever reaches the server.
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # The project itself: start-up that every app relies on (labelplatform.apps).
    "labelplatform",
    "labeling",
    "classifier",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A request that fails because the database is unreachable gets a 503 with Retry-After.
    "labelplatform.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Login is required everywhere but the login page (and the API, which answers 401 itself).
    "labelplatform.middleware.LoginRequiredExceptApiMiddleware",
    # An upload whose temporary spool filled the disk gets a 507, nothing stored.
    "labelplatform.upload_spool.UploadSpoolFullMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "labelplatform.urls"
WSGI_APPLICATION = "labelplatform.wsgi.application"
ASGI_APPLICATION = "labelplatform.asgi.application"

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
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Database  https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# SQLite file by default; DATABASE_URL=postgres://user@host:5432/name for PostgreSQL.
# ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two annotators and a worker write at once: wait for the lock instead of failing,
    # and take the write lock at BEGIN so select_for_update-style sections serialize.
    # WAL with synchronous=NORMAL (SQLite's advice for WAL): no fsync per commit, still safe
    # from corruption; a power cut may lose the last commits. An fsync costs 4-8 ms here, and
    # an ad-hoc prediction commits four times on its way (bench/prediction_latency.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections, checked before reuse: a web request or a worker's job does not pay a
# new connection (3-8 ms on PostgreSQL here), and one the server dropped (a restart) is replaced
# instead of failing the next request. Workers reuse them too (labelplatform.celery).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# Auth  https://docs.djangoproject.com/en/5.2/topics/auth/
# ------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "labeling:home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username and address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# Brute force  https://django-axes.readthedocs.io/en/latest/4_configuration.html
# Failed logins are counted per username and client address, whichever way in they take (the
# login page, the admin's, the API token endpoint): after LOGIN_FAILURE_LIMIT of them that
# pair is refused for LOGIN_LOCKOUT_MINUTES, even with the right password, while the same user
# elsewhere and other users here log in as usual. A success before the limit clears the count.
# See labelplatform.login_lockout.
# ------------------------------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "labelplatform.login_lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "labelplatform.login_lockout.client_address"
# Proxies in front of the web process that append the client's address to X-Forwarded-For
# (production.py: the TLS proxy); 0 trusts the header not at all.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# ------------------------------------------------------------------------------
# Static files and storage  https://docs.djangoproject.com/en/5.2/ref/settings/#storages
# Local filesystem by default. Setting AWS_STORAGE_BUCKET_NAME switches media (images,
# thumbnails, model artifacts, ad-hoc files being predicted) to S3 through django-storages;
# objects stay private and are read through short-lived signed URLs. (The embedding cache is
# a database table, classifier.models.Embedding.)
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Media is never served from a public URL: every image goes through a view that checks
# membership (see labeling.views.media). MEDIA_URL only names that view's prefix.
MEDIA_URL = "/media/"

AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
_media_storage: dict[str, Any]
if AWS_STORAGE_BUCKET_NAME:
    _media_storage = {
        # django-storages' S3Storage, signing browser URLs for AWS_S3_PUBLIC_ENDPOINT_URL
        # when the processes reach the store under an internal name (MinIO in compose).
        "BACKEND": "labelplatform.object_storage.S3MediaStorage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "public_endpoint_url": env("AWS_S3_PUBLIC_ENDPOINT_URL", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            # MinIO and most S3-compatible stores want path-style addressing
            # (http://host/bucket/key); AWS itself works with the default ("auto").
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default=None),
            "signature_version": "s3v4",
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
            "file_overwrite": False,
        },
    }
else:
    _media_storage = {
        # Django's FileSystemStorage, but a write cut short (disk full) leaves no partial file.
        "BACKEND": "labelplatform.media_storage.MediaFileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: Django keeps small files in memory and spools the rest to disk.
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=1000)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Where larger files are spooled (None: the system's temporary folder). A spool that fills up
# is answered 507 with nothing stored (labelplatform.upload_spool).
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default=None)
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "labelplatform.upload_spool.SpoolFullAwareUploadHandler",
]

# ------------------------------------------------------------------------------
# Image ingest limits (labeling.ingest)
# ------------------------------------------------------------------------------
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
THUMBNAIL_SIZE = 256
# A zip upload: at most this many members and this many bytes once uncompressed.
ZIP_MAX_MEMBERS = env.int("ZIP_MAX_MEMBERS", default=10_000)
ZIP_MAX_UNCOMPRESSED_BYTES = env.int("ZIP_MAX_UNCOMPRESSED_BYTES", default=2 * 1024 * 1024 * 1024)
ZIP_MAX_RATIO = env.int("ZIP_MAX_RATIO", default=100)

# ------------------------------------------------------------------------------
# Celery  https://docs.celeryq.dev/en/stable/userguide/configuration.html
# Redis is the broker. Jobs are database rows (status, progress, error); Celery only
# carries their ids, so no result backend is needed.
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
# A worker that dies mid-job leaves its message for another worker, not lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "prediction"
CELERY_TASK_ROUTES = {
    "classifier.tasks.training_*": {"queue": "training"},
    "classifier.tasks.prediction_*": {"queue": "prediction"},
    # Data-health checks are analysis work like a training (out-of-fold fits, all-pairs
    # similarities): on the training queue they follow the run that asked for them and
    # never compete with it for the cores.
    "classifier.tasks.health_check_*": {"queue": "training"},
    # Housekeeping: prediction workers are the ones usually free (a training takes minutes).
    "classifier.tasks.jobs_*": {"queue": "prediction"},
    # Calls to other servers wait on them: a queue and worker of their own, which loads no
    # model, so a slow receiver never holds up a training or a prediction.
    "webhooks.tasks.*": {"queue": "webhooks"},
}
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60 + 60)
# Loading the backbone in a fresh prefork child takes 3-8 s; the default (4 s) kills it.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 60
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing while Redis is down must fail fast (the row stays "queued" with a note and is
# sent later by the workers), not hang the request for the default 20-odd retries.
# A Redis that accepts connections but does not answer (hung, or a network dropping packets)
# would otherwise block a publish forever: socket timeouts bound every broker call. 1.5 s is
# far above any answer of a working Redis and still above the workers' 1 s BRPOP polls
# (whose replies are read once they have arrived). No retries: each retry of a publish to a
# hung Redis adds a reconnection whose handshake times out too (4.5 s per publish with one
# retry, 1.5 s without), and a connection left stale by a Redis restart needs none (redis-py
# reconnects it when it is taken from the pool). After a slow failure the web stops calling
# the broker for a while (CLASSIFIER_BROKER_BACKOFF, classifier.broker).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,
    "socket_connect_timeout": 1.5,
    "socket_timeout": 1.5,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}

# ------------------------------------------------------------------------------
# Classifier  (classifier.ml; read by workers only)
# ------------------------------------------------------------------------------
# EfficientNet-Lite2 by measurement (classifier/ml/README.md: the only one at 0.985 mean test
# accuracy over 50 coffee-or-not splits, peak worker RSS 879 MB). A project may choose another.
CLASSIFIER_BACKBONE = env("CLASSIFIER_BACKBONE", default="efficientnet_lite2")
CLASSIFIER_WEIGHTS_DIR = env("CLASSIFIER_WEIGHTS_DIR", default=str(VAR_DIR / "weights"))
# Backbones besides classifier.ml's own, as name -> dotted path of a loader (weights_dir in, a
# classifier.ml.Network out), registered by a worker before it loads one. The test settings
# add the tests' tiny random network; in the environment: NAME=module.loader,NAME2=...
CLASSIFIER_EXTRA_BACKBONES = env.dict("CLASSIFIER_EXTRA_BACKBONES", default={})
# With the default EfficientNet-Lite2 (260x260 input) a cap of 16 took a worker to 1,060-1,075
# MB in bench/memory.py, over the 1 GB goal; 8 keeps it about 115 MB lower (1,000 -> 887 MB
# after 200 photos in one process) for the same images per second (about 32 a second for
# both, load 6, 2026-12-03). With Lite0, 16 was fine (peak near 850 MB).
CLASSIFIER_INFERENCE_BATCH_SIZE = env.int("CLASSIFIER_INFERENCE_BATCH_SIZE", default=8)
# A re-prediction of a whole project is split into jobs of this many images, so several
# prediction workers share it and each job's progress means something.
CLASSIFIER_PREDICTION_JOB_SIZE = env.int("CLASSIFIER_PREDICTION_JOB_SIZE", default=500)
# The labeling queue's orderings (classifier.worker.labeling_queue): how many places of each
# strategy the prediction worker stores (past them the queue goes on in upload order; every
# prediction job ranks afresh), and how many of the most uncertain images the diversity
# strategy picks from (k-center greedy costs candidates x depth distance computations).
CLASSIFIER_LABELING_QUEUE_DEPTH = env.int("CLASSIFIER_LABELING_QUEUE_DEPTH", default=1000)
CLASSIFIER_LABELING_QUEUE_CANDIDATES = env.int("CLASSIFIER_LABELING_QUEUE_CANDIDATES", default=3000)
# A running job's worker touches its row every few seconds; a row silent for longer than this
# has lost its worker (killed, machine gone) and is failed or re-queued.
CLASSIFIER_JOB_HEARTBEAT_TIMEOUT = env.int("CLASSIFIER_JOB_HEARTBEAT_TIMEOUT", default=120)
# A prediction job whose worker died is run again, at most this many runs in all: a job that
# kills its worker every time (an image that runs it out of memory) is then failed, naming
# the image it was on. Runs after the first go one image at a time to find that image.
CLASSIFIER_JOB_MAX_RUNS = env.int("CLASSIFIER_JOB_MAX_RUNS", default=3)
# Training gives up after this long. Celery's limits, which the solo pool the workers run
# with does not enforce, are enforced by classifier.worker.time_limits. Stays below the Redis
# visibility timeout (1 h) so a long run is never delivered twice.
CLASSIFIER_TRAINING_TIME_LIMIT = env.int("CLASSIFIER_TRAINING_TIME_LIMIT", default=30 * 60)
CLASSIFIER_PREDICTION_TIME_LIMIT = env.int("CLASSIFIER_PREDICTION_TIME_LIMIT", default=15 * 60)
# A data-health check (suspected label errors, near-duplicates, split leaks) after every
# successful training run, on the embeddings the run has just cached.
CLASSIFIER_HEALTH_CHECK_AFTER_TRAINING = env.bool(
    "CLASSIFIER_HEALTH_CHECK_AFTER_TRAINING", default=True
)
# Those are the soft limits (the job is failed, the worker goes on); this many seconds later
# a job that did not stop has its worker killed (classifier.worker.time_limits).
CLASSIFIER_HARD_TIME_LIMIT_GRACE = env.int("CLASSIFIER_HARD_TIME_LIMIT_GRACE", default=60)
# Reconciliation (classifier.services.jobs_reconcile), every INTERVAL seconds: a queued job
# whose message was sent more than AFTER seconds ago and is no longer in Redis (restarted
# without its data) is sent again; running jobs whose worker went silent are settled.
CLASSIFIER_JOB_RECONCILE_INTERVAL = env.float("CLASSIFIER_JOB_RECONCILE_INTERVAL", default=60)
CLASSIFIER_JOB_RECONCILE_AFTER = env.float("CLASSIFIER_JOB_RECONCILE_AFTER", default=60)
# Celery beat (`celery -A labelplatform beat`, started by `make run` and the compose `beat`
# service) sends it. The in-memory scheduler: an interval schedule has nothing worth keeping
# across restarts, and no schedule file is written into the checkout or the container.
CELERY_BEAT_SCHEDULER = "celery.beat:Scheduler"
CELERY_BEAT_SCHEDULE = {
    "classifier-jobs-reconcile": {
        "task": "classifier.tasks.jobs_reconcile",
        "schedule": CLASSIFIER_JOB_RECONCILE_INTERVAL,
        # Not worth running late: a reconciliation that waited longer than the interval is
        # superseded by the next one.
        "options": {"expires": CLASSIFIER_JOB_RECONCILE_INTERVAL},
    },
    "webhooks-deliveries-dispatch-overdue": {
        "task": "webhooks.tasks.webhook_deliveries_dispatch_overdue",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
}
# After a broker call that timed out (a hung Redis, a network dropping packets), web requests
# do not call the broker for this many seconds: jobs asked meanwhile stay queued with a note
# and are sent by the workers once Redis answers (classifier.broker).
CLASSIFIER_BROKER_BACKOFF = env.float("CLASSIFIER_BROKER_BACKOFF", default=15)
# Job GETs with ?wait= hold a web thread: each web process lends at most this many threads to
# waits, at most API_WAITS_PER_USER to one user; more are answered 429 with Retry-After
# (classifier.api.wait_slots). Keep API_WAITS_PER_PROCESS below WEB_THREADS (4).
API_WAITS_PER_PROCESS = env.int("API_WAITS_PER_PROCESS", default=2)
API_WAITS_PER_USER = env.int("API_WAITS_PER_USER", default=1)

# ------------------------------------------------------------------------------
# Email  https://docs.djangoproject.com/en/5.2/topics/email/
# Invitations are mailed through Django's email backend: printed on the console unless
# configured. For SMTP: EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend with
# EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS. Without mail
# the owner copies the invitation link from the page.
# ------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="labelplatform@localhost")
# Days an invitation link stays valid.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)

# ------------------------------------------------------------------------------
# Webhooks  (webhooks.services, webhooks.outbound; docs/webhooks.md)
# ------------------------------------------------------------------------------
# Webhooks call only public addresses; on, they may call loopback, link-local and private
# ones too (a receiver on the same network; the tests' local receiver). Off in production
# unless you trust every project owner with your internal network.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env.bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=False)
# Seconds to connect, and to wait for the answer, per attempt.
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=5)
# image.labeled: at most one call per this many seconds and webhook.
WEBHOOKS_BATCH_SECONDS = env.float("WEBHOOKS_BATCH_SECONDS", default=5)
# A failed attempt is retried after BACKOFF seconds, doubling, up to MAX_ATTEMPTS attempts
# (defaults: 10 s, 20 s, ... about ten minutes in all), then the delivery has failed.
WEBHOOKS_RETRY_BACKOFF = env.float("WEBHOOKS_RETRY_BACKOFF", default=10)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=6)

# ------------------------------------------------------------------------------
# REST framework  https://www.django-rest-framework.org/api-guide/settings/
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Bodies are JSON: form encodings cannot carry the nested objects (split_ratios) and
    # dropped them silently. The upload views and the token view name their own parsers.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "labelplatform.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "labelplatform.api.exceptions.json_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Label platform API",
    "DESCRIPTION": "Projects, images, annotations, training runs, model versions and predictions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI from our static files, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Request bodies get their own components: files are documented as binary uploads (not
    # URIs, as in responses) and required text fields as non-blank (minLength 1).
    "COMPONENT_SPLIT_REQUEST": True,
    # <id:...> in the URLs (labelplatform.url_converters): a primary key.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "labelplatform.api.schema.optional_query_parameters_allow_empty_value",
        "labelplatform.api.schema.request_bodies_may_be_unsupported",
        "labelplatform.api.schema.response_fields_are_always_present",
        "labelplatform.api.schema.nullable_references_allow_null",
        "labelplatform.api.schema.query_enums_are_shared",
    ],
    # One named enum per choice set, so clients get stable type names.
    "ENUM_NAME_OVERRIDES": {
        "SplitEnum": "labeling.models.Split",
        "SplitOrAutoEnum": "labeling.api.serializers.SPLIT_CHOICES_WITH_AUTO",
        "LabelStatusEnum": "labeling.models.LabelStatus",
        "RoleEnum": "labeling.models.Role",
        "JobStatusEnum": "classifier.models.JobStatus",
        "ModelVersionStatusEnum": "classifier.models.ModelVersionStatus",
        "WebhookEventEnum": "webhooks.models.Event",
        "InvitationStateEnum": "labeling.api.serializers.INVITATION_STATES",
        "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
}

# ------------------------------------------------------------------------------
# Logging: one line per record on stdout.
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "line"}},
    "filters": {
        "forbidden_without_traceback": {"()": "labelplatform.log_filters.ForbiddenWithoutTraceback"}
    },
    "root": {"handlers": ["stdout"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # A 403 is an expected answer: one line with its reason, no traceback.
        "django.request": {"filters": ["forbidden_without_traceback"]},
        "django.db.backends": {"level": "WARNING"},
        # django-axes' version banner at every start; its lockout warnings still pass.
        "axes.apps": {"level": "WARNING"},
    },
}
