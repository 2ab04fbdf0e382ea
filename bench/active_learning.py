"""The labels an active model saves: a simulated annotator labels the coffee-or-not photos
through the platform's own labeling queue, once per sampling strategy, and we count the labels
each strategy needs before the model reaches 0.95 and 0.97 test accuracy.

    python bench/active_learning.py [--seeds 3] [--rounds 10] [--batch 20] [--start 10]
                                    [--strategies least_confidence,random,...] [--plot PNG]

Everything a user's labels go through is the platform's own code, run in this process: the
photos are ingested by `image_ingest`; the annotator labels with `annotation_create`; the next
images come from the labeling queue (`classifier.selectors.labeling_queue`, reading the
orderings the prediction worker's code stored); each round's model is a real training run
(`training_run_start`, then the training worker's pipeline `training_run_execute`), activated
(`model_version_activate`), and its re-prediction jobs run through the prediction worker's
pipeline (`prediction_job_execute`), which recomputes the queue's orderings at the end.

The experiment, per strategy and seed:

- A fixed test split (30% of the photos, stratified, the same for every run) labeled by an
  examiner: the model's test accuracy (the run's own evaluation) is the figure; these labels
  are not counted.
- The other photos are the pool, split 80/20 into train and validation at random per seed
  (the platform early-stops on validation, so the annotator's labels feed both).
- Start: `--start` pool photos labeled at random (per seed; redrawn until every class has a
  training label and validation has one). Then `--rounds` rounds: train, activate, predict,
  and the annotator labels the next `--batch` images the queue offers, with their true class.

The embeddings come from the cache (the platform's Embedding rows, kept between runs in
var/active-learning/ so only the first run embeds the photos, about a minute), so a round
costs a training of the head (a few seconds) and the prediction of the pool from cached
embeddings. 7 strategies x 3 seeds x 11 trainings take about 10 minutes on a quiet machine.

Also reported, for the default strategy's runs: what "accept every suggestion at or above
`--threshold`" would do at each round (how many of the still-unlabeled pool images one such
action labels, and how many of them wrongly).

Prints a table per strategy (mean test accuracy over the seeds against the number of labels),
the labels each needs to reach 0.95 and 0.97 (on the mean curve), and draws the curves into
`--plot` (default bench/active_learning.png).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import harness

RESULTS_DIR = harness.REPOSITORY / "var" / "active-learning"
TARGETS = (0.95, 0.97)
TEST_FRACTION = 0.3
VALIDATION_FRACTION = 0.2


# labeling.models.QueueStrategy's values (Django is not set up when the arguments are read;
# the run checks them against it).
STRATEGIES = (
    "sequential", "random", "least_confidence", "margin", "entropy", "diversity", "balanced",
    "warm_start",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="runs per strategy")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds first-seed .. first-seed + seeds - 1 (split a long run over processes)",
    )
    parser.add_argument("--rounds", type=int, default=10, help="rounds of labeling per run")
    parser.add_argument("--batch", type=int, default=20, help="labels per round")
    parser.add_argument("--start", type=int, default=10, help="labels before the first model")
    parser.add_argument(
        "--strategies",
        default=",".join(STRATEGIES),
        help="comma-separated (default: all)",
    )
    parser.add_argument("--threshold", type=float, default=0.95, help="bulk accept threshold")
    parser.add_argument(
        "--plot", type=Path, default=harness.REPOSITORY / "bench" / "active_learning.png"
    )
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="print and plot the results kept by the last run, running nothing",
    )
    arguments = parser.parse_args()
    curves: dict[str, list[list[tuple[int, float]]]] = defaultdict(list)
    bulk: dict[str, list[list[dict]]] = defaultdict(list)
    if arguments.report_only:
        for path in sorted(RESULTS_DIR.glob("results-seed*.json")):
            kept = json.loads(path.read_text())
            for strategy, runs in kept["curves"].items():
                curves[strategy] += [[tuple(point) for point in run] for run in runs]
            for strategy, runs in kept["bulk"].items():
                bulk[strategy] += runs
        for name in ("rounds", "batch", "start"):
            setattr(arguments, name, int(kept["arguments"][name]))
        arguments.threshold = float(kept["arguments"]["threshold"])
        # Only the seeds every strategy ran: a seed that favours one strategy (a lucky first
        # ten labels) must not favour it alone.
        arguments.seeds = min(len(runs) for runs in curves.values())
        curves = {k: runs[: arguments.seeds] for k, runs in curves.items()}
        bulk = {k: runs[: arguments.seeds] for k, runs in bulk.items()}
        report(curves, bulk, arguments, keep=False)
        return
    strategies = [name.strip() for name in arguments.strategies.split(",") if name.strip()]
    unknown = set(strategies) - set(STRATEGIES)
    if unknown:
        parser.error(f"unknown strategies: {', '.join(sorted(unknown))}")

    with harness.Stack(workers=(), web=False) as _stack:
        from labeling.models import QueueStrategy

        assert set(STRATEGIES) == set(QueueStrategy.values), "STRATEGIES is out of date"
        print(f"load average {harness.load_average()}")
        started = time.perf_counter()
        world = World.build(arguments.data)
        print(
            f"{len(world.pool)} pool photos, {len(world.test)} test photos; set up in"
            f" {time.perf_counter() - started:.0f} s"
        )
        # Seed by seed, every strategy in turn: a run stopped early still compares them all.
        for seed in range(arguments.first_seed, arguments.first_seed + arguments.seeds):
            for strategy in strategies:
                began = time.perf_counter()
                curve, accepts = world.run(
                    strategy=strategy,
                    seed=seed,
                    start=arguments.start,
                    rounds=arguments.rounds,
                    batch=arguments.batch,
                    threshold=arguments.threshold,
                )
                curves[strategy].append(curve)
                bulk[strategy].append(accepts)
                print(
                    f"  {strategy:17} seed {seed}: "
                    + " ".join(f"{labels}:{accuracy:.3f}" for labels, accuracy in curve)
                    + f"  ({time.perf_counter() - began:.0f} s, load {harness.load_average()})",
                    flush=True,
                )
                results_keep(curves, bulk, arguments)
    report(curves, bulk, arguments)


class World:
    """The project, its photos' true classes, the fixed test split and the people."""

    def __init__(self, project, owner, annotator, examiner, truth, pool, test):
        self.project, self.owner, self.annotator, self.examiner = (
            project,
            owner,
            annotator,
            examiner,
        )
        self.truth, self.pool, self.test = truth, pool, test

    @classmethod
    def build(cls, data_dir: Path | None) -> World:
        from django.contrib.auth import get_user_model

        from labeling.models import Role, Split
        from labeling.services import annotation_create, images_split_set, membership_set

        photos_dir = data_dir or harness.DEFAULT_DATA
        if photos_dir is None:
            raise SystemExit("No coffee-or-not photos: set COFFEE_OR_NOT_DIR or pass --data.")
        files = sorted(path for path in Path(photos_dir).glob("*/*.jpg"))
        photos = harness.photos(len(files), data_dir)
        users = get_user_model().objects
        owner = users.create_user("olivia", password="x" * 12)
        annotator = users.create_user("annie", password="x" * 12)
        examiner = users.create_user("examiner", password="x" * 12)
        project, images = harness.project_with_photos(
            owner=owner, name="Coffee or not", photos_=photos
        )
        for user, role in ((annotator, Role.ANNOTATOR), (examiner, Role.ANNOTATOR)):
            membership_set(project=project, user=user, role=role)
        label_of = {photo.name: photo.label for photo in photos}
        truth = {image.pk: label_of[image.original_name] for image in images}
        embeddings_cached(images)

        # The fixed test split: 30% of each class, the same in every run.
        rng = random.Random(0)
        test: list[int] = []
        for name in sorted(set(truth.values())):
            members = sorted(pk for pk, label in truth.items() if label == name)
            test += rng.sample(members, round(len(members) * TEST_FRACTION))
        images_split_set(image_ids=test, split=Split.TEST)
        classes = {c.name: c for c in project.classes.all()}
        for image_id in test:
            annotation_create(image=image_id, user=examiner, label_class=classes[truth[image_id]])
        pool = sorted(set(truth) - set(test))
        return cls(project, owner, annotator, examiner, truth, pool, sorted(test))

    def reset(self, seed: int) -> None:
        """Nothing labeled in the pool, no model; the pool split into train and validation."""
        from classifier.models import (
            LabelingQueuePlace,
            ModelVersion,
            PredictionJob,
            TrainingRun,
        )
        from labeling.models import Annotation, Image, LabelStatus, Split
        from labeling.services import images_split_set

        Annotation.objects.filter(image_id__in=self.pool).delete()
        Image.objects.filter(pk__in=self.pool).update(
            label=None, label_status=LabelStatus.UNLABELED
        )
        LabelingQueuePlace.objects.filter(project=self.project).delete()
        PredictionJob.objects.filter(project=self.project).delete()
        ModelVersion.objects.filter(project=self.project).delete()
        TrainingRun.objects.filter(project=self.project).delete()
        shuffled = random.Random(seed).sample(self.pool, len(self.pool))
        cut = round(len(shuffled) * VALIDATION_FRACTION)
        images_split_set(image_ids=shuffled[:cut], split=Split.VALIDATION)
        images_split_set(image_ids=shuffled[cut:], split=Split.TRAIN)

    def label(self, image_ids) -> None:
        from labeling.services import annotation_create

        classes = {c.name: c for c in self.project.classes.all()}
        for image_id in image_ids:
            annotation_create(
                image=image_id, user=self.annotator, label_class=classes[self.truth[image_id]]
            )

    def first_labels(self, seed: int, count: int) -> list[int]:
        """`count` random pool images with a training label for every class and at least
        one validation label (the platform refuses to train otherwise)."""
        from labeling.models import Image, Split

        split_of = dict(Image.objects.filter(pk__in=self.pool).values_list("pk", "split"))
        rng = random.Random(1000 + seed)
        for _ in range(1000):
            chosen = rng.sample(self.pool, count)
            train_classes = {self.truth[pk] for pk in chosen if split_of[pk] == Split.TRAIN}
            has_validation = any(split_of[pk] == Split.VALIDATION for pk in chosen)
            if len(train_classes) == len(set(self.truth.values())) and has_validation:
                return chosen
        raise RuntimeError(f"no start of {count} labels covers every class; raise --start")

    def train_and_predict(self, seed: int):
        """A training run through the worker's pipeline, its version activated and the pool
        re-predicted (the last prediction job recomputes the queue's orderings)."""
        from classifier import services
        from classifier.models import JobStatus, PredictionJob
        from classifier.worker import prediction_job_execute, training_run_execute

        run, _ = services.training_run_start(
            project=self.project, requested_by=self.owner, hyperparameters={"seed": seed}
        )
        training_run_execute(run_id=run.pk, worker="bench@here")
        run.refresh_from_db()
        if run.status != JobStatus.SUCCEEDED:
            raise RuntimeError(f"training failed: {run.error}")
        version = run.model_version
        services.model_version_activate(model_version=version, activated_by=self.owner)
        for job in PredictionJob.objects.filter(
            project=self.project, status=JobStatus.QUEUED
        ).order_by("pk"):
            prediction_job_execute(job_id=job.pk, worker="bench@here")
        version.refresh_from_db()
        return version

    def bulk_accept(self, version, threshold: float) -> dict:
        """What accepting every suggestion at or above `threshold` would do now."""
        from classifier.models import Prediction
        from labeling.models import LabelStatus

        accepted = list(
            Prediction.objects.filter(
                model_version=version,
                image_id__in=self.pool,
                image__label_status=LabelStatus.UNLABELED,
                confidence__gte=threshold,
            ).values_list("image_id", "label__name")
        )
        wrong = sum(1 for image_id, label in accepted if self.truth[image_id] != label)
        return {"accepted": len(accepted), "wrong": wrong}

    def run(self, *, strategy, seed, start, rounds, batch, threshold):
        """[(labels, test accuracy)] after each training, and the bulk-accept figures."""
        from classifier.selectors import labeling_queue

        self.reset(seed)
        self.label(self.first_labels(seed, start))
        labeled = start
        curve, accepts = [], []
        for round_number in range(rounds + 1):
            version = self.train_and_predict(seed)
            curve.append((labeled, version.test_accuracy))
            accepts.append({"labels": labeled, **self.bulk_accept(version, threshold)})
            if round_number == rounds:
                break
            queued = labeling_queue(
                project=self.project, user=self.annotator, strategy=strategy, limit=batch
            )
            self.label([item.image.pk for item in queued])
            labeled += len(queued)
        return curve, accepts


