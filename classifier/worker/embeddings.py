"""What a job reads: stored photos (through the storage API) and their embeddings, from the
cache of Embedding rows when a photo was embedded before (keyed by sha256 and backbone)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage

from classifier.ml import Backbone
from classifier.models import Embedding


def stored_file_read(name: str) -> bytes:
    """The stored file's bytes; FileNotFoundError saying where the worker looked."""
    try:
        with default_storage.open(name, "rb") as stored:
            return stored.read()
    except FileNotFoundError as exc:
        raise FileNotFoundError(_missing_file_message(name)) from exc


def stored_files_read(
    names: Sequence[str], *, on_read: Callable[[int, int], None] | None = None
) -> list[bytes]:
    """The stored files' bytes, in order; `on_read(done, total)` after each."""
    blobs = []
    for name in names:
        blobs.append(stored_file_read(name))
        if on_read is not None:
            on_read(len(blobs), len(names))
    return blobs


def _missing_file_message(name: str) -> str:
    # The likeliest cause is a worker on another machine configured with storage of its own:
    # say where it looked and what web and workers must share.
    bucket = getattr(default_storage, "bucket_name", None)  # S3Storage
    folder = getattr(default_storage, "location", None)  # FileSystemStorage
    if bucket:
        where = f"bucket {bucket}"
    elif folder:
        where = f"folder {folder}"
    else:
        where = type(default_storage).__name__
    return (
        f"{name} is not in this worker's media storage ({where}). The web and every worker "
        "must use the same storage: the same object store (AWS_STORAGE_BUCKET_NAME and the "
        "other AWS_ variables) or, all on one machine, the same MEDIA_ROOT."
    )


def embeddings_for(
    *,
    backbone: Backbone,
    items: Sequence[tuple[str, str]],
    on_batch: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Embeddings of stored images, (sha256, file name) pairs, in order.

    Reads the cache (Embedding rows of this backbone) and embeds only the images missing
    from it, in batches of CLASSIFIER_INFERENCE_BATCH_SIZE, adding them to the cache.
    `on_batch(done, missing)` is called after each batch.
    """
    wanted = list(dict.fromkeys(sha for sha, _ in items))
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for sha, blob in Embedding.objects.filter(
            backbone=backbone.name, sha256__in=chunk
        ).values_list("sha256", "vector"):
            vectors[sha] = np.frombuffer(bytes(blob), dtype="<f4")
    missing = list({sha: name for sha, name in items if sha not in vectors}.items())
    batch_size = settings.CLASSIFIER_INFERENCE_BATCH_SIZE
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        embedded = backbone.embed([stored_file_read(name) for _, name in batch])
        rows = []
        for (sha, _), vector in zip(batch, embedded, strict=True):
            vector = np.asarray(vector, dtype="<f4")
            vectors[sha] = vector
            rows.append(
                Embedding(
                    sha256=sha, backbone=backbone.name, dim=vector.size, vector=vector.tobytes()
                )
            )
        Embedding.objects.bulk_create(rows, ignore_conflicts=True)
        if on_batch:
            on_batch(start + len(batch), len(missing))
    if not items:
        return np.zeros((0, backbone.embedding_dim), dtype=np.float32)
    return np.stack([vectors[sha] for sha, _ in items]).astype(np.float32)
