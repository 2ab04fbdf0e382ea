"""The automatic split: within one image of the ratios per stratum, deterministic."""

import io
import itertools

import pytest

from labeling.ingest import IncomingFile, image_ingest
from labeling.models import Split
from labeling.services import annotation_create
from labeling.splits import SplitAllocator, image_strata_counts, split_allocator_for
from tests.factories import ImageFactory, ProjectFactory
from tests.support import upload_corpus as corpus

RATIOS = [
    {"train": 60, "validation": 20, "test": 20},
    {"train": 80, "validation": 10, "test": 10},
    {"train": 70, "validation": 15, "test": 15},
    {"train": 33, "validation": 33, "test": 34},
    {"train": 100, "validation": 0, "test": 0},
    {"train": 50, "validation": 0, "test": 50},
    {"train": 1, "validation": 2, "test": 97},
]


@pytest.mark.parametrize("ratios", RATIOS, ids=lambda r: "-".join(map(str, r.values())))
def test_every_split_stays_within_one_image_of_its_ratio_at_every_point(ratios):
    allocator = SplitAllocator(ratios)
    counts = dict.fromkeys(ratios, 0)
    for placed in range(1, 1001):
        counts[allocator.assign("coffee")] += 1
        for split, percent in ratios.items():
            assert abs(counts[split] - percent * placed / 100) < 1, (placed, counts)


def test_a_split_with_ratio_zero_is_never_chosen():
    allocator = SplitAllocator({"train": 50, "validation": 0, "test": 50})
    assert "validation" not in {allocator.assign(None) for _ in range(200)}


def test_the_first_images_follow_the_fixed_order_of_largest_deficit():
    allocator = SplitAllocator({"train": 60, "validation": 20, "test": 20})
    assert [allocator.assign("x") for _ in range(10)] == [
        "train", "validation", "train", "test", "train",
        "train", "validation", "train", "test", "train",
    ]  # fmt: skip


def test_strata_are_balanced_independently():
    allocator = SplitAllocator({"train": 60, "validation": 20, "test": 20})
    # Labels arriving in long runs would skew a single counter; per stratum they cannot.
    labels = ["coffee"] * 7 + ["other"] * 13 + [None] * 5 + ["coffee"] * 3 + ["other"] * 2
    for label in labels:
        allocator.assign(label)
    assert allocator.counts("coffee") == {"train": 6, "validation": 2, "test": 2}
    assert allocator.counts("other") == {"train": 9, "validation": 3, "test": 3}
    assert allocator.counts(None) == {"train": 3, "validation": 1, "test": 1}


def test_the_same_inputs_give_the_same_splits():
    labels = [n % 3 for n in range(100)]

    def run():
        allocator = SplitAllocator({"train": 70, "validation": 15, "test": 15}, {0: {"test": 4}})
        return [allocator.assign(label) for label in labels]

    assert run() == run()


def test_existing_counts_are_continued_from():
    allocator = SplitAllocator(
        {"train": 60, "validation": 20, "test": 20}, {"coffee": {"train": 6}}
    )
    assert [allocator.assign("coffee") for _ in range(4)] == ["validation", "test"] * 2


def test_ratios_not_adding_up_to_100_are_refused():
    with pytest.raises(ValueError):
        SplitAllocator({"train": 60, "validation": 20, "test": 10})


def test_strata_counts_use_the_consensus_label_then_the_uploaders_class(project, owner, annotator):
    coffee, other = project.classes.all()
    labeled = ImageFactory(project=project, split=Split.TRAIN)
    annotation_create(image=labeled, user=annotator, label_class=coffee)
    uploaded_as_other = ImageFactory(project=project, split=Split.TEST, uploaded_by=owner)
    project.annotations_per_image = 2
    project.save()
    annotation_create(image=uploaded_as_other, user=owner, label_class=other)  # awaits a 2nd
    ImageFactory(project=project, split=Split.VALIDATION)

    assert image_strata_counts(project=project) == {
        coffee.pk: {"train": 1},
        other.pk: {"test": 1},
        None: {"validation": 1},
    }


@pytest.mark.usefixtures("media_root")
def test_ingest_splits_each_label_in_the_project_ratios_across_uploads(project, owner):
    coffee, other = project.classes.all()
    seeds = itertools.count()

    def upload(count, label):
        files = [
            IncomingFile(f"{n}.png", io.BytesIO(corpus.png(seed=next(seeds)))) for n in range(count)
        ]
        return image_ingest(project=project, uploaded_by=owner, files=files, label=label)

    # Uneven batches: the allocator continues from the stored images every time.
    for count, label in [(3, coffee), (4, other), (7, coffee), (6, None), (11, other)]:
        upload(count, label)

    counts = image_strata_counts(project=project)
    assert counts[coffee.pk] == {"train": 6, "validation": 2, "test": 2}
    assert counts[other.pk] == {"train": 9, "validation": 3, "test": 3}
    assert counts[None] == {"train": 4, "validation": 1, "test": 1}


@pytest.mark.usefixtures("media_root")
def test_ingest_splits_are_deterministic(owner):
    data = [corpus.png(seed=n) for n in range(12)]

    def splits_in_a_new_project():
        project = ProjectFactory(created_by=owner)
        files = [IncomingFile(f"{n}.png", io.BytesIO(d)) for n, d in enumerate(data)]
        report = image_ingest(
            project=project, uploaded_by=owner, files=files, label=project.classes.first()
        )
        return [(image.original_name, image.split) for image in report.created]

    assert splits_in_a_new_project() == splits_in_a_new_project()


def test_the_allocator_for_a_project_uses_its_ratios(owner):
    project = ProjectFactory(created_by=owner, train_percent=0, validation_percent=0,
                             test_percent=100)  # fmt: skip
    allocator = split_allocator_for(project=project)
    assert {allocator.assign(None) for _ in range(5)} == {"test"}
