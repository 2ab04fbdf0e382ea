"""Projects whose embeddings the test chooses, for the data-health checks.

The health check reads every image's embedding from the cache (Embedding rows of the project's
backbone) and embeds only the missing ones; writing the rows here makes what it finds depend on
the vectors a test chooses, not on the tiny random backbone. The pictures are textured (noise),
so the low-quality check finds nothing in them unless a test says otherwise.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from classifier.models import Embedding
from labeling.models import Annotation, Image, LabelStatus, Project
from tests.factories import ImageFactory

DIM = 16  # the tiny backbone's embedding size


def textured_png(seed: int, size: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def image_with_embedding(
    project: Project,
    vector,
    *,
    split: str,
    label: str | None = None,
    seed: int,
    content: bytes | None = None,
    backbone: str = "tiny",
) -> Image:
    """An image (labeled `label` by the project's creator when given) whose cached embedding
    is `vector`."""
    content = content if content is not None else textured_png(seed)
    fields = {}
    if label is not None:
        fields = {"label": project.classes.get(name=label), "label_status": LabelStatus.LABELED}
    image = ImageFactory.create(
        project=project, content=content, split=split, width=640, height=480, **fields
    )
    if label is not None:
        assert project.created_by is not None and image.label is not None
        Annotation.objects.create(image=image, user=project.created_by, label_class=image.label)
    vector = np.asarray(vector, dtype="<f4")
    Embedding.objects.update_or_create(
        sha256=image.sha256,
        backbone=backbone,
        defaults={"dim": vector.size, "vector": vector.tobytes()},
    )
    return image


def cluster_vectors(count: int, *, centre: int, seed: int, noise: float = 0.35) -> np.ndarray:
    """`count` vectors around the `centre`-th axis: one class's photos, distinct enough from
    each other (cosine well under the near-duplicate similarity) and from the other class."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(scale=noise, size=(count, DIM))
    vectors[:, centre] += 1.0
    return vectors
