"""Signals the labeling app sends for other apps to react to, without labeling importing them."""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent once per ingest, after the transaction that stored the images commits, with
# sender=Project and keyword arguments `project` (a Project) and `image_ids` (a list of the new
# images' ids, in upload order). The classifier app connects to it to predict new images.
images_created = Signal()

# Sent after the transaction commits, with sender=Project and keyword arguments `project_id`
# and `image_ids`, when images got a final label or a different one: a consensus reached or
# changed (labeling.services.image_consensus_update) or an owner's review decision. The
# webhooks app connects to it (the `image.labeled` event).
images_labeled = Signal()


def signal_send_on_commit(signal: Signal, sender: type, **kwargs) -> None:
    """Send `signal` after the current transaction commits (at once outside of one), with
    send_robust: a failing receiver is logged and never fails the work that sent it."""

    def send() -> None:
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error("Receiver %r of %s failed", receiver, sender.__name__, exc_info=result)

    transaction.on_commit(send)
