"""Structured log lines: one JSON object per record on stdout (production, web and workers).

Every key passed in `extra=` becomes a field of its own, so a job's log line is searchable:

    logger = logging.getLogger(__name__)
    logger.info("training finished", extra={"job_id": run.pk, "duration_ms": 8123})
    -> {"level": "INFO", "logger": "classifier.services", "message": "training finished",
        "timestamp": "2026-11-21T06:00:00.123456+00:00", "job_id": 17, "duration_ms": 8123}

Use `logging.getLogger(__name__)` in tasks too, not Celery's `get_task_logger`: the task logger
does not propagate to the root handler that renders these lines.

Django-free on purpose: gunicorn's config imports it before Django is set up.
"""

from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter

JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(levelname)s %(name)s %(message)s",
    "rename_fields": {"levelname": "level", "name": "logger"},
    "timestamp": True,
}


def logging_config(*, level: str) -> dict:
    """Django's LOGGING: every record (Django, Celery, ours) as one JSON line on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": JSON_FORMATTER},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
            }
        },
        "filters": {
            "forbidden_without_traceback": {
                "()": "labelplatform.log_filters.ForbiddenWithoutTraceback"
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # A 403 is an expected answer: one line with its reason, no traceback.
            "django.request": {"filters": ["forbidden_without_traceback"]},
            "django.db.backends": {"level": "WARNING"},
            # "no .env file" at every start: containers take their environment from compose.
            "environ.environ": {"level": "WARNING"},
            # django-axes' version banner at every start; its lockout warnings still pass.
            "axes.apps": {"level": "WARNING"},
            # Celery gives its task logger a plain-text stderr handler unless one is already
            # there; this one keeps task lines (rare: we log through module loggers) in JSON.
            "celery.task": {"handlers": ["stdout"], "propagate": False},
        },
    }


class GunicornAccessFormatter(JsonFormatter):
    """gunicorn's access records as JSON fields (method, path, status, duration_ms, ...).

    gunicorn passes its access "atoms" as the record's args mapping; these are the ones an
    operator filters on. The client address is the proxy's unless X-Forwarded-For is given.
    """

    ATOMS = {
        "m": "method",
        "U": "path",
        "q": "query",
        "s": "status",
        "B": "bytes",
        "M": "duration_ms",
        "h": "remote_addr",
        "{x-forwarded-for}i": "forwarded_for",
        "a": "user_agent",
    }

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        if isinstance(record.args, Mapping):
            for atom, field in self.ATOMS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    log_data[field] = value


def gunicorn_logconfig(*, level: str) -> dict:
    """gunicorn's logconfig_dict: its error and access loggers as JSON lines on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": JSON_FORMATTER,
            "access": {**JSON_FORMATTER, "()": f"{__name__}.GunicornAccessFormatter"},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
            },
            "access": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "access",
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "environ.environ": {"level": "WARNING"},
            # No propagation: Django later adds its own stdout handler to the root logger,
            # and a propagating gunicorn record would be printed twice.
            "gunicorn.error": {"handlers": ["stdout"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
