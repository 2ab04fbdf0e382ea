"""The agreement figures against hand computations (and scikit-learn's kappa, which the web
process does not import), including skewed classes where kappa is low and agreement high."""

import pytest
from sklearn.metrics import cohen_kappa_score

from labeling.agreement import agreement, cohen_kappa, krippendorff_alpha, percent_agreement


def test_cohen_kappa_by_hand():
    # 10 images: both say A on 4, both B on 3, first A second B on 2, first B second A on 1.
    first = ["A"] * 4 + ["B"] * 3 + ["A"] * 2 + ["B"]
    second = ["A"] * 4 + ["B"] * 3 + ["B"] * 2 + ["A"]
    # p_o = 7/10; first: A 6, B 4; second: A 5, B 5; p_e = (6*5 + 4*5) / 100 = 0.5
    assert cohen_kappa(first, second) == pytest.approx((0.7 - 0.5) / (1 - 0.5))
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))


def test_on_skewed_classes_kappa_is_low_while_agreement_is_high():
    # 20 images, both annotators say "other" on 18; each says "coffee" once, never together.
    first = ["other"] * 18 + ["coffee", "other"]
    second = ["other"] * 18 + ["other", "coffee"]
    # p_o = 18/20 = 0.9; each: coffee 1, other 19; p_e = (1 + 361) / 400 = 0.905
    kappa = cohen_kappa(first, second)
    assert kappa == pytest.approx((0.9 - 0.905) / (1 - 0.905))
    assert kappa == pytest.approx(cohen_kappa_score(first, second))
    assert kappa < 0
    figures = agreement(
        [{"ann": a, "bob": b} for a, b in zip(first, second, strict=True)], min_shared_images=5
    )
    assert figures.percent_agreement == pytest.approx(0.9)
    assert figures.pairs[0].cohen_kappa == pytest.approx(kappa)


def test_kappa_is_undefined_when_both_always_give_one_class():
    assert cohen_kappa(["A"] * 5, ["A"] * 5) is None


def test_percent_agreement_averages_the_agreeing_pairs_of_each_image():
    images = [
        {"a": 1, "b": 1, "c": 1},  # 3 of 3 pairs agree
        {"a": 1, "b": 1, "c": 2},  # 1 of 3
        {"a": 2, "b": 1},  # 0 of 1
        {"a": 1},  # one label: left out
    ]
    assert percent_agreement(images) == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_krippendorff_alpha_by_hand():
    # Two coders, four units: (A,A) (B,B) (A,B) (B,B); n = 8 pairable values, A 3, B 5.
    # Coincidences: o_AA = 2, o_BB = 4, o_AB = o_BA = 1, so D_o = 2/8; D_e = 2*3*5 / (8*7).
    # alpha = 1 - D_o / D_e = 1 - (2/8) / (30/56) = 1 - 56/120.
    pairs = [("A", "A"), ("B", "B"), ("A", "B"), ("B", "B")]
    images = [{"x": x, "y": y} for x, y in pairs]
    assert krippendorff_alpha(images) == pytest.approx(1 - 56 / 120)


def test_pairs_need_enough_shared_images_and_say_how_many_they_rest_on():
    images = [{"ann": "A", "bob": "A"}] * 3 + [{"ann": "B", "bob": "A"}] * 2
    images += [{"ann": "A", "cy": "A"}]

    figures = agreement(images, min_shared_images=5)

    assert figures.images == 6
    [pair] = figures.pairs
    assert pair.annotators == ("ann", "bob")
    assert pair.images == 5
    assert pair.percent_agreement == pytest.approx(3 / 5)
