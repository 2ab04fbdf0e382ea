"""gunicorn's settings for the web image:
`gunicorn --config python:labelplatform.gunicorn_conf labelplatform.wsgi`.

Request lines come out as JSON (method, path, status, duration_ms, ...) like every other log
line; see labelplatform.structured_logging.
"""

import os

from labelplatform.structured_logging import gunicorn_logconfig

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Threads rather than many processes: requests mostly wait on the database and the object
# store, and every process costs its own memory.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Large zip uploads stream through a request; the proxy in front has its own limits.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
# The heartbeat file on a memory filesystem: an overlay filesystem can stall it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# One gunicorn per container, controlled by signals from the container runtime: no need for
# the control socket it would otherwise keep in the user's home.
control_socket_disable = True
accesslog = "-"
access_log_format = "%(m)s %(U)s %(s)s %(M)sms"
logconfig_dict = gunicorn_logconfig(level=os.environ.get("LOG_LEVEL", "INFO"))
