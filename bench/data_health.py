"""Data health measured on planted faults in the coffee-or-not photos, and its cost at scale.

    python bench/data_health.py [--data DIR] [--flip 0.05] [--copies 40] [--seed 0]
                                [--scale 10000,100000] [--keep]

1. A project holding every coffee-or-not photo (822), ingested through image_ingest with
   splits chosen by the platform and labeled by their folder. Then the planted faults (seeded):
   - 5% of the labels flipped (the owner's annotation replaced by the other class);
   - for 40 photos, three copies, each put in a split other than its original's: the mirror
     image, a 90% centre crop, and a half-size re-encode at JPEG quality 60.
2. The health check, as the worker runs it (classifier.worker.health.health_check_execute, in
   this process with the real efficientnet_lite0 backbone): once cold (every image embedded),
   once warm (embeddings cached, as after a training run). Printed: the time of each step.
3. Precision and recall of
   - the suspected label errors against the flipped labels: the whole list (the default
     threshold of confident learning) and its top k, k = the number flipped;
   - near-duplicate pairs against the planted ones (each photo with its three copies, and the
     copies with each other: 6 pairs per photo), at the default similarity and over a sweep;
     the false pairs among the real photos are listed by name;
   - split leaks: planted photos whose group is a leak, and leaks that are not planted.
   Then "fix leaks" (classifier.services.split_leaks_fix) and a new check: leaks left.
4. The measures of the low-quality check over the real photos (how many are flagged).
5. The cost at 10,000 and 100,000 images with synthetic embeddings (1280 floats, the real
   dimension): all-pairs cosine similarity, and out-of-fold probabilities (5 logistic fits).

Nothing is copied into the repository: the photos are read from `--data` (COFFEE_OR_NOT_DIR, or
../shared/data/coffee-or-not beside the checkout) into a throwaway project (bench/harness.py).
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import harness
import numpy as np

SPLITS = ("train", "validation", "test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument("--flip", type=float, default=0.05, help="share of labels flipped")
    parser.add_argument("--copies", type=int, default=40, help="photos given three copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scale", default="10000,100000", help="image counts for the cost (comma-separated)"
    )
    parser.add_argument("--skip-photos", action="store_true", help="only the cost at scale")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    arguments = parser.parse_args()

    if not arguments.skip_photos:
        with harness.Stack(workers=(), web=False, keep=arguments.keep) as stack:
            planted_faults(stack, arguments)
    for count in [int(n) for n in arguments.scale.split(",") if n]:
        cost_at_scale(count, seed=arguments.seed)


# ----------------------------------------------------------------------------------------------
# Planted faults
# ----------------------------------------------------------------------------------------------


def read_photos(data_dir: Path | None) -> list[harness.Photo]:
    from tests.support import coffee_or_not

    data_dir = data_dir or coffee_or_not.data_dir_or_exit()
    found = []
    for folder in sorted(path for path in data_dir.iterdir() if path.is_dir()):
        for path in sorted(folder.iterdir()):
            if path.is_file():
                found.append(
                    harness.Photo(name=path.name, label=folder.name, data=path.read_bytes())
                )
    return found


def copies_of(data: bytes) -> dict[str, bytes]:
    """The three planted copies of a photo: mirrored, 90% centre crop, half size at q60."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
    width, height = picture.size

    def jpeg(image, quality=90) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()

    crop_w, crop_h = round(width * 0.9), round(height * 0.9)
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return {
        "mirror": jpeg(ImageOps.mirror(picture)),
        "crop": jpeg(picture.crop((left, top, left + crop_w, top + crop_h))),
        "half": jpeg(picture.resize((width // 2, height // 2), Image.Resampling.LANCZOS), 60),
    }


def planted_faults(stack: harness.Stack, arguments) -> None:
    from django.conf import settings

    from classifier import selectors, services
    from classifier.ml.data_health import near_duplicate_pairs
    from classifier.models import Embedding, HealthCheck
    from classifier.worker.health import health_check_execute
    from labeling.ingest import IncomingFile, image_ingest
    from labeling.models import Image
    from labeling.services import annotations_create_bulk, project_create

    rng = random.Random(arguments.seed)
    owner = stack.owner()
    photos = read_photos(arguments.data)
    project = project_create(name="Data health", created_by=owner, classes=["coffee", "other"])
    classes = {c.name: c for c in project.classes.all()}

    started = time.monotonic()
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=(IncomingFile(name=p.name, file=io.BytesIO(p.data)) for p in photos),
    )
    label_of = {p.name: p.label for p in photos}
    originals = {image.original_name: image for image in report.created}
    for name, label_class in classes.items():
        annotations_create_bulk(
            image_ids=[i.pk for i in report.created if label_of[i.original_name] == name],
            user=owner,
            label_class=label_class,
        )
    print(
        f"{len(photos)} photos, {len(report.created)} stored ({len(photos) - len(report.created)} "
        f"refused as exact duplicates or invalid), in {time.monotonic() - started:.1f} s"
    )

    # Near-duplicates: three copies of each chosen photo, each in a split other than its
    # original's (taken in turn), labeled as the original truly is.
    chosen = rng.sample(sorted(originals), arguments.copies)
    families: dict[int, list[int]] = {}
    for name in chosen:
        original = originals[name]
        other_splits = [s for s in SPLITS if s != original.split]
        photo_data = next(p.data for p in photos if p.name == name)
        members = [original.pk]
        for index, (kind, data) in enumerate(copies_of(photo_data).items()):
            copy_report = image_ingest(
                project=project,
                uploaded_by=owner,
                files=[IncomingFile(name=f"{kind}-{name}.jpg", file=io.BytesIO(data))],
                split=other_splits[index % 2],
                label=classes[label_of[name]],
            )
            members += [image.pk for image in copy_report.created]
        families[original.pk] = members
    planted_copies = sum(len(m) - 1 for m in families.values())
    print(f"planted {planted_copies} copies of {len(families)} photos, in other splits")

    # Flipped labels, among the original photos.
    flipped = rng.sample(
        sorted(image.pk for image in report.created), round(arguments.flip * len(report.created))
    )
    for image in Image.objects.filter(pk__in=flipped):
        wrong = classes["other" if label_of[image.original_name] == "coffee" else "coffee"]
        annotations_create_bulk(image_ids=[image.pk], user=owner, label_class=wrong)
    print(f"flipped {len(flipped)} labels ({arguments.flip:.0%} of the photos)")
    total = Image.objects.filter(project=project).count()
    print(f"project: {total} images; load {harness.load_average()}")

    def run_check(what: str) -> HealthCheck:
        check, _ = services.health_check_start(project=project, requested_by=owner)
        began = time.monotonic()
        health_check_execute(check_id=check.pk, worker="bench")
        elapsed = time.monotonic() - began
        check.refresh_from_db()
        if check.status != "succeeded":
            raise RuntimeError(f"health check {check.status}: {check.error}")
        steps = ", ".join(f"{k} {v}" for k, v in check.timings.items())
        print(f"health check, {what}: {elapsed:.2f} s ({steps}); load {harness.load_average()}")
        return check

    print()
    run_check("cold (embeds every image)")
    check = run_check("warm (embeddings cached)")
    print(f"found: {check.counts}")

    # Label errors.
    suspects = [i.image_id for i in selectors.data_issues_of(project=project, kind="label_error")]
    flipped_set = set(flipped)
    print()
    print("Suspected label errors against the flipped labels")
    rows = []
    for what, listed in (
        ("default threshold", suspects),
        (f"top k={len(flipped)}", suspects[: len(flipped)]),
    ):
        hits = len(set(listed) & flipped_set)
        rows.append((what, len(listed), hits, ratio(hits, len(listed)), ratio(hits, len(flipped))))
    print(harness.table(("list", "listed", "flipped in it", "precision", "recall"), rows))

    # Near-duplicates: the check's pairs against the planted families.
    truth = {
        tuple(sorted(pair)) for members in families.values() for pair in combinations(members, 2)
    }
    planted_ids = {pk for members in families.values() for pk in members}
    family_of = {pk: original for original, members in families.items() for pk in members}
    found_pairs = {}
    group_of = {}
    for number, group in enumerate(
        selectors.data_issues_of(project=project, kind="near_duplicate")
    ):
        group_of.update(dict.fromkeys(group.image_ids, number))
        for i, j, similarity in group.detail["pairs"]:
            found_pairs[tuple(sorted((i, j)))] = similarity
    true_found = [p for p in found_pairs if p in truth]
    copies_grouped = sum(
        1 for original, members in families.items() for copy in members[1:]
        if original in group_of and group_of.get(copy) == group_of[original]
    )  # fmt: skip
    print()
    print("Near-duplicates found by the check (embedding similarity and perceptual hash)")
    print(harness.table(
        ("planted copies", "in their original's group", "copy recall", "pairs found",
         "pairs within a family", "pair precision", "planted pairs found (of 6 per photo)"),
        [(planted_copies, copies_grouped, ratio(copies_grouped, planted_copies), len(found_pairs),
          len(true_found), ratio(len(true_found), len(found_pairs)),
          f"{len(true_found)}/{len(truth)}")],
    ))  # fmt: skip
    names = dict(Image.objects.filter(project=project).values_list("pk", "original_name"))
    for (i, j), similarity in sorted(found_pairs.items()):
        if (i, j) not in truth:
            print(
                f"  pair outside the planted families: {names[i]} ~ {names[j]} "
                f"(similarity {similarity:.3f})"
            )
    del family_of

    # The sweep, from the cached embeddings (the check's own input).
    ids = list(Image.objects.filter(project=project).order_by("pk").values_list("pk", "sha256"))
    vectors = dict(
        Embedding.objects.filter(backbone=settings.CLASSIFIER_BACKBONE).values_list(
            "sha256", "vector"
        )
    )
    x = np.stack([np.frombuffer(bytes(vectors[sha]), dtype="<f4") for _, sha in ids])
    all_pairs = {
        tuple(sorted((ids[i][0], ids[j][0]))): s
        for i, j, s in near_duplicate_pairs(x, threshold=0.8)
    }
    truth_similarity = sorted(all_pairs.get(pair, 0.0) for pair in truth)
    print(
        f"planted pairs' similarity: min {truth_similarity[0]:.3f}, 5th percentile "
        f"{np.percentile(truth_similarity, 5):.3f}, median {np.median(truth_similarity):.3f}"
    )
    by_kind = defaultdict(list)
    names = dict(Image.objects.filter(project=project).values_list("pk", "original_name"))
    for members in families.values():
        for copy in members[1:]:
            kind = names[copy].split("-", 1)[0]
            by_kind[kind].append(all_pairs.get(tuple(sorted((members[0], copy))), 0.0))
    print(
        "  original vs copy, min / median: "
        + ", ".join(
            f"{kind} {min(v):.3f} / {np.median(v):.3f}" for kind, v in sorted(by_kind.items())
        )
    )
    real_pairs = sorted(
        ((s, pair) for pair, s in all_pairs.items() if not (set(pair) & planted_ids)), reverse=True
    )
    print(
        "closest pairs of real photos (none planted): "
        + ", ".join(f"{s:.3f}" for s, _ in real_pairs[:8])
    )
    sweep = []
    for threshold in (0.85, 0.88, 0.90, 0.92, 0.94, 0.96):  # similarity alone
        found = {pair for pair, s in all_pairs.items() if s >= threshold}
        hits = len(found & truth)
        false_real = sum(1 for pair in found if not (set(pair) & planted_ids))
        sweep.append(
            (threshold, len(found), ratio(hits, len(found)), ratio(hits, len(truth)), false_real)
        )
    print(
        harness.table(
            ("similarity", "pairs", "precision", "recall", "false pairs of real photos"), sweep
        )
    )

    # Leaks.
    leaks = list(selectors.data_issues_of(project=project, kind="split_leak"))
    leaked_families = sum(
        1 for members in families.values()
        if any(set(members) <= set(leak.image_ids) for leak in leaks)
    )  # fmt: skip
    planted_leaks = sum(1 for leak in leaks if set(leak.image_ids) & planted_ids)
    print()
    print(
        f"Split leaks: {len(leaks)} found; planted photos whose whole family is in one leak: "
        f"{leaked_families}/{len(families)} (recall {ratio(leaked_families, len(families))}); "
        f"leaks holding a planted photo {planted_leaks}/{len(leaks)} (precision "
        f"{ratio(planted_leaks, len(leaks))})"
    )
    moved = services.split_leaks_fix(project=project)
    print(
        f"fix leaks: {moved} images moved; leaks now by the last check's groups: "
        f"{selectors.split_leak_count(project=project)}"
    )
    check = run_check("after fixing leaks")
    print(f"split leaks found by a new check: {check.counts['split_leak']}")

    # Low quality.
    from classifier.models import DataIssue

    low = list(DataIssue.objects.filter(project=project, kind="low_quality"))
    print()
    print(f"Low-quality pictures among {len(ids)}: {len(low)}")
    for issue in low[:10]:
        print(
            f"  {names[issue.image_ids[0]]}: {', '.join(issue.detail['problems'])} "
            f"(luminance std {issue.detail['luminance_std']}, "
            f"laplacian variance {issue.detail['laplacian_variance']})"
        )
    quality_spread(project)


def quality_spread(project) -> None:
    """The measures over the project's thumbnails: where the real photos sit."""
    from PIL import Image as PILImage

    from classifier.ml.data_health import quality_measures
    from classifier.worker.embeddings import stored_file_read
    from labeling.models import Image

    measures = []
    for thumbnail, width, height in Image.objects.filter(project=project).values_list(
        "thumbnail", "width", "height"
    ):
        with PILImage.open(io.BytesIO(stored_file_read(thumbnail))) as picture:
            measures.append(quality_measures(picture, width=width, height=height))
    for key in ("luminance_std", "laplacian_variance"):
        values = [m[key] for m in measures]
        print(
            f"  {key}: min {min(values):.1f}, 1st percentile {np.percentile(values, 1):.1f}, "
            f"median {np.median(values):.1f}"
        )
    print(f"  smallest side: {min(min(m['width'], m['height']) for m in measures)} px")


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


# ----------------------------------------------------------------------------------------------
# Cost at scale
# ----------------------------------------------------------------------------------------------


def cost_at_scale(count: int, *, seed: int, dim: int = 1280, classes: int = 2) -> None:
    """The near-duplicate search and the out-of-fold fits on `count` synthetic images.

    Embeddings: class centres plus noise, 1% of rows near-copies of another; hashes: random
    64-bit values. Past 20,000 rows, the all-pairs similarity (n^2) and the fits (n) are
    timed on 20,000 rows and scaled; the hash comparison runs on all of them.
    """
    import resource

    from classifier.ml.data_health import hash_distances, label_issues, near_duplicate_pairs
    from classifier.ml.logistic import out_of_fold_proba

    rng = np.random.default_rng(seed)
    measured = min(count, 20_000)
    centres = rng.normal(size=(classes, dim)).astype(np.float32)
    labels = rng.integers(0, classes, size=measured)
    x = centres[labels] + rng.normal(scale=2.0, size=(measured, dim)).astype(np.float32)
    copies = rng.choice(measured, size=measured // 100, replace=False)
    x[copies] = x[(copies + 1) % measured] + rng.normal(scale=0.05, size=(len(copies), dim))
    x = x.astype(np.float32)
    scale = f" (timed on {measured:,} rows, scaled)" if measured < count else ""

    print()
    print(f"Cost at {count:,} images ({dim} floats each, synthetic); load {harness.load_average()}")
    began = time.monotonic()
    near_duplicate_pairs(x, threshold=0.88)
    pairs_s = (time.monotonic() - began) * (count / measured) ** 2
    print(f"  all-pairs cosine similarity: {pairs_s:.0f} s{scale}")
    hashes = rng.integers(0, 2**63, size=count, dtype=np.int64).astype(np.uint64)
    began = time.monotonic()
    hash_distances(hashes, hashes ^ np.uint64(0xFFFF), max_distance=16)
    print(f"  all-pairs perceptual-hash distance: {time.monotonic() - began:.0f} s")
    began = time.monotonic()
    probabilities = out_of_fold_proba(x, labels, num_classes=classes, c=0.3)
    label_issues(probabilities, labels)
    oof_s = (time.monotonic() - began) * count / measured
    print(f"  out-of-fold probabilities (5 fits) + confident learning: {oof_s:.0f} s{scale}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory of this process so far: {peak:.0f} MB; load {harness.load_average()}")


if __name__ == "__main__":
    main()
