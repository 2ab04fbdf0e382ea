"""Data health as the pages and the API read it: the latest check's findings, the review
queue of suspected label errors, the health page's figures and the leak count a training
run records."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from classifier.models import DataIssue, DataIssueKind, HealthCheck, JobStatus
from labeling.models import Annotation, Image, LabelStatus, Project, Split


def health_check_latest(*, project: Project) -> HealthCheck | None:
    """The project's newest health check, finished or not."""
    return HealthCheck.objects.filter(project=project).order_by("-created_at", "-pk").first()


def data_issues_of(*, project: Project, kind: str | None = None) -> QuerySet[DataIssue]:
    """The project's current findings (the latest successful check's, less the ones owners
    answered), each kind best first: highest score first."""
    issues = DataIssue.objects.filter(project=project)
    if kind:
        issues = issues.filter(kind=kind)
    return issues.order_by("kind", "-score", "pk")


def data_issue_counts(*, project: Project) -> dict[str, int]:
    """{kind: number of current findings}, every kind present (one query)."""
    counts = dict.fromkeys(DataIssueKind.values, 0)
    for kind, count in (
        DataIssue.objects.filter(project=project)
        .order_by()
        .values_list("kind")
        .annotate(count=Count("pk"))
    ):
        counts[kind] = count
    return counts


def image_ids_with_issue(*, project_id: int, kind: str) -> set[int]:
    """Every image id some current finding of `kind` names (the gallery's issue filter)."""
    ids: set[int] = set()
    for image_ids in DataIssue.objects.filter(project_id=project_id, kind=kind).values_list(
        "image_ids", flat=True
    ):
        ids.update(image_ids)
    return ids


def label_error_queue(*, project: Project) -> list[DataIssue]:
    """The suspected label errors still worth an owner's look, the model's surest first,
    each with `image` (and its label) and `labeled_by` (the annotators' usernames and what
    each gave). An image whose label changed since the check is left out (its issue is
    stale: the next check judges the new label). Three queries."""
    issues = list(
        DataIssue.objects.filter(project=project, kind=DataIssueKind.LABEL_ERROR)
        .select_related("image", "image__label")
        .order_by("-score", "pk")
    )
    issues = [
        issue
        for issue in issues
        if issue.image is not None
        and issue.image.label_id == issue.detail.get("given_label_id")
        and issue.image.label_status == LabelStatus.LABELED
    ]
    given: dict[int, list[str]] = {}
    for image_id, username, label in (
        Annotation.objects.filter(image_id__in=[issue.image_id for issue in issues])
        .order_by("created_at")
        .values_list("image_id", "user__username", "label_class__name")
    ):
        given.setdefault(image_id, []).append(f"{username} ({label})")
    for issue in issues:
        issue.labeled_by = given.get(issue.image_id or 0, [])  # type: ignore[attr-defined]
    return issues


def split_leak_count(*, project: Project) -> int:
    """How many near-duplicate groups of the latest check sit in more than one split now
    (the images' current splits: a leak fixed since is not counted). Two queries."""
    groups = list(
        DataIssue.objects.filter(project=project, kind=DataIssueKind.NEAR_DUPLICATE).values_list(
            "image_ids", flat=True
        )
    )
    ids = {image_id for group in groups for image_id in group}
    splits = dict(Image.objects.filter(pk__in=ids).values_list("pk", "split"))
    return sum(1 for group in groups if len({splits[i] for i in group if i in splits}) > 1)


def project_health(*, project: Project) -> dict:
    """What the health page shows, in a fixed number of queries:

    - `check`: the latest health check (None before the first);
    - `counts`: {kind: findings};
    - `splits`: per split {"split", "label", "images", "percent", "ratio", "classes":
      {class name: labeled images}};
    - `classes`: the class names in order, with colours;
    - `unlabeled`, `conflicts`, `images`: counts;
    - `leaks`, `groups`, `label_errors`, `low_quality`: the findings (a few of each).
    """
    classes = list(project.classes.all())
    by_split_class: dict[tuple[str, int | None, str], int] = {}
    for split, label_id, status, count in (
        Image.objects.filter(project=project)
        .order_by()
        .values_list("split", "label_id", "label_status")
        .annotate(count=Count("pk"))
    ):
        by_split_class[(split, label_id, status)] = count
    total = sum(by_split_class.values())
    splits = []
    for split, split_label in Split.choices:
        images = sum(c for (s, _, _), c in by_split_class.items() if s == split)
        splits.append(
            {
                "split": split,
                "label": split_label,
                "images": images,
                "percent": round(100 * images / total, 1) if total else 0.0,
                "ratio": project.split_ratios[split],
                "classes": {
                    label_class.name: by_split_class.get(
                        (split, label_class.pk, LabelStatus.LABELED), 0
                    )
                    for label_class in classes
                },
            }
        )
    issues = list(data_issues_of(project=project))
    of_kind = {kind: [i for i in issues if i.kind == kind] for kind in DataIssueKind.values}
    return {
        "check": health_check_latest(project=project),
        "counts": {kind: len(found) for kind, found in of_kind.items()},
        "splits": splits,
        "classes": classes,
        "images": total,
        "unlabeled": sum(
            c for (_, _, status), c in by_split_class.items() if status == LabelStatus.UNLABELED
        ),
        "conflicts": sum(
            c for (_, _, status), c in by_split_class.items() if status == LabelStatus.CONFLICT
        ),
        "leaks": of_kind[DataIssueKind.SPLIT_LEAK],
        "groups": of_kind[DataIssueKind.NEAR_DUPLICATE],
        "label_errors": of_kind[DataIssueKind.LABEL_ERROR],
        "low_quality": of_kind[DataIssueKind.LOW_QUALITY],
        "running": HealthCheck.objects.filter(
            project=project, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).exists(),
    }
