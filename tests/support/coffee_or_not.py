"""The real coffee-or-not photos: where they are, the fixed selections the tests and benchmarks
use, and storing them through the real ingest.

The photos live outside the repository (never copied into it). One variable says where:
COFFEE_OR_NOT_DIR (relative to the repository root, or absolute). Unset, they are looked for at
`../shared/data/coffee-or-not` beside the checkout and, when the checkout is a git worktree,
beside the main checkout it belongs to. Missing photos skip the tests that need them with the
reason, and fail them under CI=true (data_dir_or_not_available).

"coffee" holds cups of coffee; "other" holds objects and cats (files named kagglecat_*). The
quality bar's selection (select) is a fixed 150/50/50 split per class where every split of
"other" gets the same share of cats as the whole folder, so no split is all objects or all
cats. Selections depend only on the file names and the seed.

Importable before Django is configured (the bench scripts do): Django is imported only by
photos_store.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tests.support import REPOSITORY

if TYPE_CHECKING:
    from labeling.ingest import IngestReport
    from labeling.models import Image, Project

VARIABLE = "COFFEE_OR_NOT_DIR"
BESIDE_THE_CHECKOUT = Path("..") / "shared" / "data" / "coffee-or-not"
CLASS_NAMES = ("coffee", "other")
SPLITS = ("train", "validation", "test")
PER_CLASS = {"train": 150, "validation": 50, "test": 50}


def _main_checkout(checkout: Path) -> Path | None:
    """The main working tree of `checkout` when it is a linked git worktree (its `.git` is a
    file naming the worktree's folder inside the main repository's .git); else None."""
    marker = checkout / ".git"
    if not marker.is_file():
        return None
    first_line = marker.read_text(errors="replace").splitlines()[:1]
    if not first_line or not first_line[0].startswith("gitdir:"):
        return None
    worktree_git = (checkout / first_line[0].removeprefix("gitdir:").strip()).resolve()
    common = worktree_git / "commondir"  # "../.." from .git/worktrees/<name>
    if not common.is_file():
        return None
    return (worktree_git / common.read_text().strip()).resolve().parent


def candidates() -> list[Path]:
    """Where the photos are looked for, in order."""
    configured = os.environ.get(VARIABLE, "").strip()
    if configured:
        return [(REPOSITORY / Path(configured).expanduser()).resolve()]
    checkouts = [REPOSITORY, _main_checkout(REPOSITORY)]
    return [(checkout / BESIDE_THE_CHECKOUT).resolve() for checkout in checkouts if checkout]


def data_dir() -> Path | None:
    """The folder holding coffee/ and other/, or None when it is not on this machine."""
    for candidate in candidates():
        if (candidate / "coffee").is_dir() and (candidate / "other").is_dir():
            return candidate
    return None


def missing_explanation() -> str:
    """Why data_dir() is None, and how to fix it."""
    looked = ", ".join(str(path) for path in candidates())
    return (
        f"the coffee-or-not photos (coffee/ and other/ folders of JPEGs) are not at {looked}; "
        f"set {VARIABLE} to their folder (absolute, or relative to {REPOSITORY})"
    )


def data_dir_or_not_available(*, what: str = "test") -> Path:
    """data_dir(), or skip the test with the reason (fail it under CI=true)."""
    from tests.support.availability import not_available_here

    found = data_dir()
    if found is None:
        not_available_here(missing_explanation(), what=what)
    return found


def data_dir_or_exit() -> Path:
    """For scripts (bench/): data_dir(), or exit with the explanation."""
    found = data_dir()
    if found is None:
        raise SystemExit(f"Cannot run: {missing_explanation()}.")
    return found


def photos_by_class(root: Path, *, shuffled: bool = False) -> dict[str, list[Path]]:
    """Every photo, {"coffee": [...], "other": [...]}: sorted by name, or shuffled the same way
    every run (cats and objects mixed)."""
    found = {}
    for label in CLASS_NAMES:
        paths = sorted((root / label).glob("*.jpg"))
        if shuffled:
            random.Random(f"coffee-or-not-{label}").shuffle(paths)
        found[label] = paths
    return found


def photos_store(*, project: Project, user, paths: list[Path], **options) -> IngestReport:
    """Store photos through the real ingest (split and label options as image_ingest's)."""
    from contextlib import ExitStack

    from labeling.ingest import IncomingFile, image_ingest

    with ExitStack() as files:
        incoming = [
            IncomingFile(name=p.name, file=files.enter_context(p.open("rb"))) for p in paths
        ]
        return image_ingest(project=project, uploaded_by=user, files=incoming, **options)


def photos_upload(
    project: Project, user, paths: list[Path], *, split: str, label: str | None = None
) -> list[Image]:
    """photos_store with the label given by class name; every photo must be stored."""
    label_class = project.classes.get(name=label) if label else None
    report = photos_store(project=project, user=user, paths=paths, split=split, label=label_class)
    assert not report.rejected, report.rejected
    return report.created


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
    if root is None:
        raise FileNotFoundError(missing_explanation())
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
