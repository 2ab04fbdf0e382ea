"""The fast head: an L2-regularised multinomial logistic regression on the embeddings.

The Keras head (`head.train_head`) runs up to 200 epochs of Adam towards what is a convex
problem's optimum; a quasi-Newton solver gets there in a few dozen steps. scikit-learn's
`LogisticRegression` (L-BFGS, multinomial; BSD, well kept) does it for 300 embeddings in tens
of milliseconds, four regularisation strengths and the temperature included, against the
Keras head's seconds, and reaches a better test accuracy on every backbone
(bench/model_selection.py; the figures are in classifier/ml/README.md). It was chosen over a
few lines of scipy L-BFGS because it was also about twice as fast on the same objective and is
maintained by others; in a worker that has TensorFlow loaded (which imports scipy already),
importing it adds 0.1-0.3 s and 10 MB once (bench/logistic_solvers.py).

Fits run with one BLAS thread: on a 2-core machine shared with TensorFlow and other workers,
OpenBLAS's two threads made the same fit 7-30x slower, and one thread also makes the result
independent of the machine's thread count.

The result is a `TrainedHead` (kernel, bias): prediction, the .npz artifact without pickles and
everything that reads heads work unchanged. Its hyperparameters say which head it is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from classifier.ml.calibration import fit_temperature, negative_log_likelihood, softmax
from classifier.ml.head import TrainedHead, _check_labels

HEAD_KIND = "logistic-regression"
# C is scikit-learn's inverse regularisation strength (C * summed log-loss + |W|^2 / 2). On the
# coffee-or-not photos (bench/model_selection.py, 50 splits) validation loss picks 1 or 3 in
# most splits; a grid up to 100 picked 100 in 7 of 50 on Lite2 and lost accuracy. Ties go to
# the smaller C (stronger regularisation).
DEFAULT_C_GRID = (0.1, 0.3, 1.0, 3.0)
DEFAULT_C = 1.0  # where no validation split chooses (out-of-fold fits)
MAX_ITERATIONS = 1000
# A class without training examples: a logit this far below the others, so it is never
# predicted (and its probability is 0 to float precision) instead of failing the whole fit.
ABSENT_CLASS_BIAS = -1e4
DEFAULT_FOLDS = 5


def _fit(x: np.ndarray, y: np.ndarray, num_classes: int, c: float) -> tuple[TrainedHead, int]:
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    present = np.unique(y)
    if len(present) < 2:
        raise ValueError("a logistic regression needs training examples of at least two classes")
    with threadpool_limits(limits=1):
        model = LogisticRegression(C=c, max_iter=MAX_ITERATIONS).fit(x, y)
    coef = model.coef_.astype(np.float64)
    intercept = model.intercept_.astype(np.float64)
    if len(present) == 2:
        # scikit-learn's binary model is one logit for the second class; as a softmax over
        # two logits that is [-z/2, z/2] (softmax only sees their difference).
        coef = np.stack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    kernel = np.zeros((x.shape[1], num_classes))
    bias = np.full(num_classes, ABSENT_CLASS_BIAS)
    kernel[:, present] = coef.T
    bias[present] = intercept
    head = TrainedHead(
        kernel=kernel,
        bias=bias,
        hyperparameters={"head": HEAD_KIND, "c": float(c), "train_examples": len(y)},
    )
    return head, int(np.max(model.n_iter_))


def _checked(x, y, num_classes: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = _check_labels(y, num_classes, f"{what}_y")
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"{what}_x must be (n, embedding_dim) with one row per label")
    return x, y


def fit_logistic_regression(
    x: np.ndarray, y: np.ndarray, *, num_classes: int, c: float = DEFAULT_C
) -> TrainedHead:
    """One fit with a given C, no validation: a TrainedHead over `num_classes` classes.

    Deterministic (L-BFGS from zeros, one BLAS thread). Classes without examples in `y` get
    probability 0; at least two classes must have examples.
    """
    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    x, y = _checked(x, y, num_classes, "train")
    head, iterations = _fit(x, y, num_classes, c)
    head.hyperparameters["iterations"] = iterations
    return head


def logits(head: TrainedHead, embeddings: np.ndarray) -> np.ndarray:
    """The head's raw outputs (before softmax), float64 (n, classes): what a temperature
    divides."""
    return np.asarray(embeddings, dtype=np.float64) @ head.kernel + head.bias


@dataclass
class LogisticHeadFit:
    """What `train_logistic_head` returns.

    `head` predicts (refitted on train + validation when asked). `temperature` was fitted on
    the validation split with the head fitted on train only, as were `validation_proba`
    (calibrated) and the per-C validation losses: after a refit no held-out data is left, and
    the measurement (README) shows the temperature carries over.
    """

    head: TrainedHead
    temperature: float
    c: float
    refit: bool
    validation_proba: np.ndarray
    validation_losses: dict[float, float] = field(default_factory=dict)

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated probabilities: softmax(logits / temperature), float32 (n, classes)."""
        return softmax(logits(self.head, embeddings), self.temperature).astype(np.float32)


