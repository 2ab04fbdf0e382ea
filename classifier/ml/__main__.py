"""Command line: `python -m classifier.ml prepare --weights-dir DIR [--backbone NAME]`.

Builds the backbone's weights cache ahead of time, for instance in a Docker build, so that a
worker's first start does not spend seconds converting weights (or need a network).
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifier.ml")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="write the backbone's weights into a directory")
    prepare.add_argument("--weights-dir", required=True, help="directory for the weights cache")
    prepare.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args(argv)

    from classifier.ml.backbones import BackboneUnavailableError, prepare_weights

    started = time.perf_counter()
    try:
        path = prepare_weights(args.backbone, args.weights_dir)
    except (BackboneUnavailableError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.backbone}: {path} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
