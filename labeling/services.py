"""Writes on the labeling side: projects, classes, members, annotations and consensus.

Image ingest lives in labeling.ingest, exports in labeling.export.
"""

import logging
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count, FileField, QuerySet
from django.db.models.deletion import Collector
from django.utils import timezone

from labeling.models import (
    Annotation,
    AnnotationBatch,
    AnnotationBatchKind,
    Image,
    ImageSkip,
    LabelClass,
    LabelStatus,
    Membership,
    Project,
    QueueStrategy,
    Role,
    Split,
    class_color_validator,
)
from labeling.selectors.projects import label_class_usage
from labeling.signals import images_labeled, signal_send_on_commit

logger = logging.getLogger(__name__)

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
    suggestions: dict[str, bool] | None = None,
) -> Project:
    """Create a project with its label classes and make its creator the owner.

    `suggestions` chooses per split whether annotators see the model's suggestions (splits
    left out keep the default: shown, except on the test split, labeled blind).

    `classes` holds names, or dicts with "name" and optional "key" and "color"; keys default
    to "1", "2", ... in order. Raises ValidationError for fewer than two classes, duplicate
    names or keys, or split ratios that do not add up to 100.
    """
    default_ratios: dict[str, int] = {Split.TRAIN: 60, Split.VALIDATION: 20, Split.TEST: 20}
    ratios = _split_ratios_checked(split_ratios or default_ratios)
    if annotations_per_image < 1:
        raise ValidationError("Annotations per image must be at least 1.")
    name = _project_name_checked(name=name, owner=created_by)
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
        class_color_validator(spec["color"])
    names = [s["name"].lower() for s in specs]
    keys = [s["key"] for s in specs]
    if len(set(names)) != len(names):
        raise ValidationError("Label class names must be unique.")
    if len(set(keys)) != len(keys):
        raise ValidationError("Label class keys must be unique.")

    try:
        # A savepoint: losing a race for the name is an error, not a broken transaction.
        with transaction.atomic():
            project = Project.objects.create(
                name=name,
                description=description,
                train_percent=ratios[Split.TRAIN],
                validation_percent=ratios[Split.VALIDATION],
                test_percent=ratios[Split.TEST],
                annotations_per_image=annotations_per_image,
                queue_strategy=queue_strategy,
                created_by=created_by,
            )
    except IntegrityError:
        # Another request created a project of this name between the check and the insert.
        _project_name_checked(name=name, owner=created_by)
        raise
    LabelClass.objects.bulk_create(
        LabelClass(project=project, name=s["name"], key=s["key"], color=s["color"], order=i)
        for i, s in enumerate(specs)
    )
    Membership.objects.create(project=project, user=created_by, role=Role.OWNER)
    if suggestions:
        project_suggestions_set(project=project, splits=suggestions)
    return project


