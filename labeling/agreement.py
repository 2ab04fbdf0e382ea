"""Inter-annotator agreement: plain functions over labels, no database.

- percent agreement: over images with two or more labels, the share of annotator pairs on
  the image that gave the same class, averaged over the images (observed agreement).
- Cohen's kappa for two annotators on the images both labeled: (p_o - p_e) / (1 - p_e), with
  p_e from each annotator's own class frequencies. Written out here (a few lines over numpy)
  rather than imported from scikit-learn, whose import costs the web process 1.5 s and
  100 MB; the tests check it against scikit-learn's cohen_kappa_score and a hand computation.
- Krippendorff's alpha (nominal) across all annotators, from the `krippendorff` package
  (numpy only): unlike Fleiss' kappa it allows a different number of labels per image and
  any annotator missing any image, which is how labeling here works.

Kappa and alpha correct for chance: on skewed classes (95 % "other") two annotators who
agree on 95 % of images may have a kappa near 0, because always answering "other" would
agree as often. Pages show both figures and say so.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np

# Labels of one image: {annotator: class}.
ImageLabels = Mapping[Hashable, Hashable]


@dataclass(frozen=True)
class PairAgreement:
    annotators: tuple[Hashable, Hashable]
    images: int
    percent_agreement: float
    cohen_kappa: float | None


@dataclass(frozen=True)
class Agreement:
    images: int  # images with at least two labels: what every figure rests on
    percent_agreement: float | None
    krippendorff_alpha: float | None
    pairs: list[PairAgreement]


def percent_agreement(images: Sequence[ImageLabels]) -> float | None:
    """Mean, over images with two or more labels, of the share of agreeing annotator pairs."""
    shares = []
    for labels in images:
        values = list(labels.values())
        if len(values) < 2:
            continue
        pairs = list(itertools.combinations(values, 2))
        shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return float(np.mean(shares)) if shares else None


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two annotators' labels on the same images (in the same order).

    None when it is undefined: no images, or chance agreement of 1 (both always gave the same
    single class), where it would divide by zero.
    """
    if len(first) != len(second):
        raise ValueError("Both annotators' labels must be of the same images.")
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    first_counts, second_counts = Counter(first), Counter(second)
    expected = sum(first_counts[c] * second_counts[c] for c in first_counts) / (n * n)
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(images: Sequence[ImageLabels]) -> float | None:
    """Krippendorff's alpha, nominal, over every image's labels; None when undefined (fewer
    than two labels anywhere, or a single class used throughout)."""
    classes = sorted({c for labels in images for c in labels.values()}, key=repr)
    if len(classes) < 2:
        return None
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(images), len(classes)))
    for row, labels in enumerate(images):
        for label in labels.values():
            counts[row, index[label]] += 1
    counts = counts[counts.sum(axis=1) >= 2]
    if not len(counts):
        return None
    try:
        alpha = krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    except (ValueError, ZeroDivisionError):
        return None
    return None if np.isnan(alpha) else float(alpha)


def agreement(images: Sequence[ImageLabels], *, min_shared_images: int) -> Agreement:
    """Every figure over these images' labels; pairs of annotators who share at least
    `min_shared_images` images get a Cohen's kappa."""
    multiple = [labels for labels in images if len(labels) >= 2]
    shared: dict[tuple[Hashable, Hashable], tuple[list, list]] = {}
    for labels in multiple:
        for a, b in itertools.combinations(sorted(labels, key=repr), 2):
            first, second = shared.setdefault((a, b), ([], []))
            first.append(labels[a])
            second.append(labels[b])
    pairs = [
        PairAgreement(
            annotators=pair,
            images=len(first),
            percent_agreement=sum(x == y for x, y in zip(first, second, strict=True)) / len(first),
            cohen_kappa=cohen_kappa(first, second),
        )
        for pair, (first, second) in sorted(shared.items(), key=lambda item: repr(item[0]))
        if len(first) >= min_shared_images
    ]
    return Agreement(
        images=len(multiple),
        percent_agreement=percent_agreement(multiple),
        krippendorff_alpha=krippendorff_alpha(multiple),
        pairs=pairs,
    )
