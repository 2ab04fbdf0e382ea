"""Writes on the labeling side: projects, classes, members, annotations and consensus.

Image ingest lives in labeling.ingest, exports in labeling.export.
"""

from collections import Counter
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import (
    Annotation,
    Image,
    LabelClass,
    LabelStatus,
    Membership,
    Project,
    QueueStrategy,
    Role,
    Split,
)

# A readable default palette for classes created without a colour (Bootstrap's hues).
DEFAULT_CLASS_COLORS = [
    "#0d6efd",
    "#dc3545",
    "#198754",
    "#fd7e14",
    "#6f42c1",
    "#20c997",
    "#d63384",
    "#ffc107",
    "#0dcaf0",
]


@transaction.atomic
def project_create(
    *,
    name: str,
    created_by: User,
    classes: Sequence[str | dict],
    description: str = "",
    split_ratios: dict[str, int] | None = None,
    annotations_per_image: int = 1,
    queue_strategy: str | None = None,
) -> Project:
    """Create a project with its label classes and make its creator the owner.

    `classes` holds names, or dicts with "name" and optional "key" and "color"; keys default
    to "1", "2", ... in order. Raises ValidationError for fewer than two classes, duplicate
    names or keys, or split ratios that do not add up to 100.
    """
    default_ratios: dict[str, int] = {Split.TRAIN: 60, Split.VALIDATION: 20, Split.TEST: 20}
    ratios = _split_ratios_checked(split_ratios or default_ratios)
    if annotations_per_image < 1:
        raise ValidationError("Annotations per image must be at least 1.")
    if not name.strip():
        raise ValidationError("A project needs a name.")
    queue_strategy = _queue_strategy_checked(
        queue_strategy or Project._meta.get_field("queue_strategy").default
    )

    specs = [{"name": c} if isinstance(c, str) else dict(c) for c in classes]
    if len(specs) < 2:
        raise ValidationError("A project needs at least two label classes.")
    if len(specs) > 9:
        raise ValidationError("A project has at most nine label classes (keys 1-9).")
    for index, spec in enumerate(specs):
        spec["name"] = str(spec.get("name", "")).strip()
        if not spec["name"]:
            raise ValidationError("Every label class needs a name.")
        spec.setdefault("key", str(index + 1))
        spec.setdefault("color", DEFAULT_CLASS_COLORS[index % len(DEFAULT_CLASS_COLORS)])
    names = [s["name"].lower() for s in specs]
    keys = [s["key"] for s in specs]
    if len(set(names)) != len(names):
        raise ValidationError("Label class names must be unique.")
    if len(set(keys)) != len(keys):
        raise ValidationError("Label class keys must be unique.")

    project = Project.objects.create(
        name=name.strip(),
        description=description,
        train_percent=ratios[Split.TRAIN],
        validation_percent=ratios[Split.VALIDATION],
        test_percent=ratios[Split.TEST],
        annotations_per_image=annotations_per_image,
        queue_strategy=queue_strategy,
        created_by=created_by,
    )
    LabelClass.objects.bulk_create(
        LabelClass(project=project, name=s["name"], key=s["key"], color=s["color"], order=i)
        for i, s in enumerate(specs)
    )
    Membership.objects.create(project=project, user=created_by, role=Role.OWNER)
    return project


def _split_ratios_checked(split_ratios: dict[str, int]) -> dict[str, int]:
    """All three splits' percentages (missing ones 0); ValidationError unless they add up to 100."""
    unknown = set(split_ratios) - set(Split.values)
    if unknown:
        raise ValidationError(f"Unknown split(s) in split_ratios: {', '.join(sorted(unknown))}.")
    ratios = {split: int(split_ratios.get(split, 0)) for split in Split.values}
    if any(value < 0 for value in ratios.values()) or sum(ratios.values()) != 100:
        raise ValidationError("Split ratios must be non-negative and add up to 100.")
    return ratios


@transaction.atomic
def project_update(
    *,
    project: Project,
    name: str,
    description: str,
    split_ratios: dict[str, int],
    annotations_per_image: int,
) -> Project:
    """Change a project's settings.

    New split ratios apply to later automatic splits; images keep theirs. When the number of
    annotations required per image changes, every image not settled by review has its
    consensus recomputed (an image labeled by one vote is unlabeled again once two are needed).
    Raises ValidationError like project_create.
    """
    ratios = _split_ratios_checked(split_ratios)
    if annotations_per_image < 1:
        raise ValidationError("Annotations per image must be at least 1.")
    if not name.strip():
        raise ValidationError("A project needs a name.")
    locked = Project.objects.select_for_update().get(pk=project.pk)
    required_changed = locked.annotations_per_image != annotations_per_image
    locked.name, locked.description = name.strip(), description
    locked.train_percent = ratios[Split.TRAIN]
    locked.validation_percent = ratios[Split.VALIDATION]
    locked.test_percent = ratios[Split.TEST]
    locked.annotations_per_image = annotations_per_image
    locked.save()
    if required_changed:
        images = (
            Image.objects.select_for_update()
            .select_related("project")
            .filter(project=locked, label_reviewed=False)
            .order_by("pk")
        )
        for image in images:
            image_consensus_update(image=image)
    return locked


def _queue_strategy_checked(strategy: str) -> str:
    if strategy not in QueueStrategy.values:
        raise ValidationError(
            f"Unknown queue strategy {strategy!r}; use one of {', '.join(QueueStrategy.values)}."
        )
    return strategy


