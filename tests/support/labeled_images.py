"""Synthetic labeled images the tiny backbone separates easily, and a training that is quick
on them: for the tests about the plumbing (jobs, workers, pages), not the model's quality."""

from __future__ import annotations

from labeling.models import Annotation, Image, LabelStatus, Project, Split
from tests.factories import ImageFactory, png_bytes

# The default 200 epochs (patience 15) never stop early on these easy, separable pictures;
# the tests are about the plumbing, so they train briefly and fast.
FAST_TRAINING = {"max_epochs": 15, "patience": 5, "learning_rate": 0.05}
# Colours the tiny backbone separates easily: the tests are about the plumbing.
CLASS_COLORS = {"coffee": (150, 90, 40), "other": (40, 90, 200)}


def labeled_image(project: Project, *, label: str, split: str, seed: int) -> Image:
    """An image of `label`'s colour (jittered by `seed`) in `split`, labeled by an annotation
    of the project's creator, as the app labels (so the labeling queue skips it)."""
    color = CLASS_COLORS.get(label, (120, 120, 120))
    jitter = tuple(min(255, c + (seed * 7) % 30) for c in color)
    label_class = project.classes.get(name=label)
    creator = project.created_by
    assert creator is not None, "the project's creator labels its images"
    image = ImageFactory.create(
        project=project,
        content=png_bytes(color=jitter, seed=seed),
        split=split,
        label=label_class,
        label_status=LabelStatus.LABELED,
    )
    Annotation.objects.create(image=image, user=creator, label_class=label_class)
    return image


def add_labeled(
    project: Project, *, count: int, split: str = Split.TRAIN, start: int = 5000
) -> list[Image]:
    """Add `count` labeled images per class (distinct content from the fixture's)."""
    return [
        labeled_image(project, label=label, split=split, seed=start + i * 2 + j)
        for i in range(count)
        for j, label in enumerate(("coffee", "other"))
    ]
