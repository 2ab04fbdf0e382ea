"""Asking a prediction worker to recompute a project's labeling queue orderings
(classifier.worker.labeling_queue).

Prediction jobs recompute them when they finish; this is for the one case without a job: an
upload into a project that has no model yet, whose random order must take in the new images.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

from classifier import broker

logger = logging.getLogger(__name__)

REFRESH_TASK = "classifier.tasks.prediction_labeling_queue_refresh"


def labeling_queue_refresh_request(*, project_id: int) -> None:
    """Send the refresh to a prediction worker once the current transaction commits.

    Not a job row: it is a cache of orderings, recomputed from the rows whenever it runs,
    and a message lost while the broker is down costs nothing but order (the queue then goes
    on in upload order until the next prediction job or upload). So a broker error is logged,
    never raised.
    """

    def send() -> None:
        if broker.broker_unresponsive():
            return
        try:
            with broker.broker_call():
                current_app.send_task(REFRESH_TASK, args=[project_id])
        except Exception as exc:  # kombu.OperationalError, redis errors, socket errors
            logger.warning("Could not ask for the labeling queue of %s: %s", project_id, exc)

    transaction.on_commit(send)
