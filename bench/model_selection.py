"""Model selection: backbone x test-time augmentation x head over repeated stratified splits.

    python bench/model_selection.py [--splits 10] [--backbones efficientnet_lite0,...]
                                    [--cache-dir var/model-selection] [--weights-dir DIR]

On the coffee-or-not photos, for each backbone (efficientnet_lite0/1/2), with and without
test-time augmentation (the mean of a photo's and its mirror image's embeddings, at training
and at test time), and for each head (today's Keras head, `classifier.ml.train_head`; the
regularised logistic regression, `classifier.ml.fit_logistic_head`, fitted on train with its
regularisation chosen on validation, and the same refitted on train + validation), over
`--splits` random selections of 150/50/50 photos per class
(`tests/support/coffee_or_not.select` with seeds 0, 1, ...; seed 0 is the quality test's
selection):

- test accuracy: mean, standard deviation, minimum over the splits;
- ECE (15 bins) on the test split before and after a temperature fitted on validation;
- head fit time (median per split, on this process's CPU);
- per backbone, in a fresh subprocess that loads only that backbone like a worker does (batch
  cap 16): the RSS after loading it (and tracing), the peak RSS after embedding, the time to
  embed one image (p50 of 30 calls, decode included) and images/s over 128 photos in batches,
  plain and mirror-averaged.

Embeddings (plain and mirrored, per photo) are cached in `--cache-dir`, one .npz per backbone
keyed by the photo files' sha256, so a rerun only embeds photos it has not seen and then
takes a minute or two. The load average is printed before and after.

One file over 400 lines on purpose: a reviewer reruns one script and reads one file to see
how every figure of the model selection table is made.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))
sys.path.insert(0, str(REPOSITORY / "bench"))

import harness  # noqa: E402
import numpy as np  # noqa: E402

from classifier.ml.logistic import DEFAULT_C_GRID  # noqa: E402
from tests.support import coffee_or_not  # noqa: E402

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
BATCH_CAP = 16  # CLASSIFIER_INFERENCE_BATCH_SIZE's default
SINGLE_CALLS = 30
BATCHED_PHOTOS = 128
DEFAULT_CACHE_DIR = REPOSITORY / "var" / "model-selection"
ECE_BINS = 15


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------------------------
# The embedding side: one subprocess per backbone (`--embed NAME`), like a worker
# ----------------------------------------------------------------------------------------------
def cache_path(cache_dir: Path, backbone: str) -> Path:
    return cache_dir / f"{backbone}.npz"


def cache_read(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{sha256: (plain embedding, mirror image's embedding)}."""
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as archive:
        return {
            str(key): (plain, mirrored)
            for key, plain, mirrored in zip(
                archive["sha256"], archive["plain"], archive["mirrored"], strict=True
            )
        }


