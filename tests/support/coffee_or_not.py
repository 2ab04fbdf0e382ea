"""The coffee-or-not photos as the quality bar uses them: a fixed 150/50/50 split per class.

The photos live outside the repository (never copied into it): COFFEE_OR_NOT_DIR, or
`../shared/data/coffee-or-not` next to the checkout. "coffee" holds cups of coffee; "other" holds
objects and cats (files named kagglecat_*), and every split of "other" gets the same share of
cats as the whole folder, so no split is all objects or all cats. The selection depends only on
the file names and the seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CLASS_NAMES = ("coffee", "other")
SPLITS = ("train", "validation", "test")
PER_CLASS = {"train": 150, "validation": 50, "test": 50}


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "coffee-or-not"
    return Path(os.environ.get("COFFEE_OR_NOT_DIR", default))


def _take(files: list[Path], counts: list[int], rng: np.random.Generator) -> list[list[Path]]:
    if sum(counts) > len(files):
        raise ValueError(f"need {sum(counts)} photos, found {len(files)}")
    shuffled = [files[i] for i in rng.permutation(len(files))]
    out, start = [], 0
    for count in counts:
        out.append(shuffled[start : start + count])
        start += count
    return out


def select(root: Path | None = None, *, seed: int = 0) -> dict[str, list[tuple[Path, int]]]:
    """{split: [(photo path, class index)]}, class index into CLASS_NAMES."""
    root = root or data_dir()
    rng = np.random.default_rng(seed)
    counts = [PER_CLASS[s] for s in SPLITS]
    coffee = sorted((root / "coffee").glob("*.jpg"))
    other = sorted((root / "other").glob("*.jpg"))
    cats = [p for p in other if p.name.startswith("kagglecat_")]
    objects = [p for p in other if not p.name.startswith("kagglecat_")]
    cat_share = len(cats) / len(other)
    cat_counts = [round(n * cat_share) for n in counts]
    per_split = {
        0: _take(coffee, counts, rng),
        1: [
            c + o
            for c, o in zip(
                _take(cats, cat_counts, rng),
                _take(objects, [n - c for n, c in zip(counts, cat_counts, strict=True)], rng),
                strict=True,
            )
        ],
    }
    return {
        split: sorted(
            ((path, label) for label, parts in per_split.items() for path in parts[i]),
            key=lambda item: (item[1], item[0].name),
        )
        for i, split in enumerate(SPLITS)
    }
