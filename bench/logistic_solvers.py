"""Why the fast head uses scikit-learn: its cost in a worker, and its speed against scipy.

    python bench/logistic_solvers.py [--cache-dir var/model-selection] [--repeats 20]

Prints, each from a fresh subprocess:
- the time and RSS that importing scikit-learn's LogisticRegression adds to a process, alone
  and in a process that has already imported TensorFlow (as a worker has);
- the median time of one fit (C = 1) on the 300 training embeddings of the quality test's
  selection (efficientnet_lite0, from bench/model_selection.py's cache: run that first),
  with scikit-learn's L-BFGS and with a hand-written L-BFGS through scipy.optimize (the same
  objective: C * summed log-loss + |W|^2 / 2), with one BLAS thread and with the default two;
  and the test accuracy each reaches, which should be the same.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))
sys.path.insert(0, str(REPOSITORY / "bench"))

import harness  # noqa: E402
import model_selection  # noqa: E402

IMPORT_COST = """
import json, os, re, sys, time
def rss():
    status = open("/proc/self/status").read()
    return int(re.search(r"VmRSS:\\s+(\\d+)", status).group(1)) / 1024
import numpy
if sys.argv[1] == "after-tensorflow":
    import tensorflow
before, started = rss(), time.perf_counter()
from sklearn.linear_model import LogisticRegression
print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": rss() - before}))
"""


def import_cost(after: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_COST, after], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def scipy_fit(x, y, num_classes: int, c: float):
    """The same objective as scikit-learn's, minimised with scipy's L-BFGS-B."""
    import numpy as np
    from scipy.optimize import minimize

    d = x.shape[1]
    onehot = np.eye(num_classes)[y]

    def objective(w):
        kernel, bias = w[: d * num_classes].reshape(d, num_classes), w[d * num_classes :]
        z = x @ kernel + bias
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        p = np.exp(z - log_norm[:, None])
        loss = c * (log_norm - (z * onehot).sum(axis=1)).sum() + 0.5 * (kernel * kernel).sum()
        g = c * (p - onehot)
        return loss, np.concatenate([(x.T @ g + kernel).ravel(), g.sum(axis=0)])

    result = minimize(
        objective,
        np.zeros(d * num_classes + num_classes),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000},
    )
    w = result.x
    return w[: d * num_classes].reshape(d, num_classes), w[d * num_classes :]


def fit_times(cache_dir: Path, repeats: int, threads: int) -> dict:
    import statistics
    import time

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from tests.support import coffee_or_not

    cache = model_selection.cache_read(model_selection.cache_path(cache_dir, "efficientnet_lite0"))
    if not cache:
        sys.exit("no cached embeddings: run bench/model_selection.py first")
    selection = coffee_or_not.select(seed=0)
    shas = {
        p: model_selection.sha256(p.read_bytes()) for items in selection.values() for p, _ in items
    }
    data = model_selection.split_embeddings(cache, selection, "plain", shas)
    (x, y), (test_x, test_y) = data["train"], data["test"]
    x, test_x = x.astype(np.float64), test_x.astype(np.float64)
    out = {}
    with threadpool_limits(limits=threads):
        for name, fit in (
            ("scikit-learn", lambda: LogisticRegression(C=1.0, max_iter=1000).fit(x, y)),
            ("scipy L-BFGS", lambda: scipy_fit(x, y, 2, 1.0)),
        ):
            seconds = []
            for _ in range(repeats):
                started = time.perf_counter()
                model = fit()
                seconds.append(time.perf_counter() - started)
            if name == "scikit-learn":
                predicted = model.predict(test_x)
            else:
                kernel, bias = model
                predicted = (test_x @ kernel + bias).argmax(axis=1)
            out[name] = {
                "median_ms": 1000 * statistics.median(seconds),
                "accuracy": float((predicted == test_y).mean()),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=model_selection.DEFAULT_CACHE_DIR)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--fit", type=int, help=argparse.SUPPRESS)  # the subprocess's mode
    args = parser.parse_args()
    if args.fit:
        print(json.dumps(fit_times(args.cache_dir, args.repeats, args.fit)))
        return

    print(f"load average {harness.load_average()}")
    for after in ("alone", "after-tensorflow"):
        cost = import_cost(after)
        print(
            f"import sklearn.linear_model ({after}): {cost['seconds']:.2f} s, "
            f"+{cost['rss_mb']:.0f} MB RSS"
        )
    rows = []
    for threads in (1, 2):
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                *("--fit", str(threads), "--repeats", str(args.repeats)),
                *("--cache-dir", str(args.cache_dir)),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        for name, figures in json.loads(result.stdout.strip().splitlines()[-1]).items():
            rows.append(
                [name, threads, f"{figures['median_ms']:.1f}", f"{figures['accuracy']:.3f}"]
            )
    print(harness.table(["solver", "BLAS threads", "fit ms (median)", "test accuracy"], rows))
    print(f"load average {harness.load_average()}")


if __name__ == "__main__":
    main()
