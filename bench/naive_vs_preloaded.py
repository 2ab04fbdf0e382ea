"""The naive design this platform replaces, loading the model inside each request, against the
preloaded worker: time and memory per request, and the ratio.

    python bench/naive_vs_preloaded.py [--naive 5] [--requests 30] [--data DIR]

Starts the platform on throwaway data (bench/harness.py), uploads 200 labeled coffee-or-not
photos and trains a version through the API, then predicts photos the project does not hold:

- naive: each "request" is a fresh process (as a CGI script, or a web worker that loads the
  model in the view) that imports TensorFlow, builds efficientnet_lite0 and loads its weights
  and the version's head, predicts one photo and exits. Its wall time from spawn to exit, the
  phases it reports, and its peak RSS (its own ru_maxrss);
- preloaded: the platform's path of bench/prediction_latency.py (POST the file, GET ?wait),
  served by the prediction worker that loaded the backbone once; the worker's RSS before and
  after the requests shows what a request adds to it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import harness

CHILD_FLAG = "--one-naive-request"


def naive_request(weights_dir: str, backbone_name: str, artifact: str, photo: str) -> None:
    """The child: everything a request that loads its own model does. Prints JSON phases."""
    started = time.perf_counter()
    from classifier.ml import TrainedHead, load_backbone

    import_done = time.perf_counter()
    backbone = load_backbone(backbone_name, weights_dir=weights_dir)
    head = TrainedHead.from_bytes(Path(artifact).read_bytes())
    load_done = time.perf_counter()
    probabilities = head.predict_proba(backbone.embed([Path(photo).read_bytes()]))
    predict_done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": import_done - started,
                "load_s": load_done - import_done,
                "predict_s": predict_done - load_done,
                "top": int(probabilities[0].argmax()),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--naive", type=int, default=5, help="naive requests (default 5)")
    parser.add_argument("--requests", type=int, default=30, help="preloaded requests (30)")
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    arguments = parser.parse_args()

    with harness.Stack(workers=("training", "prediction"), web=True, keep=arguments.keep) as stack:
        project, api, _ = harness.project_trained(
            stack, name="Naive", count=200, data=arguments.data
        )
        ad_hoc = harness.photos(5 + arguments.requests + arguments.naive, arguments.data, skip=200)

        # Preloaded: warm up (the worker reads the head on its first job), then time.
        for photo in ad_hoc[:5]:
            harness.ad_hoc_predict(stack, api, project, photo)
        worker_pid = stack.worker_pid("prediction")
        worker_before = harness.process_memory(worker_pid)
        load_before = harness.load_average()
        timed = ad_hoc[5 : 5 + arguments.requests]
        preloaded = [harness.ad_hoc_predict(stack, api, project, photo) for photo in timed]
        preloaded_ms = [1000 * (r["answered"] - r["started"]) for r in preloaded]
        worker_after = harness.process_memory(worker_pid)
        preloaded_load = f"{load_before} -> {harness.load_average()}"

        # Naive: one fresh process per request.
        from django.conf import settings

        from classifier.models import ModelVersion, ModelVersionStatus

        version = ModelVersion.objects.get(project=project, status=ModelVersionStatus.ACTIVE)
        load_before = harness.load_average()
        naive = []
        for index, photo in enumerate(ad_hoc[5 + arguments.requests :]):
            assert stack.folder is not None  # started
            path = stack.folder / f"naive-{index}.jpg"
            path.write_bytes(photo.data)
            command = [
                sys.executable,
                __file__,
                CHILD_FLAG,
                settings.CLASSIFIER_WEIGHTS_DIR,
                version.backbone,
                version.artifact.path,
                str(path),
            ]
            started = time.perf_counter()
            finished = subprocess.run(
                command, cwd=harness.REPOSITORY, capture_output=True, text=True, check=True
            )
            report = json.loads(finished.stdout.strip().splitlines()[-1])
            report["wall_s"] = time.perf_counter() - started
            naive.append(report)
        naive_load = f"{load_before} -> {harness.load_average()}"

    print_results(naive, naive_load, preloaded_ms, preloaded_load, worker_before, worker_after)


def print_results(naive, naive_load, preloaded_ms, preloaded_load, before, after) -> None:
    def ms(key: str) -> str:
        return f"{1000 * harness.median([r[key] for r in naive]):.0f}"

    naive_ms = 1000 * harness.median([r["wall_s"] for r in naive])
    naive_peak = harness.median([r["peak_rss_mb"] for r in naive])
    preloaded_p50 = harness.median(preloaded_ms)
    print()
    print("one image predicted per request")
    print(
        harness.table(
            ["design", "requests", "time per request (median)", "memory per request", "load avg"],
            [
                [
                    "naive: a process loads the model for each request",
                    len(naive),
                    f"{naive_ms:.0f} ms",
                    f"{naive_peak:.0f} MB peak RSS, all of it freed after",
                    naive_load,
                ],
                [
                    "preloaded: API -> prediction worker (model loaded once)",
                    len(preloaded_ms),
                    f"{preloaded_p50:.0f} ms (p95 {harness.percentile(preloaded_ms, 95):.0f})",
                    f"{after.rss_mb - before.rss_mb:+.0f} MB on a worker of "
                    f"{after.rss_mb:.0f} MB RSS",
                    preloaded_load,
                ],
            ],
        )
    )
    print(
        f"naive request phases (medians): import TensorFlow and the code {ms('import_s')} ms, "
        f"build the network and load weights and head {ms('load_s')} ms, "
        f"predict {ms('predict_s')} ms"
    )
    print(f"ratio naive / preloaded time per request: {naive_ms / preloaded_p50:.0f}x")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == CHILD_FLAG:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        naive_request(*sys.argv[2:])
    else:
        main()
