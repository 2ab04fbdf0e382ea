"""The health check's services and its worker pipeline, run in this process (the Celery
plumbing is tested with a real worker in test_health_api.py). The embeddings are chosen by
each test (tests/support/data_health.py), so what is found depends on them alone."""

import io

import pytest
from PIL import Image as PILImage

from classifier import selectors, services
from classifier.models import (
    DataIssue,
    DataIssueKind,
    HealthCheck,
    HealthCheckTrigger,
    JobStatus,
    LabelCheckDecision,
    LabelCheckReview,
    PictureMeasures,
)
from classifier.worker import health_check_execute, training_run_execute
from labeling import services as labeling_services
from labeling.models import Split
from tests.support.data_health import cluster_vectors, image_with_embedding
from tests.support.labeled_images import FAST_TRAINING

pytestmark = pytest.mark.django_db


def a_clean_project(project, *, per_class: int = 12) -> dict[str, list]:
    """Two well separated classes, every split used; returns the images per class."""
    images: dict[str, list] = {"coffee": [], "other": []}
    splits = [Split.TRAIN, Split.TRAIN, Split.VALIDATION, Split.TEST]
    for centre, label in enumerate(("coffee", "other")):
        for index, vector in enumerate(cluster_vectors(per_class, centre=centre, seed=centre)):
            images[label].append(
                image_with_embedding(
                    project,
                    vector,
                    split=splits[index % 4],
                    label=label,
                    seed=1000 * centre + index,
                )
            )
    return images


def check(project, owner) -> HealthCheck:
    health_check, created = services.health_check_start(project=project, requested_by=owner)
    assert created
    health_check_execute(check_id=health_check.pk, worker="test@here")
    health_check.refresh_from_db()
    assert health_check.status == JobStatus.SUCCEEDED, health_check.error
    return health_check


def issues(project, kind) -> list[DataIssue]:
    return list(selectors.data_issues_of(project=project, kind=kind))


def test_a_clean_project_has_no_issue(project, owner):
    a_clean_project(project)

    result = check(project, owner)

    assert result.counts == {
        "label_error": 0, "near_duplicate": 0, "split_leak": 0, "low_quality": 0,
    }  # fmt: skip
    assert result.progress == 100
    assert result.timings["images"] == 24


def test_an_image_labeled_against_its_looks_is_a_suspected_label_error(project, owner):
    a_clean_project(project)
    # Looks like coffee (its vector sits in coffee's cluster) but is labeled "other".
    wrong = image_with_embedding(
        project,
        cluster_vectors(1, centre=0, seed=99)[0],
        split=Split.TRAIN,
        label="other",
        seed=90007,
    )

    check(project, owner)

    [issue] = issues(project, DataIssueKind.LABEL_ERROR)
    assert issue.image_ids == [wrong.pk]
    assert issue.detail["given_label"] == "other"
    assert issue.detail["suggested_label"] == "coffee"
    assert issue.detail["suggested_probability"] > 0.5
    assert issue.score == pytest.approx(1 - issue.detail["given_probability"])


def test_a_copy_in_another_split_is_a_near_duplicate_and_a_leak(project, owner):
    images = a_clean_project(project)
    original = images["coffee"][0]  # in train
    # The copy's embedding is the original's, slightly moved.
    original_vector = cluster_vectors(12, centre=0, seed=0)[0]
    copy = image_with_embedding(
        project, original_vector * 1.01 + 0.01, split=Split.TEST, label="coffee", seed=4242
    )

    check(project, owner)

    [group] = issues(project, DataIssueKind.NEAR_DUPLICATE)
    [leak] = issues(project, DataIssueKind.SPLIT_LEAK)
    assert group.image_ids == leak.image_ids == [original.pk, copy.pk]
    assert group.detail["splits"] == {str(original.pk): "train", str(copy.pk): "test"}
    assert group.detail["pairs"][0][:2] == [original.pk, copy.pk]
    assert group.score > 0.99


def test_near_duplicates_in_one_split_are_listed_but_do_not_leak(project, owner):
    a_clean_project(project)
    vector = cluster_vectors(1, centre=1, seed=77)[0]
    image_with_embedding(project, vector, split=Split.TRAIN, label="other", seed=501)
    image_with_embedding(project, vector * 0.98, split=Split.TRAIN, label="other", seed=502)

    check(project, owner)

    assert len(issues(project, DataIssueKind.NEAR_DUPLICATE)) == 1
    assert issues(project, DataIssueKind.SPLIT_LEAK) == []


def test_a_blank_picture_is_low_quality(project, owner):
    a_clean_project(project)
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), (255, 255, 255)).save(buffer, format="PNG")
    blank = image_with_embedding(
        project, cluster_vectors(1, centre=3, seed=5)[0], split=Split.TRAIN, seed=9,
        content=buffer.getvalue(),
    )  # fmt: skip

    check(project, owner)

    [issue] = issues(project, DataIssueKind.LOW_QUALITY)
    assert issue.image_ids == [blank.pk]
    assert issue.detail["problems"] == ["blank"]


def test_a_new_check_replaces_the_findings_of_the_last(project, owner):
    a_clean_project(project)
    wrong = image_with_embedding(
        project,
        cluster_vectors(1, centre=0, seed=99)[0],
        split=Split.TRAIN,
        label="other",
        seed=90007,
    )
    check(project, owner)
    wrong.delete()

    check(project, owner)

    assert DataIssue.objects.filter(project=project).count() == 0


def test_a_second_request_returns_the_queued_check(project, owner):
    first, _ = services.health_check_start(project=project, requested_by=owner)

    second, created = services.health_check_start(project=project, requested_by=owner)

    assert not created
    assert second.pk == first.pk


