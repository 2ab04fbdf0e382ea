"""Raw in-process inference of the efficientnet_lite0 backbone: the floor every worker figure
is compared with.

    python bench/raw_inference.py [--weights-dir DIR] [--batch-sizes 32,16,8] [--json]

Prints: the cold load time; single-image latency p50/p95 over 100 calls (decode + inference,
and inference alone on decoded pixels); batched throughput over 1,000 coffee-or-not photos
(cycled) for each batch cap; the peak RSS of the process. The machine's load average is printed
too: on a shared machine it explains most of the spread between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from tests.support import coffee_or_not


def photos(count: int) -> list[bytes]:
    """`count` coffee-or-not photos as encoded bytes, cycling through the folder in name order."""
    folder = coffee_or_not.data_dir_or_exit()
    files = sorted(folder.glob("*/*.jpg"))
    if not files:
        sys.exit(f"no photos under {folder} (set COFFEE_OR_NOT_DIR)")
    cache: dict[Path, bytes] = {}
    return [cache.setdefault(f, f.read_bytes()) for f in islice(cycle(files), count)]


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    values = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}


def single_image_latency(backbone, images: list[bytes], calls: int = 100) -> dict:
    """p50/p95 of embedding one image per call: decode + inference, and inference alone."""
    backbone.embed(images[:1])  # warm-up: the first call traces the graph
    with_decode, inference_only = [], []
    for data in islice(cycle(images), calls):
        started = time.perf_counter()
        backbone.embed([data])
        with_decode.append(time.perf_counter() - started)
    for data in islice(cycle(images), calls):
        pixels = backbone.decode([data])
        started = time.perf_counter()
        backbone.embed_pixels(pixels)
        inference_only.append(time.perf_counter() - started)
    return {
        "with_decode": percentiles_ms(with_decode),
        "inference_only": percentiles_ms(inference_only),
    }


def batched_throughput(backbone, images: list[bytes]) -> dict:
    """Images per second embedding all `images` (decode included) in capped batches."""
    backbone.embed(images[: backbone.max_batch_size])  # warm-up
    started = time.perf_counter()
    backbone.embed(images)
    seconds = time.perf_counter() - started
    return {
        "images": len(images),
        "max_batch_size": backbone.max_batch_size,
        "seconds": seconds,
        "images_per_second": len(images) / seconds,
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-dir", default=os.environ.get("CLASSIFIER_WEIGHTS_DIR"))
    parser.add_argument("--batch-sizes", default="32", help="comma-separated batch caps")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    weights_dir = args.weights_dir or tempfile.mkdtemp(prefix="weights-")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    from classifier.ml import load_backbone
    from classifier.ml.backbones import EFFICIENTNET_LITE0_WEIGHTS_FILE

    cache_hit = (Path(weights_dir) / EFFICIENTNET_LITE0_WEIGHTS_FILE).exists()
    started = time.perf_counter()
    backbone = load_backbone("efficientnet_lite0", weights_dir=weights_dir)
    load_seconds = time.perf_counter() - started
    rss_after_load = peak_rss_mb()
    images = photos(args.images)

    result: dict[str, Any] = {
        "backbone": backbone.name,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg()[0],
        "load_seconds": load_seconds,
        "weights_cache_hit": cache_hit,
        "peak_rss_after_load_mb": rss_after_load,
        "single_image": single_image_latency(backbone, images),
        "batched": [],
    }
    for batch_size in batch_sizes:
        capped = backbone.with_max_batch_size(batch_size)  # the same network, another cap
        result["batched"].append(batched_throughput(capped, images))
    result["peak_rss_mb"] = peak_rss_mb()
    result["load_average_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(result, indent=2))
        return
    decoded, raw = result["single_image"]["with_decode"], result["single_image"]["inference_only"]
    print(
        f"backbone {result['backbone']} on {result['cpus']} CPUs "
        f"(load average {result['load_average_before']:.1f} -> {result['load_average_after']:.1f})"
    )
    print(
        f"load (weights cache {'hit' if cache_hit else 'built'}): {load_seconds:.1f} s, "
        f"RSS after load {rss_after_load:.0f} MB"
    )
    print(
        f"single image, 100 calls: decode+inference p50 {decoded['p50_ms']:.1f} ms "
        f"p95 {decoded['p95_ms']:.1f} ms; inference only "
        f"p50 {raw['p50_ms']:.1f} ms p95 {raw['p95_ms']:.1f} ms"
    )
    for run in result["batched"]:
        print(
            f"batched, {run['images']} photos, batch cap {run['max_batch_size']}: "
            f"{run['images_per_second']:.1f} images/s ({run['seconds']:.1f} s, decode included)"
        )
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
