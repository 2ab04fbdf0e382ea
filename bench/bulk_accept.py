"""Bulk accept of the model's suggestions, and its undo, through the real services.

    python bench/bulk_accept.py [--images 1000 5000] [--repeats 3]

On a throwaway database (bench/harness.py: SQLite, or a new PostgreSQL database when
DATABASE_URL names a server; no workers, no web server). For each size, a project whose
active model version predicts every train image at 0.99 confidence; the annotator accepts
every suggestion at or above 0.95 (classifier.services.suggestions_accept_bulk, as the grid's
"across the filter" and the API call it), then undoes it
(labeling.services.annotation_batch_undo). Prints the median seconds of each over
`--repeats` rounds and the load average beside them.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import harness


def project_predicted(size: int, number: int):
    from django.contrib.auth.models import User

    from classifier.models import ModelVersion, ModelVersionStatus, Prediction
    from labeling.models import Image, Split
    from labeling.services import membership_set, project_create

    owner = User.objects.create_user(f"owner{number}")
    annotator = User.objects.create_user(f"annotator{number}")
    project = project_create(name=f"Bulk {size}", created_by=owner, classes=["coffee", "other"])
    membership_set(project=project, user=annotator, role="annotator")
    coffee = project.classes.get(name="coffee")
    version = ModelVersion.objects.create(
        project=project,
        version=1,
        backbone="bench",
        artifact="bench/head.bin",
        status=ModelVersionStatus.ACTIVE,
    )
    images = Image.objects.bulk_create(
        Image(
            project=project,
            file="bench/image.png",
            original_name=f"{index}.png",
            sha256=hashlib.sha256(f"{number}-{index}".encode()).hexdigest(),
            width=32,
            height=24,
            format="PNG",
            split=Split.TRAIN,
        )
        for index in range(size)
    )
    Prediction.objects.bulk_create(
        Prediction(
            image=image,
            model_version=version,
            label=coffee,
            confidence=0.99,
            probabilities={"coffee": 0.99, "other": 0.01},
        )
        for image in images
    )
    return project, annotator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    with harness.Stack(workers=(), web=False):
        from classifier.services import suggestions_accept_bulk
        from labeling.models import Image
        from labeling.services import annotation_batch_undo

        rows = []
        for number, size in enumerate(arguments.images):
            project, annotator = project_predicted(size, number)
            accepts, undos = [], []
            for _ in range(arguments.repeats):
                started = time.perf_counter()
                result = suggestions_accept_bulk(
                    project=project,
                    user=annotator,
                    images=Image.objects.filter(project=project),
                    min_confidence=0.95,
                )
                accepts.append(time.perf_counter() - started)
                assert result.accepted == size, result
                started = time.perf_counter()
                assert annotation_batch_undo(batch=result.batch, user=annotator) == (size, 0)
                undos.append(time.perf_counter() - started)
            rows.append(
                (
                    size,
                    f"{harness.median(accepts):.2f}",
                    f"{harness.median(undos):.2f}",
                    harness.load_average(),
                )
            )
        print(harness.table(("images", "accept s", "undo s", "load average"), rows))


if __name__ == "__main__":
    main()
