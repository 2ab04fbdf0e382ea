"""Production: the compose stack (docker-compose.yml) and any deployment behind a TLS proxy.

Everything base.py reads from the environment still applies. On top of it: DEBUG is off, the
secret key and the host names must be given (a missing one stops the process at start with an
error naming the variable, instead of running on a development default), cookies are secure,
HSTS is on, and log records are JSON lines on stdout. `manage.py check --deploy` passes with no
warnings (tests/deploy/test_production_settings.py). Variables: .env.example.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from labelplatform.settings.base import *  # noqa: F403
from labelplatform.settings.base import MIDDLEWARE, env
from labelplatform.structured_logging import logging_config

# The development default in base.py: published in the repository, so never a secret.
_DEVELOPMENT_SECRET_KEY = "insecure-local-development-key-change-me-0123456789"


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set in the environment for production settings "
            f"(DJANGO_SETTINGS_MODULE=labelplatform.settings.production); see .env.example."
        )
    return value


# ------------------------------------------------------------------------------
# Core  https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# ------------------------------------------------------------------------------
DEBUG = False
SECRET_KEY = _required("SECRET_KEY")
# The length Django's deploy check asks for; it also stops .env.example's placeholder.
if len(SECRET_KEY) < 50 or SECRET_KEY == _DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is too short or the development default: use at least 50 random "
        "characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
_required("ALLOWED_HOSTS")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Only needed for origins other than the site's own (Django compares Origin with Host).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# ------------------------------------------------------------------------------
# HTTPS  https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
# TLS ends at a proxy in front of gunicorn, which must set (overwrite) X-Forwarded-Proto.
# ------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Off only where the proxy already redirects HTTP to HTTPS (check --deploy then warns).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Only sends the "preload" directive; joining browsers' preload lists is a separate, manual step.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# The TLS proxy appends the client's address to X-Forwarded-For: the login lockout counts
# per client, not per proxy (labelplatform.login_lockout.client_address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# Container health probes come in as plain HTTP on 127.0.0.1: answered before the host check.
MIDDLEWARE = ["labelplatform.health.HealthzMiddleware", *MIDDLEWARE]

# ------------------------------------------------------------------------------
# Logging: JSON lines on stdout (labelplatform.structured_logging), web and workers alike.
# Celery leaves the root logger to Django's config, so worker lines are JSON too.
# ------------------------------------------------------------------------------
LOGGING = logging_config(level=env("LOG_LEVEL", default="INFO"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
