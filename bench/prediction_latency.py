"""Single-image prediction through the API, upload to result, beside the same model in-process.

    python bench/prediction_latency.py [--requests 100] [--data DIR]

Starts the platform on throwaway data (bench/harness.py: gunicorn as the run command starts
it, the training and prediction workers with the real efficientnet_lite0 backbone, the broker),
uploads 200 labeled coffee-or-not photos, trains a version through the API and waits for it to
be active. Then, one request after the other, each with a photo the project does not hold:

    POST /api/projects/{id}/predictions/  (multipart, one ad-hoc file)  -> 202 {"id"}
    GET  /api/prediction-jobs/{id}/?wait=30                              -> the result

timed from before the POST to the end of the GET (p50, p95). In the same run, alternating with
the requests, the same version (backbone and head) loaded in this process predicts the same
photos one at a time: decode, embed, head, the floor of any design. The difference of the
medians is the platform's overhead (goal: at most 50 ms); the job rows' timestamps and timings
say where it goes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import harness

OVERHEAD_GOAL_MS = 50.0
PROJECT_PHOTOS = 200
WARM_UP_REQUESTS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="timed requests (default 100)")
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    arguments = parser.parse_args()

    with harness.Stack(workers=("training", "prediction"), web=True, keep=arguments.keep) as stack:
        project, api, run = harness.project_trained(
            stack, name="Latency", count=PROJECT_PHOTOS, data=arguments.data
        )
        print(
            f"version {run['model_version']['version']} active "
            f"(test accuracy {run['model_version']['metrics']['accuracy']:.3f})"
        )
        ad_hoc = harness.photos(
            WARM_UP_REQUESTS + arguments.requests, arguments.data, skip=PROJECT_PHOTOS
        )
        results = measure(stack, api, project, ad_hoc, arguments.requests)
        print_results(results, arguments.requests)


def measure(stack, api, project, ad_hoc, count: int) -> dict:
    """Alternate one API request and one in-process prediction of the same photo, so a change
    in the machine's load (it is shared) weighs on both figures alike."""
    from classifier.models import ModelVersion, ModelVersionStatus

    version = ModelVersion.objects.get(project=project, status=ModelVersionStatus.ACTIVE)
    model = harness.InProcessModel(version)
    for photo in ad_hoc[:WARM_UP_REQUESTS]:
        harness.ad_hoc_predict(stack, api, project, photo)
        model.predict([photo.data])  # the first call traces the graph
    load_before = harness.load_average()
    requests, raw = [], []
    for photo in ad_hoc[WARM_UP_REQUESTS:]:
        requests.append(harness.ad_hoc_predict(stack, api, project, photo))
        started = time.perf_counter()
        model.predict([photo.data])
        raw.append(time.perf_counter() - started)
    return {
        "requests": requests,
        "raw_ms": [1000 * seconds for seconds in raw],
        "load": (load_before, harness.load_average()),
    }


def print_results(results: dict, count: int) -> None:
    from classifier.models import PredictionJob

    requests = results["requests"]
    api_ms = [1000 * (r["answered"] - r["started"]) for r in requests]
    raw_ms = results["raw_ms"]
    jobs = PredictionJob.objects.in_bulk([r["id"] for r in requests])
    load = " -> ".join(results["load"])

    api_p50, raw_p50 = harness.median(api_ms), harness.median(raw_ms)
    overhead = api_p50 - raw_p50
    print()
    print(f"single-image prediction, {count} requests one after the other")
    print(
        harness.table(
            ["path", "p50 ms", "p95 ms", "load avg"],
            [
                [
                    "API: POST file + GET ?wait (upload to result)",
                    f"{api_p50:.1f}",
                    f"{harness.percentile(api_ms, 95):.1f}",
                    load,
                ],
                [
                    "in-process: decode + embed + head",
                    f"{raw_p50:.1f}",
                    f"{harness.percentile(raw_ms, 95):.1f}",
                    "(alternating)",
                ],
                [
                    f"overhead of the API path (goal <= {OVERHEAD_GOAL_MS:.0f} ms)",
                    f"{overhead:.1f}",
                    "",
                    "met" if overhead <= OVERHEAD_GOAL_MS else "NOT MET",
                ],
            ],
        )
    )

    # Where the time goes: the job row's timestamps (server clocks, same machine) between the
    # client's own readings, medians over the requests.
    phases: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        phases.setdefault(name, []).append(1000 * seconds)

    for request in requests:
        job = jobs[request["id"]]
        created, started, finished = (m.timestamp() for m in harness.job_moments(job))
        add(
            "POST: upload, check, store file, row, enqueue -> 202",
            request["posted"] - request["started"],
        )
        add("  of which: request start -> job row inserted", created - request["started"])
        add("job row inserted -> worker claimed it (broker)", started - created)
        add("worker: claimed -> finished", finished - started)
        for key in ("load_model_ms", "read_ms", "inference_ms", "write_ms"):
            if key in job.timings:
                add(f"  of which {key.removesuffix('_ms')}", job.timings[key] / 1000)
        add("finished -> GET ?wait answered", request["answered"] - finished)
    print()
    print("where the time goes (medians)")
    print(
        harness.table(["phase", "ms"], [[k, f"{harness.median(v):.1f}"] for k, v in phases.items()])
    )


if __name__ == "__main__":
    main()