def train_logistic_head(
    *,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    num_classes: int,
    c_grid: tuple[float, ...] = DEFAULT_C_GRID,
    refit: bool = False,
) -> LogisticHeadFit:
    """Fit on train for every C of `c_grid`, keep the C of the lowest validation loss.

    Then fit a temperature on the validation split, and, with `refit`, fit once more on train
    + validation with that C. Deterministic. Needs training examples of at least two classes
    and at least one validation example. The head's hyperparameters record the C, the
    validation loss per C, whether it was refitted and the temperature.
    """
    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    if not c_grid:
        raise ValueError("c_grid must hold at least one C")
    train_x, train_y = _checked(train_x, train_y, num_classes, "train")
    val_x, val_y = _checked(val_x, val_y, num_classes, "val")
    if not len(val_y):
        raise ValueError("choosing the regularisation needs at least one validation example")
    if val_x.shape[1] != train_x.shape[1]:
        raise ValueError("train_x and val_x must have the same width")

    best = None
    losses: dict[float, float] = {}
    for c in sorted(c_grid):
        head, iterations = _fit(train_x, train_y, num_classes, c)
        losses[float(c)] = negative_log_likelihood(logits(head, val_x), val_y)
        if best is None or losses[float(c)] < best[0]:  # strictly lower: ties keep smaller C
            best = (losses[float(c)], float(c), head, iterations)
    assert best is not None, "c_grid is empty"
    _, c, head, iterations = best
    validation_logits = logits(head, val_x)
    temperature = fit_temperature(validation_logits, val_y)
    validation_proba = softmax(validation_logits, temperature)
    if refit:
        head, iterations = _fit(
            np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y]), num_classes, c
        )
    head.hyperparameters.update(
        {
            "c_grid": [float(v) for v in sorted(c_grid)],
            "validation_loss_by_c": {str(k): v for k, v in losses.items()},
            "refit_on_validation": refit,
            "temperature": temperature,
            "iterations": iterations,
        }
    )
    return LogisticHeadFit(
        head=head,
        temperature=temperature,
        c=c,
        refit=refit,
        validation_proba=validation_proba,
        validation_losses=losses,
    )


def out_of_fold_proba(
    x: np.ndarray,
    y: np.ndarray,
    *,
    num_classes: int,
    folds: int = DEFAULT_FOLDS,
    c: float = DEFAULT_C,
    seed: int = 0,
) -> np.ndarray:
    """Each row's class probabilities from a head fitted without it: float64 (n, classes).

    The rows are split into `folds` stratified folds (each class spread evenly, shuffled with
    `seed`); each fold is predicted by a logistic regression fitted on the others with the
    given C. What a label check needs: a labeled image the other images' model disagrees with
    is a candidate for a wrong label. Deterministic for the same inputs and seed.
    """
    from sklearn.model_selection import StratifiedKFold

    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    x, y = _checked(x, y, num_classes, "train")
    if folds < 2 or len(y) < folds:
        raise ValueError(f"{folds} folds need at least 2 folds and {folds} rows, got {len(y)}")
    out = np.empty((len(y), num_classes))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # A class with fewer rows than folds is fine here: its rows land in some folds only.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(splitter.split(x, y))
    for train_rows, held_out in splits:
        head, _ = _fit(x[train_rows], y[train_rows], num_classes, c)
        out[held_out] = head.predict_proba(x[held_out])
    return out