def cache_write(path: Path, cache: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    keys = sorted(cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        sha256=np.array(keys),
        plain=np.stack([cache[k][0] for k in keys]),
        mirrored=np.stack([cache[k][1] for k in keys]),
    )
    os.replace(tmp, path)


def all_photos() -> list[Path]:
    root = coffee_or_not.data_dir_or_exit()
    files = sorted(root.glob("*/*.jpg"))
    if not files:
        sys.exit(f"no photos under {root} (set COFFEE_OR_NOT_DIR)")
    return files


def embed_worker(name: str, cache_dir: Path, weights_dir: str) -> dict:
    """Load one backbone as a worker does, fill its embedding cache, time it; a JSON-able dict."""
    from classifier.ml import load_backbone
    from classifier.ml.augmentation import mirror, mirror_averaged_embeddings

    files = all_photos()
    started = time.perf_counter()
    backbone = load_backbone(name, weights_dir=weights_dir, max_batch_size=BATCH_CAP)
    first = files[0].read_bytes()
    backbone.embed([first])  # the first call traces the graph, as a worker's warm-up does
    mirror_averaged_embeddings(backbone, [first])
    load_seconds = time.perf_counter() - started
    rss_after_load = harness.process_memory(os.getpid()).rss_mb

    # Single image (decode included), plain and mirror-averaged, alternating.
    batch = [f.read_bytes() for f in files[:: len(files) // BATCHED_PHOTOS][:BATCHED_PHOTOS]]
    single_plain, single_mirror = [], []
    for data in batch[:SINGLE_CALLS]:
        t = time.perf_counter()
        backbone.embed([data])
        single_plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        mirror_averaged_embeddings(backbone, [data])
        single_mirror.append(time.perf_counter() - t)
    t = time.perf_counter()
    backbone.embed(batch)
    batched_plain = time.perf_counter() - t
    t = time.perf_counter()
    mirror_averaged_embeddings(backbone, batch)
    batched_mirror = time.perf_counter() - t
    peak_rss = harness.process_memory(os.getpid()).peak_mb

    # Not part of the figures above: the cache of every photo's embeddings for the study.
    datas = [f.read_bytes() for f in files]
    path = cache_path(cache_dir, name)
    cache = cache_read(path)
    missing = [(sha256(d), d) for d in datas if sha256(d) not in cache]
    embed_started = time.perf_counter()
    for start in range(0, len(missing), 64):
        chunk = missing[start : start + 64]
        pixels = backbone.decode([d for _, d in chunk])
        plain = backbone.embed_pixels(pixels)
        mirrored = backbone.embed_pixels(mirror(pixels))
        for (key, _), p, m in zip(chunk, plain, mirrored, strict=True):
            cache[key] = (p, m)
    if missing:
        cache_write(path, cache)
    return {
        "backbone": name,
        "input_size": backbone.input_size,
        "load_seconds": load_seconds,
        "rss_after_load_mb": rss_after_load,
        "peak_rss_mb": peak_rss,
        "single_plain_ms": 1000 * statistics.median(single_plain),
        "single_mirror_ms": 1000 * statistics.median(single_mirror),
        "batched_plain_per_s": len(batch) / batched_plain,
        "batched_mirror_per_s": len(batch) / batched_mirror,
        "embedded_now": len(missing),
        "embedding_seconds": time.perf_counter() - embed_started,
    }


def embed_in_subprocess(name: str, cache_dir: Path, weights_dir: str) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--embed",
            name,
            "--cache-dir",
            str(cache_dir),
            "--weights-dir",
            weights_dir,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"embedding with {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# The head side: splits, fits, metrics (this process)
# ----------------------------------------------------------------------------------------------
HEADS = ("keras", "logistic", "logistic+refit")
MODES = ("plain", "mirror")


def split_embeddings(cache, selection, mode: str, shas: dict[Path, str]):
    """{split: (x, y)} for one selection, plain or mirror-averaged embeddings."""
    out: dict[str, Any] = {}
    for split, items in selection.items():
        rows = []
        for path, _ in items:
            plain, mirrored = cache[shas[path]]
            rows.append(plain if mode == "plain" else (plain + mirrored) / 2)
        out[split] = (np.stack(rows), np.array([label for _, label in items]))
        out[f"{split}_names"] = [f"{path.parent.name}/{path.name}" for path, _ in items]
    return out


def fit_and_score(head_kind: str, data, c_grid: tuple[float, ...]) -> dict:
    """Fit one head on train (+ validation), calibrate on validation, score on test."""
    from classifier.ml import train_head
    from classifier.ml.calibration import expected_calibration_error, fit_temperature, softmax
    from classifier.ml.logistic import logits, train_logistic_head

    (train_x, train_y), (val_x, val_y) = data["train"], data["validation"]
    test_x, test_y = data["test"]
    started = time.perf_counter()
    c = None
    if head_kind == "keras":
        head = train_head(train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=2)
        temperature = fit_temperature(logits(head, val_x), val_y)
    else:
        fit = train_logistic_head(
            train_x=train_x,
            train_y=train_y,
            val_x=val_x,
            val_y=val_y,
            num_classes=2,
            c_grid=c_grid,
            refit=head_kind == "logistic+refit",
        )
        head, temperature, c = fit.head, fit.temperature, fit.c
    seconds = time.perf_counter() - started
    test_logits = logits(head, test_x)
    raw, calibrated = softmax(test_logits), softmax(test_logits, temperature)
    wrong = np.flatnonzero(raw.argmax(axis=1) != test_y)
    return {
        "wrong": [data["test_names"][i] for i in wrong],
        "accuracy": float((raw.argmax(axis=1) == test_y).mean()),
        "ece_before": expected_calibration_error(raw, test_y, bins=ECE_BINS),
        "ece_after": expected_calibration_error(calibrated, test_y, bins=ECE_BINS),
        "temperature": temperature,
        "fit_seconds": seconds,
        "c": c,
    }


def out_of_fold_seconds(cache) -> tuple[int, float]:
    """Median time of 5-fold out-of-fold probabilities over every cached photo (5 runs)."""
    from classifier.ml.logistic import out_of_fold_proba

    files = all_photos()
    by_sha = {sha256(f.read_bytes()): f.parent.name for f in files}
    keys = sorted(k for k in by_sha if k in cache)
    x = np.stack([cache[k][0] for k in keys])
    y = np.array([coffee_or_not.CLASS_NAMES.index(by_sha[k]) for k in keys])
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        out_of_fold_proba(x, y, num_classes=2, folds=5)
        runs.append(time.perf_counter() - started)
    return len(keys), statistics.median(runs)


def paired_print(results: dict, better: tuple, base: tuple, what: str) -> None:
    """One line: how much `better` beats `base` on the same splits (skipped if either is
    missing). Paired, because most of the spread between splits is which photos are in test."""
    if better not in results or base not in results:
        return
    a = np.array([r["accuracy"] for r in results[better]])
    b = np.array([r["accuracy"] for r in results[base]])
    diff = a - b
    error = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    print(
        f"  {what}: {' '.join(better)} minus {' '.join(base)}: {diff.mean():+.4f} +- {error:.4f}"
        f" (better in {(diff > 0).sum()}, worse in {(diff < 0).sum()} of {len(diff)})"
    )


def summarise(results: list[dict]) -> dict:
    accuracy = np.array([r["accuracy"] for r in results])
    cs = [r["c"] for r in results if r["c"] is not None]
    return {
        "accuracy_mean": float(accuracy.mean()),
        "accuracy_std": float(accuracy.std(ddof=1)) if len(accuracy) > 1 else 0.0,
        "accuracy_min": float(accuracy.min()),
        "ece_before": float(np.mean([r["ece_before"] for r in results])),
        "ece_after": float(np.mean([r["ece_after"] for r in results])),
        "temperature_median": float(np.median([r["temperature"] for r in results])),
        "fit_ms_median": 1000 * float(np.median([r["fit_seconds"] for r in results])),
        "c_chosen": {str(c): cs.count(c) for c in sorted(set(cs))},
        "accuracies": [float(a) for a in accuracy],
        "wrong": [r["wrong"] for r in results],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=int, default=20, help="random selections (20)")
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    parser.add_argument("--heads", default=",".join(HEADS))
    parser.add_argument(
        "--c-grid",
        default=",".join(str(c) for c in DEFAULT_C_GRID),
        help="the C values the logistic head chooses from on validation",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--weights-dir", default=os.environ.get("CLASSIFIER_WEIGHTS_DIR"))
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--embed", help=argparse.SUPPRESS)  # the subprocess's mode
    args = parser.parse_args()
    weights_dir = args.weights_dir or str(REPOSITORY / "var" / "weights")
    if args.embed:
        print(json.dumps(embed_worker(args.embed, args.cache_dir, weights_dir)))
        return

    backbones = args.backbones.split(",")
    heads = args.heads.split(",")
    c_grid = tuple(float(c) for c in args.c_grid.split(","))
    load_before = harness.load_average()
    print(f"load average {load_before}; {args.splits} splits of 150/50/50 photos per class")
    workers = {}
    for name in backbones:
        workers[name] = embed_in_subprocess(name, args.cache_dir, weights_dir)
        w = workers[name]
        print(
            f"{name}: RSS after load {w['rss_after_load_mb']:.0f} MB, peak "
            f"{w['peak_rss_mb']:.0f} MB; {w['embedded_now']} photos embedded now "
            f"({w['embedding_seconds']:.0f} s); load average {harness.load_average()}",
            flush=True,
        )

    paths = all_photos()
    shas = {path: sha256(path.read_bytes()) for path in paths}
    selections = [coffee_or_not.select(seed=seed) for seed in range(args.splits)]
    results: dict[tuple[str, str, str], list[dict]] = {}
    for name in backbones:
        cache = cache_read(cache_path(args.cache_dir, name))
        for mode in MODES:
            for selection in selections:
                data = split_embeddings(cache, selection, mode, shas)
                for head_kind in heads:
                    results.setdefault((name, mode, head_kind), []).append(
                        fit_and_score(head_kind, data, c_grid)
                    )
            print(f"{name} {mode}: done; load average {harness.load_average()}", flush=True)
    oof_rows, oof_seconds = out_of_fold_seconds(
        cache_read(cache_path(args.cache_dir, backbones[0]))
    )
    load_after = harness.load_average()

    summary = {key: summarise(value) for key, value in results.items()}
    rows = []
    for (name, mode, head_kind), s in summary.items():
        rows.append(
            [
                name.replace("efficientnet_", ""),
                "on" if mode == "mirror" else "off",
                head_kind,
                f"{s['accuracy_mean']:.4f}",
                f"{s['accuracy_std']:.4f}",
                f"{s['accuracy_min']:.2f}",
                f"{s['ece_before']:.3f}",
                f"{s['ece_after']:.3f}",
                f"{s['temperature_median']:.2f}",
                f"{s['fit_ms_median']:.0f}",
            ]
        )
    print()
    print(
        harness.table(
            [
                "backbone",
                "TTA",
                "head",
                "acc mean",
                "acc std",
                "acc min",
                "ECE before",
                "ECE after T",
                "T (median)",
                "fit ms (median)",
            ],
            rows,
        )
    )
    print()
    print(
        harness.table(
            [
                "backbone",
                "input",
                "load s",
                "RSS after load MB",
                "peak RSS MB",
                "1 image ms (TTA)",
                "batched images/s (TTA)",
            ],
            [
                [
                    name.replace("efficientnet_", ""),
                    w["input_size"],
                    f"{w['load_seconds']:.1f}",
                    f"{w['rss_after_load_mb']:.0f}",
                    f"{w['peak_rss_mb']:.0f}",
                    f"{w['single_plain_ms']:.0f} ({w['single_mirror_ms']:.0f})",
                    f"{w['batched_plain_per_s']:.1f} ({w['batched_mirror_per_s']:.1f})",
                ]
                for name, w in workers.items()
            ],
        )
    )
    print()
    print("paired differences of test accuracy over the same splits (mean +- standard error):")
    for name in backbones:
        for head_kind in heads:
            paired_print(results, (name, "mirror", head_kind), (name, "plain", head_kind), "TTA")
        for mode in MODES:
            paired_print(results, (name, mode, "logistic"), (name, mode, "keras"), "vs keras")
            paired_print(results, (name, mode, "logistic+refit"), (name, mode, "logistic"), "refit")
    for name in backbones[1:]:
        for mode in MODES:
            paired_print(
                results, (name, mode, "logistic"), (backbones[0], mode, "logistic"), "backbone"
            )
    print()
    for name in backbones:
        for mode in MODES:
            found = summary.get((name, mode, "logistic"))
            if found:
                print(f"C chosen on validation, {name} {mode}: {found['c_chosen']}")
    print()
    for name in backbones:
        wrong = [w for r in results.get((name, "plain", "logistic"), []) for w in r["wrong"]]
        if wrong:
            counts = ", ".join(f"{photo} {n}x" for photo, n in Counter(wrong).most_common(6))
            print(f"most often wrong in test, {name} plain logistic: {counts}")
    print(
        f"out-of-fold probabilities, 5 folds over {oof_rows} embeddings ({backbones[0]}): "
        f"{1000 * oof_seconds:.0f} ms (median of 5)"
    )
    print(f"load average {load_before} before, {load_after} after")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "splits": args.splits,
                    "load_before": load_before,
                    "load_after": load_after,
                    "workers": workers,
                    "summary": {" ".join(key): value for key, value in summary.items()},
                    "out_of_fold": {"rows": oof_rows, "seconds": oof_seconds},
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