def test_a_kept_label_is_not_suggested_again_until_it_changes(project, owner):
    a_clean_project(project)
    image_with_embedding(
        project,
        cluster_vectors(1, centre=0, seed=99)[0],
        split=Split.TRAIN,
        label="other",
        seed=90007,
    )
    check(project, owner)
    [issue] = issues(project, DataIssueKind.LABEL_ERROR)

    review = services.label_error_keep(issue=issue, reviewed_by=owner)
    check(project, owner)

    assert review.decision == LabelCheckDecision.KEPT
    assert review.label.name == "other"
    assert issues(project, DataIssueKind.LABEL_ERROR) == []


def test_a_kept_label_is_judged_again_once_the_label_changed(project, owner):
    a_clean_project(project)
    wrong = image_with_embedding(
        project,
        cluster_vectors(1, centre=0, seed=99)[0],
        split=Split.TRAIN,
        label="other",
        seed=90007,
    )
    check(project, owner)
    [issue] = issues(project, DataIssueKind.LABEL_ERROR)
    services.label_error_keep(issue=issue, reviewed_by=owner)
    # Kept as "other" once; the image has been labeled "tea" since, a label nobody kept.
    tea = project.classes.create(name="tea", key="3", order=2)
    labeling_services.image_review(image=wrong, label_class=tea)
    image_with_embedding(
        project, cluster_vectors(1, centre=5, seed=8)[0], split=Split.TRAIN, label="tea", seed=90008
    )

    check(project, owner)

    assert [wrong.pk] in [i.image_ids for i in issues(project, DataIssueKind.LABEL_ERROR)]


def test_relabeling_a_suspect_is_an_owners_review(project, owner):
    a_clean_project(project)
    wrong = image_with_embedding(
        project,
        cluster_vectors(1, centre=0, seed=99)[0],
        split=Split.TRAIN,
        label="other",
        seed=90007,
    )
    check(project, owner)
    [issue] = issues(project, DataIssueKind.LABEL_ERROR)

    services.label_error_relabel(
        issue=issue, label_class=project.classes.get(name="coffee"), reviewed_by=owner
    )

    wrong.refresh_from_db()
    assert wrong.label.name == "coffee"
    assert wrong.label_reviewed
    assert LabelCheckReview.objects.get(image=wrong).decision == LabelCheckDecision.RELABELED
    assert issues(project, DataIssueKind.LABEL_ERROR) == []


def test_the_queue_leaves_out_a_suspect_relabeled_elsewhere(project, owner):
    a_clean_project(project)
    wrong = image_with_embedding(
        project,
        cluster_vectors(1, centre=0, seed=99)[0],
        split=Split.TRAIN,
        label="other",
        seed=90007,
    )
    check(project, owner)

    labeling_services.image_review(image=wrong, label_class=project.classes.get(name="coffee"))

    assert selectors.label_error_queue(project=project) == []


def test_fixing_leaks_moves_each_group_into_train_first(project, owner):
    a_clean_project(project)
    vector = cluster_vectors(1, centre=2, seed=31)[0]
    in_train = image_with_embedding(project, vector, split=Split.TRAIN, seed=601)
    in_test = image_with_embedding(project, vector * 1.02, split=Split.TEST, seed=602)
    other = cluster_vectors(1, centre=3, seed=32)[0]
    in_validation = image_with_embedding(project, other, split=Split.VALIDATION, seed=603)
    in_test_too = image_with_embedding(project, other * 0.97, split=Split.TEST, seed=604)
    check(project, owner)
    assert selectors.split_leak_count(project=project) == 2

    moved = services.split_leaks_fix(project=project)

    assert moved == 2
    splits = {i.pk: i.split for i in (in_train, in_test, in_validation, in_test_too)}
    splits = {pk: type(in_train).objects.get(pk=pk).split for pk in splits}
    assert splits == {
        in_train.pk: "train", in_test.pk: "train",
        # No image of this group was in train: it stays out of train, in validation.
        in_validation.pk: "validation", in_test_too.pk: "validation",
    }  # fmt: skip
    assert selectors.split_leak_count(project=project) == 0
    assert issues(project, DataIssueKind.SPLIT_LEAK) == []
    check(project, owner)
    assert issues(project, DataIssueKind.SPLIT_LEAK) == []


def test_a_training_run_asks_for_a_health_check_and_records_its_leaks(project, owner):
    images = a_clean_project(project)
    image_with_embedding(
        project, cluster_vectors(12, centre=0, seed=0)[0] * 1.01, split=Split.TEST,
        label="coffee", seed=4242,
    )  # fmt: skip
    check(project, owner)  # the leak is known
    del images

    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")

    run.refresh_from_db()
    assert run.model_version.metrics["split_leaks"] == 1
    after = HealthCheck.objects.filter(project=project).order_by("-pk").first()
    assert after.trigger == HealthCheckTrigger.AFTER_TRAINING
    assert after.status == JobStatus.QUEUED


def test_a_picture_is_measured_once_then_read_from_the_cache(project, owner):
    a_clean_project(project)
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), (0, 0, 0)).save(buffer, format="PNG")
    blank = image_with_embedding(
        project, cluster_vectors(1, centre=3, seed=5)[0], split=Split.TRAIN, seed=9,
        content=buffer.getvalue(),
    )  # fmt: skip
    check(project, owner)
    assert PictureMeasures.objects.count() == 25
    blank.file.storage.delete(blank.file.name)  # a second check must not need it

    check(project, owner)

    assert [i.image_ids for i in issues(project, DataIssueKind.LOW_QUALITY)] == [[blank.pk]]
