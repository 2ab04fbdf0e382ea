"""Retraining cost: embedding + training a head on 300 coffee-or-not photos (150 per class).

    python bench/train_head.py [--weights-dir DIR]

Prints the embedding time (the part an embedding cache removes on a retrain), the training time
with the default hyperparameters (epochs run, best epoch), validation accuracy on the 100
validation photos, and the backbone load time for context.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from tests.support import coffee_or_not


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-dir", default=os.environ.get("CLASSIFIER_WEIGHTS_DIR"))
    args = parser.parse_args()
    weights_dir = args.weights_dir or tempfile.mkdtemp(prefix="weights-")
    photos_root = coffee_or_not.data_dir_or_exit()  # before the slow part: say it at once

    from classifier.ml import evaluate, load_backbone, train_head

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    started = time.perf_counter()
    backbone = load_backbone("efficientnet_lite0", weights_dir=weights_dir)
    backbone.embed([])  # nothing to trace yet; loading is what is timed here
    print(f"backbone load: {time.perf_counter() - started:.1f} s")

    selection = coffee_or_not.select(photos_root)
    splits = {}
    for split in ("train", "validation"):
        items = selection[split]
        data = [path.read_bytes() for path, _ in items]
        started = time.perf_counter()
        embeddings = backbone.embed(data)
        seconds = time.perf_counter() - started
        splits[split] = (embeddings, np.array([label for _, label in items]))
        print(
            f"embedding {len(data)} {split} photos: {seconds:.1f} s "
            f"({len(data) / seconds:.1f} images/s, decode included)"
        )

    (train_x, train_y), (val_x, val_y) = splits["train"], splits["validation"]
    for attempt in ("first (traces the training graph)", "again (same process)"):
        started = time.perf_counter()
        head = train_head(train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=2)
        seconds = time.perf_counter() - started
        accuracy = evaluate(head.predict_proba(val_x), val_y, list(coffee_or_not.CLASS_NAMES))[
            "accuracy"
        ]
        print(
            f"training {attempt}: {seconds:.1f} s, {len(head.history['loss'])} epochs "
            f"(best {head.best_epoch}), validation accuracy {accuracy:.3f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
