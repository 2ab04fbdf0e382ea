"""The Celery app. Configured from Django settings (CELERY_* names); tasks are found in
each app's tasks.py. Queues: "training" (one job at a time) and "prediction"."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelplatform.settings.local")

app = Celery("labelplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