def embeddings_cached(images) -> None:
    """Fill the platform's embedding cache from var/active-learning/, embedding (through the
    worker's code and the real backbone) only the photos not there yet, and keep them."""
    import numpy as np
    from django.conf import settings

    from classifier.models import Embedding

    backbone_name = settings.CLASSIFIER_BACKBONE
    path = RESULTS_DIR / f"embeddings-{backbone_name}.npz"
    kept = dict(np.load(path)) if path.exists() else {}
    Embedding.objects.bulk_create(
        (
            Embedding(
                sha256=image.sha256,
                backbone=backbone_name,
                dim=kept[image.sha256].size,
                vector=kept[image.sha256].astype("<f4").tobytes(),
            )
            for image in images
            if image.sha256 in kept
        ),
        ignore_conflicts=True,
    )
    missing = [image for image in images if image.sha256 not in kept]
    if not missing:
        return
    from classifier.worker import loaded_backbone
    from classifier.worker.embeddings import embeddings_for

    print(f"embedding {len(missing)} photos (once: they are kept in {path}) ...", flush=True)
    vectors = embeddings_for(
        backbone=loaded_backbone(backbone_name),
        items=[(image.sha256, image.file.name) for image in missing],
    )
    kept.update({image.sha256: vector for image, vector in zip(missing, vectors, strict=True)})
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(path, **kept)


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------
def mean_curve(runs: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    """Mean accuracy over the seeds at each number of labels (the runs share the steps)."""
    by_labels: dict[int, list[float]] = defaultdict(list)
    for curve in runs:
        for labels, accuracy in curve:
            by_labels[labels].append(accuracy)
    return [(labels, sum(values) / len(values)) for labels, values in sorted(by_labels.items())]


def labels_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    """The fewest labels after which the mean accuracy stays at or above the target."""
    reached = None
    for labels, accuracy in reversed(curve):
        if accuracy < target - 1e-9:
            break
        reached = labels
    return reached


def labels_first_reaching(curve: list[tuple[int, float]], target: float) -> int | None:
    """The fewest labels at which the mean accuracy first reaches the target."""
    return next((labels for labels, accuracy in curve if accuracy >= target - 1e-9), None)


def report(curves, bulk, arguments, *, keep: bool = True) -> None:
    print()
    print(
        f"Mean test accuracy over {arguments.seeds} seed(s) against labels; start"
        f" {arguments.start}, then {arguments.rounds} rounds of {arguments.batch};"
        f" load average {harness.load_average()}"
    )
    means = {strategy: mean_curve(runs) for strategy, runs in curves.items()}
    steps = sorted({labels for curve in means.values() for labels, _ in curve})
    rows = []
    for strategy, curve in means.items():
        accuracy_at = dict(curve)
        rows.append(
            [strategy]
            + [f"{accuracy_at[s]:.3f}" if s in accuracy_at else "" for s in steps]
            + [
                f"{labels_first_reaching(curve, target) or '-'} / "
                f"{labels_to_reach(curve, target) or '-'}"
                for target in TARGETS
            ]
        )
    headers = ["strategy", *map(str, steps), *(f"labels for {t}" for t in TARGETS)]
    print(harness.table(headers, rows))
    print("(labels for a target: first reached / from then on never below; -: not reached)")

    print(
        f"\nBulk accept at {arguments.threshold:.2f} (accepting every suggestion at or above it"
        " among the pool images not labeled yet), mean over seeds: images one action labels,"
        " how many wrongly"
    )
    rows = []
    for strategy, runs in bulk.items():
        per_step: dict[int, list[dict]] = defaultdict(list)
        for run in runs:
            for entry in run:
                per_step[entry["labels"]].append(entry)
        cells = []
        for labels in steps:
            entries = per_step.get(labels, [])
            accepted = sum(e["accepted"] for e in entries)
            wrong = sum(e["wrong"] for e in entries)
            cells.append(
                f"{accepted / max(len(entries), 1):.0f} ({100 * (1 - wrong / accepted):.1f}%)"
                if accepted
                else "0"
            )
        rows.append([strategy, *cells])
    print(harness.table(["strategy", *map(str, steps)], rows))
    print("(cells: images accepted per action (share right))")

    if keep:
        results_keep(curves, bulk, arguments)
    plot(means, curves, arguments)


def results_keep(curves, bulk, arguments) -> None:
    """Write what is measured so far to var/active-learning/results-seed<first seed>.json
    (`--report-only` prints and plots every such file together)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    kept = {
        "arguments": {key: str(value) for key, value in vars(arguments).items()},
        "curves": curves,
        "bulk": bulk,
    }
    path = RESULTS_DIR / f"results-seed{arguments.first_seed}.json"
    path.write_text(json.dumps(kept, indent=1))


def plot(means, curves, arguments) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    for strategy, curve in means.items():
        labels = [point[0] for point in curve]
        accuracy = [point[1] for point in curve]
        style = "--" if strategy in ("random", "sequential") else "-"
        axes.plot(labels, accuracy, style, marker="o", markersize=3, label=strategy)
    for target in TARGETS:
        axes.axhline(target, color="grey", linewidth=0.6, linestyle=":")
    axes.set_xlabel("labels (pool images labeled by the annotator)")
    axes.set_ylabel(f"test accuracy (mean of {arguments.seeds} seeds)")
    axes.set_title("Coffee or not: accuracy against labels, per queue strategy")
    axes.set_ylim(bottom=max(0.5, min(a for c in means.values() for _, a in c) - 0.02), top=1.0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    arguments.plot.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(arguments.plot)
    print(f"\nplot: {arguments.plot}")


if __name__ == "__main__":
    main()