def project_queue_strategy_set(*, project: Project, strategy: str) -> Project:
    """Choose the order of the project's labeling queue (one of QueueStrategy). Nothing to
    recompute: the prediction worker keeps every strategy's ordering. ValidationError for an
    unknown name."""
    project.queue_strategy = _queue_strategy_checked(strategy)
    Project.objects.filter(pk=project.pk).update(queue_strategy=project.queue_strategy)
    return project


@transaction.atomic
def membership_set(*, project: Project, user: User, role: str) -> Membership:
    """Add the user to the project with the role, or change their role.

    Refuses to demote the last owner, so a project never ends up unmanaged.
    """
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership and membership.role == Role.OWNER and role != Role.OWNER:
        _ensure_another_owner(project=project, user=user)
    if membership is None:
        return Membership.objects.create(project=project, user=user, role=role)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, project: Project, user: User) -> None:
    """Remove the user from the project; their annotations stay."""
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        return
    if membership.role == Role.OWNER:
        _ensure_another_owner(project=project, user=user)
    membership.delete()


def _ensure_another_owner(*, project: Project, user: User) -> None:
    if not Membership.objects.filter(project=project, role=Role.OWNER).exclude(user=user).exists():
        raise ValidationError("A project needs at least one owner.")


def _locked_image(image_id: int) -> Image:
    # The row lock serializes annotators on one image: each recomputes the consensus from
    # every annotation committed before it, so no label is lost when two arrive at once.
    return Image.objects.select_for_update().select_related("project").get(pk=image_id)


def image_consensus_update(*, image: Image) -> Image:
    """Recompute the image's label from its annotations. Call inside the image's row lock.

    With fewer annotations than the project requires, the image stays unlabeled. With enough,
    a strict majority sets the label; anything else is a conflict for an owner to review.
    An owner's review decision is final and is not changed here.
    """
    if image.label_reviewed:
        return image
    counts = Counter(
        Annotation.objects.filter(image=image).values_list("label_class_id", flat=True)
    )
    total = sum(counts.values())
    label_id, status = None, LabelStatus.UNLABELED
    if total and total >= image.project.annotations_per_image:
        top_class_id, top_count = counts.most_common(1)[0]
        if top_count * 2 > total:
            label_id, status = top_class_id, LabelStatus.LABELED
        else:
            status = LabelStatus.CONFLICT
    if (image.label_id, image.label_status) != (label_id, status):
        image.label_id, image.label_status = label_id, status
        image.save(update_fields=["label", "label_status"])
    return image


@transaction.atomic
def annotation_create(*, image: Image | int, user: User, label_class: LabelClass) -> Annotation:
    """Record the user's label for the image (replacing theirs, if any) and update consensus."""
    image = _locked_image(image if isinstance(image, int) else image.pk)
    if label_class.project_id != image.project_id:
        raise ValidationError(f"{label_class.name!r} is not a class of this project.")
    annotation, created = Annotation.objects.get_or_create(
        image=image, user=user, defaults={"label_class": label_class}
    )
    if not created and annotation.label_class_id != label_class.pk:
        annotation.label_class = label_class
        annotation.save(update_fields=["label_class", "updated_at"])
    image_consensus_update(image=image)
    return annotation


@transaction.atomic
def annotations_create_bulk(
    *, image_ids: Sequence[int], user: User, label_class: LabelClass
) -> int:
    """Apply one class to many images (grid mode). Returns how many images were labeled.

    Only images of the class's project are touched; others are ignored.
    """
    ids = list(
        Image.objects.filter(pk__in=image_ids, project_id=label_class.project_id)
        .order_by("pk")  # a fixed lock order keeps two bulk labelers from deadlocking
        .values_list("pk", flat=True)
    )
    for image_id in ids:
        annotation_create(image=image_id, user=user, label_class=label_class)
    return len(ids)


@transaction.atomic
def annotation_delete(*, image: Image | int, user: User) -> None:
    """Take back the user's label on the image (undo) and update consensus."""
    image = _locked_image(image if isinstance(image, int) else image.pk)
    Annotation.objects.filter(image=image, user=user).delete()
    image_consensus_update(image=image)


@transaction.atomic
def image_review(*, image: Image | int, label_class: LabelClass | None) -> Image:
    """An owner's decision on the image's label: final, whatever the annotations say.

    `None` withdraws the decision and returns the image to the annotators' consensus.
    """
    image = _locked_image(image if isinstance(image, int) else image.pk)
    if label_class is None:
        image.label_reviewed = False
        image.save(update_fields=["label_reviewed"])
        return image_consensus_update(image=image)
    if label_class.project_id != image.project_id:
        raise ValidationError(f"{label_class.name!r} is not a class of this project.")
    image.label, image.label_status, image.label_reviewed = label_class, LabelStatus.LABELED, True
    image.save(update_fields=["label", "label_status", "label_reviewed"])
    return image


def images_split_set(*, image_ids: Sequence[int], split: str) -> int:
    """Move images to a split. Returns how many rows changed."""
    if split not in Split.values:
        raise ValidationError(f"Unknown split {split!r}; use one of {', '.join(Split.values)}.")
    return Image.objects.filter(pk__in=image_ids).exclude(split=split).update(split=split)
