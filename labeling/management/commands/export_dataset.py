"""manage.py export_dataset PROJECT OUT: a project's dataset zip, or its labels as CSV/JSON."""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.export import EXPORT_FORMATS, project_export
from labeling.management.arguments import project_from_argument


class Command(BaseCommand):
    help = (
        "Export a project: its labeled images as an ImageFolder zip (<split>/<class>/<file>), "
        "or its labels as CSV or JSON. The format follows OUT's extension unless --format says."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or exact name")
        parser.add_argument("out", type=Path, help="the file to write")
        parser.add_argument("--format", choices=EXPORT_FORMATS, help="default: OUT's extension")

    def handle(self, *args, **options):
        project = project_from_argument(options["project"])
        out: Path = options["out"]
        export_format = options["format"] or out.suffix.lower().lstrip(".")
        if export_format not in EXPORT_FORMATS:
            raise CommandError(
                f"Cannot tell the format from {out.name!r}; use --format "
                f"{'|'.join(EXPORT_FORMATS)}."
            )
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent} is not a directory.")

        export = project_export(project=project, format=export_format)
        # Written beside the target and renamed at the end: OUT is never left half-written.
        partial = out.with_name(f".{out.name}.partial")
        written = 0
        try:
            with partial.open("wb") as destination:
                for chunk in export.chunks:
                    destination.write(chunk)
                    written += len(chunk)
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        self.stdout.write(
            self.style.SUCCESS(f"Wrote {export_format} export of {project.name!r} to {out}")
            + f" ({written:,} bytes)"
        )
