"""Seconds to ingest N photos of coffee-or-not through image_ingest, as one upload.

    python bench/ingest.py [--count 500] [--labels] [--data DIR]

Runs against a throwaway database (created like the test suite's: a temporary SQLite file, or
test_<name> on the server DATABASE_URL points at) and a temporary media folder, so it never
touches real data. Reading the files from disk is included in the figure; Django's startup and
the migrations are not. A second pass uploads the same files again to time the duplicate path.
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500, help="photos to ingest (default 500)")
    parser.add_argument(
        "--data",
        type=Path,
        help="ImageFolder of photos (default: COFFEE_OR_NOT_DIR, or ../shared/data/coffee-or-not "
        "beside the checkout)",
    )
    parser.add_argument(
        "--labels", action="store_true", help="upload each class folder with its label"
    )
    arguments = parser.parse_args()

    sys.path.insert(0, str(REPOSITORY))
    from tests.support import coffee_or_not

    arguments.data = arguments.data or coffee_or_not.data_dir_or_exit()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelplatform.settings.test")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        run(arguments)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if "labelplatform-test-media-" in str(settings.MEDIA_ROOT):
            shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


def run(arguments) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labeling.ingest import IncomingFile, image_ingest
    from labeling.services import project_create

    photos = sorted(arguments.data.glob("*/*.jpg"))
    # Every other class in turn, so a partial run still has both classes.
    by_class: dict[str, list[Path]] = {}
    for path in photos:
        by_class.setdefault(path.parent.name, []).append(path)
    interleaved = [p for group in zip(*by_class.values(), strict=False) for p in group]
    interleaved += [p for p in photos if p not in set(interleaved)]
    chosen = interleaved[: arguments.count]
    if len(chosen) < arguments.count:
        sys.exit(f"Only {len(chosen)} photos under {arguments.data}.")

    user = get_user_model().objects.create_user("bench", password="bench-password")
    project = project_create(name="Bench", created_by=user, classes=sorted(by_class))
    labels = {label.name: label for label in project.classes.all()}

    def incoming(paths):
        for path in paths:
            with path.open("rb") as stream:
                yield IncomingFile(name=path.name, file=stream)

    def upload_all():
        if not arguments.labels:
            return [image_ingest(project=project, uploaded_by=user, files=incoming(chosen))]
        return [
            image_ingest(
                project=project,
                uploaded_by=user,
                files=incoming([p for p in chosen if p.parent.name == name]),
                label=label,
            )
            for name, label in labels.items()
        ]

    megabytes = sum(path.stat().st_size for path in chosen) / 1024 / 1024
    started = time.perf_counter()
    reports = upload_all()
    seconds = time.perf_counter() - started
    created = sum(len(report.created) for report in reports)
    rejected = sum(len(report.rejected) for report in reports)

    started = time.perf_counter()
    again = upload_all()
    duplicate_seconds = time.perf_counter() - started
    duplicates = sum(len(report.duplicates) for report in again)

    print(
        f"database {connection.vendor}, {len(chosen)} photos ({megabytes:.1f} MB)"
        f"{', labeled by folder' if arguments.labels else ''}:"
    )
    print(
        f"  ingest     {seconds:6.2f} s  ({1000 * seconds / len(chosen):.1f} ms per photo, "
        f"{created} stored, {rejected} rejected)"
    )
    print(
        f"  re-upload  {duplicate_seconds:6.2f} s  ({1000 * duplicate_seconds / len(chosen):.1f} "
        f"ms per photo, {duplicates} duplicates)"
    )


if __name__ == "__main__":
    main()
