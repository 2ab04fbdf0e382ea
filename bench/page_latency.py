"""Page and API latency in a 10,000-image project: the gallery and grid, the labeling page and
its next-images endpoint, the dashboard, and the API's image list, through the real gunicorn.

    python bench/page_latency.py [--images 10000] [--requests 40] [--keep]

Starts the web server only (bench/harness.py: gunicorn as the run command starts it, on a
throwaway SQLite file, or on a new PostgreSQL database when DATABASE_URL names a server; no
workers, nothing here needs them). The rows are bulk-created, not ingested: the pages are
measured, not ingest. All images share one small stored file and thumbnail (the pages only
link to them) and have made-up sha256s; they were "uploaded" one every 30 seconds by two
people over the last few days. A realistic project at that size:

- 10,000 images, splits 60/20/20, in a project that needs two annotations per image: 60%
  labeled by two or three of five annotators who agree, 5% conflicts (two who disagree),
  10% with one annotation so far, the rest with none;
- a retired and an active model version, each with a prediction of every image (20,000
  Prediction rows), and their two training runs;
- a cached embedding of every image (64 random values each, not EfficientNet's 1,280: the
  pages never read them, only the worker's k-center greedy does, and 100,000 real-sized ones
  would be half a gigabyte), and the labeling queue's orderings computed from all of it as
  the prediction worker computes them after a prediction job (its time is printed).

Besides the pages, the labeling queue of the API (`/api/projects/{id}/queue/?strategy=NAME`,
ten images) is measured for every strategy, as an annotator who has labeled some images.

On PostgreSQL, ANALYZE runs after the bulk load (autovacuum would do it within a minute; the
figures should not depend on when). Each page is requested a few times to warm up, then
`--requests` times one after the other by one client (a logged-in session for the pages, a
token for the API); the script prints p50, p95 and max in ms, the response size, and the load
average before and after. A p95 above 200 ms is flagged.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import itertools
import random
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import harness

WARM_UP = 3
TIMEOUT_SECONDS = 60  # a page slower than this is reported as such, not measured further
SLOW_MS = 200.0
ANNOTATORS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="images in the project")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    arguments = parser.parse_args()

    with harness.Stack(workers=(), web=True, keep=arguments.keep) as stack:
        started = time.perf_counter()
        project, owner, annotators = project_populated(arguments.images)
        print(f"built a {arguments.images}-image project in {time.perf_counter() - started:.0f} s")
        stack.wait_ready()
        print(stack.describe())
        pages = pages_to_measure(stack, project, owner, annotators[0], arguments.images)
        load_before = harness.load_average()
        rows = [measure(name, fetch, arguments.requests) for name, fetch in pages]
        load_after = harness.load_average()
    print()
    print(
        f"{arguments.images:,} images, {arguments.requests} requests per page after {WARM_UP}"
        f" to warm up, one client; load average {load_before} -> {load_after}"
    )
    print(harness.table(["page", "p50 ms", "p95 ms", "max ms", "KB", ""], rows))
    slow = [row[0] for row in rows if row[-1]]
    if slow:
        print(f"\np95 above {SLOW_MS:.0f} ms: {', '.join(slow)}")


# ----------------------------------------------------------------------------------------------
# The project
# ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def timestamps_kept(*fields):
    """Let bulk_create keep the given timestamps instead of "now" (auto_now_add / auto_now),
    so the rows spread over days as real ones do (the dashboard groups them by minute)."""
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def project_populated(count: int):
    """(project, owner, annotators): the project described in the module docstring."""
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import connection
    from django.utils import timezone
    from PIL import Image as PILImage
    from rest_framework.authtoken.models import Token

    from classifier.models import (
        Embedding,
        JobStatus,
        ModelVersion,
        ModelVersionStatus,
        Prediction,
        TrainingRun,
    )
    from labeling.models import Annotation, Image, LabelStatus, Role, Split
    from labeling.services import membership_set, project_create

    users = get_user_model().objects
    owner = users.create_user("olivia", password="x" * 12)
    annotators = [users.create_user(f"annotator{i}", password="x" * 12) for i in range(ANNOTATORS)]
    for user in [owner, *annotators]:
        Token.objects.create(user=user)
    project = project_create(
        name="Ten thousand",
        created_by=owner,
        classes=["coffee", "other"],
        annotations_per_image=2,
    )
    for user in annotators:
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
    classes = list(project.classes.order_by("order"))

    picture = io.BytesIO()
    PILImage.new("RGB", (64, 64), (180, 120, 60)).save(picture, format="JPEG")
    file_name = default_storage.save("bench/shared.jpg", ContentFile(picture.getvalue()))

    refresh: Callable[..., dict[str, int]] | None
    try:  # the worker's code; absent before the labeling queue had stored orderings
        from classifier.worker.labeling_queue import labeling_queue_refresh as refresh
    except ImportError:
        refresh = None
    rng = random.Random(0)
    rng_numpy = np.random.default_rng(0)
    now = timezone.now()
    splits = [Split.TRAIN] * 3 + [Split.VALIDATION, Split.TEST]
    images, votes = [], []
    for index in range(count):
        truth = rng.choice(classes)
        # The consensus as labeling.services computes it, with two votes needed per image.
        roll = rng.random()
        if roll < 0.60:  # labeled: two or three votes that agree
            voters = rng.sample(annotators, rng.randint(2, 3))
            status, label, labels = LabelStatus.LABELED, truth, [truth] * len(voters)
        elif roll < 0.65:  # a conflict: two votes that disagree
            voters = rng.sample(annotators, 2)
            status, label, labels = LabelStatus.CONFLICT, None, classes[:2]
        elif roll < 0.75:  # one vote so far, another needed
            voters = rng.sample(annotators, 1)
            status, label, labels = LabelStatus.UNLABELED, None, [truth]
        else:
            status, label, labels, voters = LabelStatus.UNLABELED, None, [], []
        created = now - timedelta(seconds=30 * (count - index))
        images.append(
            Image(
                project=project,
                file=file_name,
                thumbnail=file_name,
                original_name=f"photo{index:05d}.jpg",
                sha256=hashlib.sha256(index.to_bytes(8, "big")).hexdigest(),
                width=64,
                height=64,
                format="JPEG",
                split=splits[index % len(splits)],
                uploaded_by=owner if index % 3 else annotators[0],
                created_at=created,
                label=label,
                label_status=status,
            )
        )
        votes.append(
            [(user, label_class, created) for user, label_class in zip(voters, labels, strict=True)]
        )

    with timestamps_kept(
        Image._meta.get_field("created_at"),
        Annotation._meta.get_field("created_at"),
        Annotation._meta.get_field("updated_at"),
    ):
        images = Image.objects.bulk_create(images, batch_size=2000)
        Annotation.objects.bulk_create(
            (
                Annotation(
                    image=image,
                    user=user,
                    label_class=label_class,
                    created_at=at + timedelta(minutes=5),
                    updated_at=at + timedelta(minutes=5),
                )
                for image, image_votes in zip(images, votes, strict=True)
                for user, label_class, at in image_votes
            ),
            batch_size=2000,
        )

    versions = []
    for number, version_status in ((1, ModelVersionStatus.RETIRED), (2, ModelVersionStatus.ACTIVE)):
        run = TrainingRun.objects.create(
            project=project, requested_by=owner, status=JobStatus.SUCCEEDED, progress=100
        )
        versions.append(
            ModelVersion.objects.create(
                project=project,
                version=number,
                backbone="efficientnet_lite0",
                artifact=ContentFile(b"placeholder head", name="head.bin"),
                class_ids=[c.pk for c in classes],
                status=version_status,
                validation_accuracy=0.9 + number / 100,
                test_accuracy=0.9 + number / 100,
                metrics={"accuracy": 0.9 + number / 100},
                training_run=run,
                activated_at=now if version_status == ModelVersionStatus.ACTIVE else None,
            )
        )
    predictions = (
        Prediction(
            image=image,
            model_version=version,
            label=classes[top],
            confidence=confidence,
            probabilities={classes[top].name: confidence, classes[1 - top].name: 1 - confidence},
        )
        for image, version in itertools.product(images, versions)
        for top, confidence in [(rng.randint(0, 1), round(rng.uniform(0.5, 1.0), 4))]
    )
    Prediction.objects.bulk_create(predictions, batch_size=2000)
    Embedding.objects.bulk_create(
        (
            Embedding(
                sha256=image.sha256,
                backbone="efficientnet_lite0",
                dim=64,
                vector=rng_numpy.standard_normal(64).astype("<f4").tobytes(),
            )
            for image in images
        ),
        batch_size=2000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    if refresh is not None:
        started = time.perf_counter()
        stored = refresh(project_id=project.pk)
        print(
            f"labeling queue orderings computed in {time.perf_counter() - started:.1f} s"
            f" (places stored: {sum(stored.values())})"
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    return project, owner, annotators


# ----------------------------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------------------------
def pages_to_measure(stack, project, owner, annotator, count: int):
    """[(name, fetch)] where fetch() GETs the page and returns the response."""
    as_owner = stack.browser_session(owner)
    as_annotator = stack.browser_session(annotator)
    api = stack.api(owner)
    api_annotator = stack.api(annotator)
    api_queue = f"{stack.url}/api/projects/{project.pk}/queue/"
    try:
        from labeling.models import QueueStrategy

        strategies = QueueStrategy.values
    except ImportError:  # before the labeling queue had strategies
        strategies = []
    base = f"{stack.url}/projects/{project.pk}"
    api_images = f"{stack.url}/api/projects/{project.pk}/images/"
    last_gallery_page = -(-count // 48)
    last_api_page = -(-count // 50)

    def get(session, url):
        return lambda: session.get(url, timeout=TIMEOUT_SECONDS)

    return [
        ("dashboard", get(as_owner, f"{base}/")),
        ("gallery, page 1", get(as_owner, f"{base}/gallery/")),
        ("gallery, last page", get(as_owner, f"{base}/gallery/?page={last_gallery_page}")),
        (
            "gallery, filtered",
            get(as_owner, f"{base}/gallery/?status=unlabeled&confidence_max=70"),
        ),
        ("grid, page 1", get(as_annotator, f"{base}/grid/")),
        ("labeling page", get(as_annotator, f"{base}/label/")),
        ("next images (label/queue/)", get(as_annotator, f"{base}/label/queue/")),
        ("API images, page 1", get(api, api_images)),
        ("API images, last page", get(api, f"{api_images}?page={last_api_page}")),
        ("API images, status=unlabeled", get(api, f"{api_images}?status=unlabeled")),
        *[
            (f"API queue, {strategy}", get(api_annotator, f"{api_queue}?strategy={strategy}"))
            for strategy in strategies
        ],
    ]


def measure(name: str, fetch, requests: int) -> list:
    import requests as http

    print(f"  {name} ...", end=" ", flush=True)
    began = time.perf_counter()
    try:
        response = fetch()
    except http.Timeout:
        print(f"no answer within {TIMEOUT_SECONDS} s")
        return [name, f"> {TIMEOUT_SECONDS * 1000}", "", "", "", "SLOW"]
    for _ in range(WARM_UP - 1):
        response = fetch()
        if response.status_code != 200:
            sys.exit(f"{name}: {response.status_code} {response.text[:500]}")
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = fetch()
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{name}: {response.status_code} {response.text[:500]}")
    p95 = harness.percentile(times, 95)
    print(f"{time.perf_counter() - began:.0f} s")
    return [
        name,
        f"{harness.percentile(times, 50):.0f}",
        f"{p95:.0f}",
        f"{max(times):.0f}",
        f"{len(response.content) / 1024:.0f}",
        "SLOW" if p95 > SLOW_MS else "",
    ]


if __name__ == "__main__":
    main()
