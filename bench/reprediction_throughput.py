"""Background re-prediction of a 1,000-image project, beside raw batched inference in-process.

    python bench/reprediction_throughput.py [--images 1000] [--labeled 300] [--data DIR]

Starts the platform on throwaway data (bench/harness.py: gunicorn, the training and
prediction workers with the real efficientnet_lite0 backbone, the broker) and uploads 1,000
coffee-or-not photos (822 photos and mirror images of some), 300 of them labeled. Two versions
are trained through the API (the second with another seed); the one that is not active is then
activated through the API, which queues the re-prediction of every image in jobs of
CLASSIFIER_PREDICTION_JOB_SIZE, run by the one prediction worker. Timed from the activation
request to the last job finished:

- cold: the embedding cache emptied first, so every image is read from storage, decoded and
  run through the backbone: the work raw inference does too (goal: at least 70% of raw);
- warm: activating the other version back (its predictions deleted first); the embeddings
  are cached now, so only the head runs.

Raw: the same version loaded in this process predicts the same 1,000 stored files (read into
memory first; decode, backbone in capped batches and head are timed), once just before and
once just after the cold run, while the workers are idle; the worker is compared with the mean.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import harness

GOAL_SHARE_OF_RAW = 0.70


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="images in the project")
    parser.add_argument("--labeled", type=int, default=300, help="of them labeled")
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    arguments = parser.parse_args()

    with harness.Stack(workers=("training", "prediction"), web=True, keep=arguments.keep) as stack:
        owner = stack.owner()
        photos = harness.photos(arguments.images, arguments.data)
        project, _ = harness.project_with_photos(
            owner=owner, name="Re-prediction", photos_=photos, labeled=arguments.labeled
        )
        stack.wait_ready()
        print(stack.describe())
        api = stack.api(owner)
        first = harness.training_run(api, stack, project)
        harness.prediction_jobs_wait(project=project)
        second = harness.training_run(api, stack, project, hyperparameters={"seed": 1})
        harness.prediction_jobs_wait(project=project)
        versions = [first["model_version"]["id"], second["model_version"]["id"]]

        model = raw_model(versions)
        raw_before = raw_batched(project, model, "before")
        cold = repredict(stack, api, project, versions, empty_cache=True, what="cold")
        raw_after = raw_batched(project, model, "after")
        warm = repredict(stack, api, project, versions, empty_cache=False, what="warm")
        print_results(cold, [raw_before, raw_after], warm, arguments.images)


def repredict(stack, api, project, versions, *, empty_cache: bool, what: str) -> dict:
    """Activate the version that is not active and time the re-prediction it queues."""
    from classifier.models import (
        Embedding,
        ModelVersion,
        ModelVersionStatus,
        Prediction,
        PredictionJob,
    )

    target = (
        ModelVersion.objects.filter(pk__in=versions).exclude(status=ModelVersionStatus.ACTIVE).get()
    )
    Prediction.objects.filter(model_version=target).delete()
    if empty_cache:
        Embedding.objects.all().delete()
    earlier_jobs = list(PredictionJob.objects.values_list("pk", flat=True))
    load_before = harness.load_average()
    started = time.time()
    api.post(f"{stack.url}/api/model-versions/{target.pk}/activate/").raise_for_status()
    harness.prediction_jobs_wait(project=project)
    seen_done = time.time()
    jobs = list(
        PredictionJob.objects.filter(model_version=target, kind="repredict").exclude(
            pk__in=earlier_jobs
        )
    )
    if not jobs or any(job.status != "succeeded" for job in jobs):
        raise RuntimeError(f"re-prediction jobs: {[(j.pk, j.status, j.error) for j in jobs]}")
    predicted = Prediction.objects.filter(model_version=target).count()
    moments = [harness.job_moments(job) for job in jobs]
    finished = max(end.timestamp() for _, _, end in moments)
    busy = sum((end - start).total_seconds() for _, start, end in moments)
    timings = {
        key: sum(job.timings.get(key, 0) for job in jobs) / 1000
        for key in ("read_ms", "inference_ms", "write_ms")
    }
    return {
        "what": f"worker, {what}: activation -> last job finished",
        "version_id": target.pk,
        "images": predicted,
        "seconds": finished - started,
        "observed_seconds": seen_done - started,
        "jobs": len(jobs),
        "busy_seconds": busy,
        "timings": timings,
        "load": f"{load_before} -> {harness.load_average()}",
    }


def raw_model(versions) -> harness.InProcessModel:
    """The version the cold run will activate (the one not active), loaded in this process."""
    from classifier.models import ModelVersion, ModelVersionStatus

    target = (
        ModelVersion.objects.filter(pk__in=versions).exclude(status=ModelVersionStatus.ACTIVE).get()
    )
    return harness.InProcessModel(target)


def raw_batched(project, model: harness.InProcessModel, when: str) -> dict:
    from labeling.models import Image

    blobs = []
    for image in Image.objects.filter(project=project).order_by("pk"):
        with image.file.open("rb") as stored:
            blobs.append(stored.read())
    model.predict(blobs[: model.backbone.max_batch_size])  # warm-up: traces the graph
    load_before = harness.load_average()
    started = time.perf_counter()
    model.predict(blobs)
    seconds = time.perf_counter() - started
    return {
        "what": f"raw in-process, {when} the cold run ({model.backbone.max_batch_size} a batch)",
        "images": len(blobs),
        "seconds": seconds,
        "load": f"{load_before} -> {harness.load_average()}",
    }


def print_results(cold: dict, raws: list[dict], warm: dict, images: int) -> None:
    # Raw runs once before and once after the cold run: their mean is what the worker is
    # compared with, so a change in the machine's load during the run weighs on both sides.
    raw_rate = sum(raw["images"] / raw["seconds"] for raw in raws) / len(raws)
    print()
    print(f"re-prediction of a {images}-image project after activating a version")
    print(
        harness.table(
            ["path", "images", "seconds", "images/s", "share of raw", "load avg"],
            [
                [
                    row["what"],
                    row["images"],
                    f"{row['seconds']:.1f}",
                    f"{row['images'] / row['seconds']:.1f}",
                    f"{row['images'] / row['seconds'] / raw_rate:.0%}",
                    row["load"],
                ]
                for row in (raws[0], cold, raws[1], warm)
            ],
        )
    )
    share = cold["images"] / cold["seconds"] / raw_rate
    verdict = "met" if share >= GOAL_SHARE_OF_RAW else "NOT MET"
    print(
        f"goal: cold re-prediction at least {GOAL_SHARE_OF_RAW:.0%} of raw (mean of the two raw "
        f"runs, {raw_rate:.1f} images/s): {share:.0%}, {verdict}"
    )
    print()
    print("inside the worker: sums over the jobs of their timings, seconds")
    print(
        harness.table(
            [
                "run",
                "jobs",
                "claimed->finished",
                "image rows",
                "embeddings (files, decode, backbone, cache) + head",
                "Prediction upserts",
                "rest",
            ],
            [
                [
                    name,
                    row["jobs"],
                    f"{row['busy_seconds']:.1f}",
                    f"{row['timings']['read_ms']:.1f}",
                    f"{row['timings']['inference_ms']:.1f}",
                    f"{row['timings']['write_ms']:.1f}",
                    f"{row['busy_seconds'] - sum(row['timings'].values()):.1f}",
                ]
                for name, row in (("cold", cold), ("warm", warm))
            ],
        )
    )


if __name__ == "__main__":
    main()