def _project_name_checked(*, name: str, owner: User | None, project: Project | None = None) -> str:
    """The name, stripped; ValidationError (on "name") when empty or when the owner already
    has another project of that name, case aside (the project_unique_name_per_owner
    constraint, checked here so forms, the API and the admin say it in words)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    if owner is None:
        return name
    same_name = Project.objects.filter(created_by=owner, name__iexact=name)
    if project is not None:
        same_name = same_name.exclude(pk=project.pk)
    existing = same_name.first()
    if existing is not None:
        message = f"{owner.get_username()} already has a project called “{existing.name}”."
        raise ValidationError({"name": f"{message} Choose another name."})
    return name


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
    other_settings: Mapping[str, Any] | None = None,
) -> Project:
    """Change a project's settings.

    New split ratios apply to later automatic splits; images keep theirs. When the number of
    annotations required per image changes, every image not settled by review has its
    consensus recomputed (an image labeled by one vote is unlabeled again once two are needed).
    `other_settings` sets further Project fields by name that need no rule beyond their own
    field's validation (a queue strategy, suggestions on or off); the settings page's form
    passes them. Raises ValidationError like project_create.
    """
    ratios = _split_ratios_checked(split_ratios)
    if annotations_per_image < 1:
        raise ValidationError("Annotations per image must be at least 1.")
    locked = Project.objects.select_for_update().get(pk=project.pk)
    name = _project_name_checked(name=name, owner=locked.created_by, project=locked)
    required_changed = locked.annotations_per_image != annotations_per_image
    locked.name, locked.description = name, description
    locked.train_percent = ratios[Split.TRAIN]
    locked.validation_percent = ratios[Split.VALIDATION]
    locked.test_percent = ratios[Split.TEST]
    locked.annotations_per_image = annotations_per_image
    for field_name, value in (other_settings or {}).items():
        Project._meta.get_field(field_name)  # FieldDoesNotExist for a misspelt name
        setattr(locked, field_name, value)
    locked.full_clean(exclude=["created_by"])
    locked.save()
    if required_changed:
        images = (
            Image.objects.select_for_update(of=("self",))
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


COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
MAX_CLASSES = 9


def label_class_color_checked(color: str) -> str:
    """The colour in the #rrggbb form every page and the admin's colour picker understand;
    ValidationError for anything else (a name like "red", "#fff", a CSS expression)."""
    color = color.strip()
    if not COLOR_PATTERN.fullmatch(color):
        raise ValidationError(f"{color!r} is not a colour; use the #rrggbb form, e.g. #1f77b4.")
    return color.lower()


@transaction.atomic
def label_classes_update(*, project: Project, classes: Sequence[Mapping[str, Any]]) -> None:
    """Make the project's classes the given ones, in this order (their keys on the page).

    Each item has "name", "key" and "color", and "id" for an existing class (renamed,
    re-keyed or recoloured in place: annotations, labels and predictions follow it). Items
    without an id are new classes; existing classes missing from the list are removed.

    The rule for removing: a class that no annotation and no review decision uses is
    deleted. One in use is refused with a ValidationError that says how many labels use it:
    deleting it would silently drop those people's work. Rename it instead, or relabel its
    images first. Model versions trained with a removed class keep working (their
    predictions show the class's name at training time).

    Raises ValidationError for fewer than two or more than nine classes, an empty name,
    duplicate names or keys, or a colour that is not #rrggbb.
    """
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one editor at a time
    specs = [dict(spec) for spec in classes]
    if not 2 <= len(specs) <= MAX_CLASSES:
        raise ValidationError("A project has two to nine label classes (keys 1-9).")
    for spec in specs:
        spec["name"] = str(spec.get("name", "")).strip()
        spec["key"] = str(spec.get("key", "")).strip().lower()
        if not spec["name"]:
            raise ValidationError("Every label class needs a name.")
        if len(spec["key"]) != 1:
            raise ValidationError(f"Class “{spec['name']}” needs a one-character key.")
        spec["color"] = label_class_color_checked(str(spec.get("color", "")))
    if len({spec["name"].lower() for spec in specs}) != len(specs):
        raise ValidationError("Label class names must be unique.")
    if len({spec["key"] for spec in specs}) != len(specs):
        raise ValidationError("Label class keys must be unique.")

    existing = {label_class.pk: label_class for label_class in project.classes.all()}
    kept_ids = {int(spec["id"]) for spec in specs if spec.get("id")}
    unknown = kept_ids - set(existing)
    if unknown:
        raise ValidationError("A class to change is not one of this project's classes.")
    removed = [existing[pk] for pk in existing if pk not in kept_ids]
    usage = label_class_usage(project=project)  # a read, inside this lock
    in_use = [label_class for label_class in removed if usage.get(label_class.pk)]
    if in_use:
        described = ", ".join(
            f"“{c.name}” ({usage[c.pk]} label{'s' if usage[c.pk] != 1 else ''})" for c in in_use
        )
        raise ValidationError(
            f"Classes in use cannot be removed: {described}. Rename the class instead, "
            "or relabel its images first."
        )
    LabelClass.objects.filter(pk__in=[label_class.pk for label_class in removed]).delete()

    # Names and keys are unique per project: park every kept class on a placeholder first,
    # so that swapping two names (or keys) never collides half way.
    final_keys = {spec["key"] for spec in specs}
    spare_keys = iter(k for k in "abcdefghijklmnopqrtuvwxy0!@#$%^&*" if k not in final_keys)
    parking = uuid.uuid4().hex  # no name anyone typed (PostgreSQL refuses NUL in text)
    for pk in kept_ids:
        LabelClass.objects.filter(pk=pk).update(name=f"{parking}-{pk}", key=next(spare_keys))
    for order, spec in enumerate(specs):
        fields = {"name": spec["name"], "key": spec["key"], "color": spec["color"], "order": order}
        if spec.get("id"):
            LabelClass.objects.filter(pk=int(spec["id"])).update(**fields)
        else:
            LabelClass.objects.create(project=project, **fields)


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Delete the project with everything in it: images, annotations, members, and what
    other apps keep per project (training runs, model versions, predictions). The stored
    files of every deleted row (images, thumbnails, model artifacts) are deleted once the
    rows are gone for good (after commit): a rolled back delete never leaves rows pointing
    at missing files. The files are found through the rows' FileFields, so labeling needs
    no knowledge of the apps built on it."""
    collector = Collector(using=Project.objects.db, origin=project)
    collector.collect([project])
    stored_names: list[str] = []
    for model, instances in collector.data.items():
        file_fields = [f for f in model._meta.concrete_fields if isinstance(f, FileField)]
        for instance in instances:
            stored_names += [str(getattr(instance, f.attname) or "") for f in file_fields]
    for queryset in collector.fast_deletes:
        columns = [
            f.attname for f in queryset.model._meta.concrete_fields if isinstance(f, FileField)
        ]
        if columns:
            for row in queryset.values_list(*columns):
                stored_names += row
    collector.delete()
    names = [name for name in stored_names if name]
    transaction.on_commit(lambda: _stored_files_delete(names))


def _stored_files_delete(names: Sequence[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            # The rows are gone already; a file left behind is only wasted space.
            logger.exception("Could not delete %s of a deleted project", name)


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
    # Only the image's row (`of`): FOR UPDATE over the join locked the project's row too, so
    # every label in a project queued on it, and PostgreSQL found deadlocks against the
    # services that lock the project first (the soak's 10 annotators, two 500s an hour).
    return Image.objects.select_for_update(of=("self",)).select_related("project").get(pk=image_id)


def consensus_of(counts: Counter, required: int) -> tuple[int | None, str]:
    """(label class id or None, label status) of an image whose annotations count `counts`
    per class id, when the project requires `required` annotations per image.

    With fewer annotations than required, the image stays unlabeled. With enough, a strict
    majority sets the label; anything else is a conflict for an owner to review."""
    total = sum(counts.values())
    if total and total >= required:
        top_class_id, top_count = counts.most_common(1)[0]
        if top_count * 2 > total:
            return top_class_id, LabelStatus.LABELED
        return None, LabelStatus.CONFLICT
    return None, LabelStatus.UNLABELED


def image_consensus_update(*, image: Image) -> Image:
    """Recompute the image's label from its annotations (consensus_of). Call inside the
    image's row lock. An owner's review decision is final and is not changed here."""
    if image.label_reviewed:
        return image
    counts = Counter(
        Annotation.objects.filter(image=image).values_list("label_class_id", flat=True)
    )
    label_id, status = consensus_of(counts, image.project.annotations_per_image)
    if (image.label_id, image.label_status) != (label_id, status):
        image.label_id, image.label_status = label_id, status
        image.save(update_fields=["label", "label_status"])
        if status == LabelStatus.LABELED:
            _image_labeled_signal_send(image)
    return image


def _image_labeled_signal_send(image: Image) -> None:
    signal_send_on_commit(
        images_labeled, Project, project_id=image.project_id, image_ids=[image.pk]
    )


# Bulk writes go by chunks of image ids: every IN list stays far below SQLite's limit on a
# query's parameters, and each chunk costs a fixed handful of queries whatever its size.
BULK_CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BULK_CHUNK):
        yield list(ids[start : start + BULK_CHUNK])


def _images_locked(*, project: Project, image_ids: Sequence[int]) -> list[int]:
    # In id order, the order every bulk writer locks in, so two of them never deadlock.
    return list(
        Image.objects.select_for_update()
        .filter(pk__in=image_ids, project=project)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _images_consensus_update(*, project: Project, image_ids: Sequence[int]) -> None:
    """image_consensus_update for many locked images of the project, in three queries."""
    counts: dict[int, Counter] = defaultdict(Counter)
    rows = (
        Annotation.objects.filter(image_id__in=image_ids)
        .order_by()
        .values("image_id", "label_class_id")
        .annotate(count=Count("pk"))
        .values_list("image_id", "label_class_id", "count")
    )
    for image_id, class_id, count in rows:
        counts[image_id][class_id] = count
    changed: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for image_id, old_label_id, old_status in Image.objects.filter(
        pk__in=image_ids, label_reviewed=False
    ).values_list("pk", "label_id", "label_status"):
        new = consensus_of(counts[image_id], project.annotations_per_image)
        if (old_label_id, old_status) != new:
            changed[new].append(image_id)
    _update_grouped(Image.objects.all(), changed, ("label_id", "label_status"))
    labeled = sorted(
        image_id
        for (label_id, status), ids in changed.items()
        if status == LabelStatus.LABELED
        for image_id in ids
    )
    if labeled:
        signal_send_on_commit(images_labeled, Project, project_id=project.pk, image_ids=labeled)


def _update_grouped(
    rows: QuerySet, ids_by_values: dict[tuple, list[int]], fields: Sequence[str], **also
) -> None:
    """One UPDATE per distinct tuple of new values (a few: one per class and status), rather
    than Django's bulk_update, whose CASE per row costs seconds of Python per thousand rows."""
    for values, ids in ids_by_values.items():
        rows.filter(pk__in=ids).update(**dict(zip(fields, values, strict=True)), **also)


@transaction.atomic
def annotation_create(
    *, image: Image | int, user: User, label_class: LabelClass, from_suggestion: bool = False
) -> Annotation:
    """Record the user's label for the image (replacing theirs, if any) and update consensus.

    `from_suggestion` says the user accepted the model's suggestion rather than picking the
    class (the classifier's suggestion_accept checks that it was the suggestion)."""
    image = _locked_image(image if isinstance(image, int) else image.pk)
    if label_class.project_id != image.project_id:
        raise ValidationError(f"{label_class.name!r} is not a class of this project.")
    annotation, created = Annotation.objects.get_or_create(
        image=image,
        user=user,
        defaults={"label_class": label_class, "from_suggestion": from_suggestion},
    )
    if not created and (annotation.label_class_id, annotation.from_suggestion) != (
        label_class.pk,
        from_suggestion,
    ):
        annotation.label_class, annotation.from_suggestion = label_class, from_suggestion
        annotation.save(update_fields=["label_class", "from_suggestion", "updated_at"])
    image_consensus_update(image=image)
    return annotation


@transaction.atomic
def annotation_batch_apply(
    *,
    project: Project,
    user: User,
    kind: str,
    labels: dict[int, int],
    from_suggestion: bool = False,
) -> AnnotationBatch:
    """Label many images at once as one action that can be undone (annotation_batch_undo).

    `labels` maps image ids to class ids; images of other projects and classes of other
    projects are left out. Writes the user's annotations (created, or replaced as
    annotation_create does), recomputes the images' consensus, and records an
    AnnotationBatch with what each image's annotation by the user was before. Set-based (a
    few queries per BULK_CHUNK images), so accepting thousands of suggestions fits a request.
    """
    class_ids = set(project.classes.values_list("pk", flat=True))
    wanted = {
        int(image_id): class_id for image_id, class_id in labels.items() if class_id in class_ids
    }
    changes = []
    for chunk in _chunks(sorted(wanted)):
        image_ids = _images_locked(project=project, image_ids=chunk)
        existing = {
            annotation.image_id: annotation
            for annotation in Annotation.objects.filter(image_id__in=image_ids, user=user)
        }
        created = []
        replaced: dict[tuple[int, bool], list[int]] = defaultdict(list)
        for image_id in image_ids:
            class_id = wanted[image_id]
            annotation = existing.get(image_id)
            if annotation is None:
                created.append(
                    Annotation(
                        image_id=image_id,
                        user=user,
                        label_class_id=class_id,
                        from_suggestion=from_suggestion,
                    )
                )
                changes.append([image_id, class_id, None, False])
                continue
            before = (annotation.label_class_id, annotation.from_suggestion)
            changes.append([image_id, class_id, *before])
            if before != (class_id, from_suggestion):
                replaced[(class_id, from_suggestion)].append(annotation.pk)
        Annotation.objects.bulk_create(created)
        _update_grouped(
            Annotation.objects.all(),
            replaced,
            ("label_class_id", "from_suggestion"),
            updated_at=timezone.now(),
        )
        _images_consensus_update(project=project, image_ids=image_ids)
    return AnnotationBatch.objects.create(project=project, user=user, kind=kind, changes=changes)


@transaction.atomic
def annotations_create_bulk(
    *, image_ids: Sequence[int], user: User, label_class: LabelClass
) -> AnnotationBatch:
    """Apply one class to many images (grid mode), as one action that can be undone.

    Only images of the class's project are touched; others are ignored. The batch's size is
    how many images were labeled.
    """
    return annotation_batch_apply(
        project=label_class.project,
        user=user,
        kind=AnnotationBatchKind.GRID_LABEL,
        labels={int(image_id): label_class.pk for image_id in image_ids},
    )


@transaction.atomic
def annotation_batch_undo(*, batch: AnnotationBatch, user: User) -> tuple[int, int]:
    """Take back a bulk action: each image's annotation by the user returns to what it was
    before (none, or the earlier class), and the images' consensus follows. Returns (undone,
    kept): images the user labeled again since keep their newer label. Undoing twice
    changes nothing. Set-based, like annotation_batch_apply."""
    locked = (
        AnnotationBatch.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=batch.pk)
    )
    if locked.user_id != user.pk:
        raise ValidationError("Only the person who made a bulk action can undo it.")
    if locked.undone_at is not None:
        return 0, 0
    class_ids = set(locked.project.classes.values_list("pk", flat=True))
    change_of = {change[0]: change[1:] for change in locked.changes}
    undone = kept = 0
    for chunk in _chunks(sorted(change_of)):
        image_ids = _images_locked(project=locked.project, image_ids=chunk)  # deleted ones: gone
        current = {
            annotation.image_id: annotation
            for annotation in Annotation.objects.filter(image_id__in=image_ids, user=user)
        }
        removed = []
        restored: dict[tuple[int, bool], list[int]] = defaultdict(list)
        for image_id in image_ids:
            applied, previous, previous_from_suggestion = change_of[image_id]
            annotation = current.get(image_id)
            if annotation is None or annotation.label_class_id != applied:
                kept += 1
                continue
            undone += 1
            if previous is None or previous not in class_ids:
                removed.append(annotation.pk)
            else:
                restored[(previous, previous_from_suggestion)].append(annotation.pk)
        Annotation.objects.filter(pk__in=removed).delete()
        _update_grouped(
            Annotation.objects.all(),
            restored,
            ("label_class_id", "from_suggestion"),
            updated_at=timezone.now(),
        )
        _images_consensus_update(project=locked.project, image_ids=image_ids)
    locked.undone_at = timezone.now()
    locked.save(update_fields=["undone_at"])
    return undone, kept


@transaction.atomic
def project_suggestions_set(*, project: Project, splits: dict[str, bool]) -> Project:
    """Choose per split whether annotators see the model's suggestions; splits left out
    keep their setting."""
    unknown = set(splits) - set(Split.values)
    if unknown:
        raise ValidationError(f"Unknown split(s): {', '.join(sorted(unknown))}.")
    fields = [f"suggestions_{split}" for split in splits]
    for split, shown in splits.items():
        setattr(project, f"suggestions_{split}", bool(shown))
    if fields:
        project.save(update_fields=fields)
    return project


@transaction.atomic
def annotation_delete(*, image: Image | int, user: User) -> None:
    """Take back the user's label on the image (undo) and update consensus."""
    image = _locked_image(image if isinstance(image, int) else image.pk)
    Annotation.objects.filter(image=image, user=user).delete()
    image_consensus_update(image=image)


def image_skip(*, image: Image, user: User) -> ImageSkip:
    """Leave the image out of the user's labeling queue, on every client, until they bring it
    back (image_skip_undo, image_skips_restore). Skipping an image skipped before reopens
    that skip; skipping it twice is one skip."""
    skip, created = ImageSkip.objects.get_or_create(image=image, user=user)
    if not created and skip.restored_at is not None:
        skip.skipped_at, skip.restored_at = timezone.now(), None
        skip.save(update_fields=["skipped_at", "restored_at"])
    return skip


def image_skip_undo(*, image: Image | int, user: User) -> bool:
    """Take back the user's open skip of the image as if it never happened (the page's undo
    of a skip made by mistake): it is not counted in their figures. False when there was
    none."""
    deleted, _ = ImageSkip.objects.filter(image=image, user=user, restored_at=None).delete()
    return bool(deleted)


def image_skips_restore(
    *, project: Project, user: User, image_ids: Collection[int] | None = None
) -> int:
    """Bring the user's open skips in the project back into their queue (all of them, or
    those of `image_ids`). The rows stay, marked restored, so the annotator figures still
    count the skips. Returns how many were open."""
    skips = ImageSkip.objects.filter(image__project=project, user=user, restored_at=None)
    if image_ids is not None:
        skips = skips.filter(image_id__in=image_ids)
    return skips.update(restored_at=timezone.now())


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
    _image_labeled_signal_send(image)
    return image


def images_split_set(*, image_ids: Sequence[int], split: str) -> int:
    """Move images to a split. Returns how many rows changed."""
    if split not in Split.values:
        raise ValidationError(f"Unknown split {split!r}; use one of {', '.join(Split.values)}.")
    return Image.objects.filter(pk__in=image_ids).exclude(split=split).update(split=split)


def project_gold_percent_set(*, project: Project, gold_percent: int) -> Project:
    """Set the share (percent) of annotators' queues given to gold images; ValidationError
    outside 0-100."""
    if not 0 <= gold_percent <= 100:
        raise ValidationError("The gold share is a percentage, 0 to 100.")
    Project.objects.filter(pk=project.pk).update(gold_percent=gold_percent)
    project.gold_percent = gold_percent
    return project


@transaction.atomic
def image_gold_set(
    *, image: Image | int, gold: bool, label_class: LabelClass | None = None
) -> Image:
    """Mark the image gold (its label known) or not.

    Marking needs a label: `label_class`, or the image's current final label. The label is
    settled as an owner's review decision (image_review), so annotators' labels on the image
    no longer move it: they are scored against it. Unmarking keeps the reviewed label.
    ValidationError when marking an image that has no label and none is given.
    """
    image = _locked_image(image if isinstance(image, int) else image.pk)
    if gold:
        chosen = label_class or (image.label if image.label_status == LabelStatus.LABELED else None)
        if chosen is None:
            raise ValidationError("A gold image needs its label: give one, or label it first.")
        if not image.label_reviewed or image.label_id != chosen.pk:
            image = image_review(image=image, label_class=chosen)
    image.gold = gold
    image.save(update_fields=["gold"])
    return image
