"""Signals the labeling app sends for other apps to react to, without labeling importing them."""

from django.dispatch import Signal

# Sent once per ingest, after the transaction that stored the images commits, with
# sender=Project and keyword arguments `project` (a Project) and `image_ids` (a list of the new
# images' ids, in upload order). The classifier app connects to it to predict new images.
images_created = Signal()
