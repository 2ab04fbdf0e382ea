"""Exports of a project: its labeled images as an ImageFolder zip, its labels as CSV or JSON.

Every export is a stream: an iterator of bytes chunks plus a filename and a content type, so a
view wraps it in a StreamingHttpResponse and `manage.py export_dataset` writes it to a file.
Nothing is built in memory: rows are read from the database in chunks and images from the
storage one at a time, as the consumer asks for more. The database is only queried once the
iteration starts.

    export = project_export(project=project, format="zip")
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'

The zip holds `<split>/<class>/<image id>-<original name>.<ext>` for every labeled image
(ImageFolder layout; unlabeled and conflicting images are left out). The CSV has one row per
image of the project; the JSON has the project, its classes and the same images.
"""

import csv
import io
import itertools
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import zipstream
from django.core.exceptions import ValidationError
from django.db.models import Case, Prefetch, QuerySet, Value, When
from django.utils import timezone
from django.utils.text import slugify

from labeling.models import Annotation, Image, LabelClass, LabelStatus, Project, Split

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("zip", "csv", "json")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}
CSV_COLUMNS = (
    "image_id",
    "original_name",
    "sha256",
    "split",
    "label",
    "label_status",
    "label_reviewed",
    "width",
    "height",
    "format",
    "zip_path",
    "annotations",
    "suggestions_accepted_by",
)
ROWS_PER_QUERY = 500
# The zip lists train, then validation, then test.
_SPLIT_POSITION = Case(
    *(When(split=split, then=Value(position)) for position, split in enumerate(Split.values)),
    default=Value(len(Split.values)),
)
READ_CHUNK = 256 * 1024


@dataclass
class ExportStream:
    chunks: Iterator[bytes]
    filename: str
    content_type: str


def project_export(*, project: Project, format: str) -> ExportStream:
    """The project's export in `format` ("zip", "csv" or "json")."""
    exporters = {
        "zip": dataset_zip_export,
        "csv": labels_csv_export,
        "json": labels_json_export,
    }
    if format not in exporters:
        raise ValidationError(
            f"Unknown export format {format!r}; use one of {', '.join(EXPORT_FORMATS)}."
        )
    return exporters[format](project=project)


def dataset_zip_export(*, project: Project) -> ExportStream:
    """The labeled images as `<split>/<class>/<file>`, read from storage one at a time. Every
    split x class folder is there, empty or not, so that each split of the ImageFolder lists
    the same classes (keras' image_dataset_from_directory takes its classes from the folders,
    and fails on a split that is missing)."""
    return ExportStream(
        chunks=_zip_chunks(project),
        filename=f"{_project_slug(project)}-dataset.zip",
        content_type="application/zip",
    )


def labels_csv_export(*, project: Project) -> ExportStream:
    """One row per image: ids, split, consensus label and status, and every annotation as
    `username:class` pairs separated by "; " (usernames contain neither), then the users
    whose annotation accepted the model's suggestion.

    Text a user chose (file, class and user names) goes through csv_text: a spreadsheet would
    run a cell starting with =, +, -, @, tab or carriage return as a formula."""
    return ExportStream(
        chunks=_csv_chunks(project),
        filename=f"{_project_slug(project)}-labels.csv",
        content_type="text/csv; charset=utf-8",
    )


def labels_json_export(*, project: Project) -> ExportStream:
    """{"project": {...}, "classes": [...], "exported_at": ..., "images": [...]}, where each
    image carries its annotations as [{"user", "label", "from_suggestion", "updated_at"}]."""
    return ExportStream(
        chunks=_json_chunks(project),
        filename=f"{_project_slug(project)}-labels.json",
        content_type="application/json",
    )


# --------------------------------------------------------------------------------------
# Names inside the zip
# --------------------------------------------------------------------------------------


def _safe_name(text: str) -> str:
    """ASCII letters, digits, '.', '_' and '-' only; never empty, never '.' or '..'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text).strip("._-")[:80]


def class_folder_names(project: Project) -> dict[int, str]:
    """{label class id: folder name}, unique within the project."""
    folders: dict[int, str] = {}
    for label in LabelClass.objects.filter(project=project).order_by("order", "pk"):
        name = _safe_name(label.name) or f"class-{label.pk}"
        if name.lower() in {used.lower() for used in folders.values()}:
            name = f"{name}-{label.pk}"
        folders[label.pk] = name
    return folders


def zip_path(image: Image, class_folders: dict[int, str]) -> str:
    """Where a labeled image goes in the dataset zip; the image id keeps names unique."""
    original = image.original_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = _safe_name(original.rsplit(".", 1)[0] if "." in original else original)
    extension = EXTENSIONS.get(image.format.upper(), image.format.lower() or "bin")
    filename = f"{image.pk}-{stem}.{extension}" if stem else f"{image.pk}.{extension}"
    assert image.label_id is not None, "only labeled images go in the zip"
    return f"{image.split}/{class_folders[image.label_id]}/{filename}"


# --------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------


def _zip_chunks(project: Project) -> Iterator[bytes]:
    class_folders = class_folder_names(project)
    images = (
        Image.objects.filter(project=project, label_status=LabelStatus.LABELED)
        .exclude(label=None)
        .only("pk", "file", "original_name", "format", "split", "label_id")
        .order_by(_SPLIT_POSITION, "label__order", "label_id", "pk")
    )
    # Images are compressed already: storing them is as small and much faster.
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED)
    for split in Split.values:
        for folder in class_folders.values():
            archive.mkdir(f"{split}/{folder}/")
    for image in images.iterator(chunk_size=ROWS_PER_QUERY):
        try:
            stream = image.file.storage.open(image.file.name, "rb")
        except OSError:
            # Opened before the entry is queued, so a lost file is left out, not half-written.
            logger.warning(
                "Export of project %s: image %s has no stored file", project.pk, image.pk
            )
            continue
        archive.add(_read_and_close(stream), zip_path(image, class_folders))
        yield from archive.all_files()
    yield from archive.footer()


def _read_and_close(stream) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(READ_CHUNK):
            yield chunk


def _images_with_annotations(project: Project) -> QuerySet[Image]:
    return (
        Image.objects.filter(project=project)
        .select_related("label")
        .prefetch_related(
            Prefetch(
                "annotations",
                queryset=Annotation.objects.select_related("user", "label_class").order_by(
                    "user__username", "pk"
                ),
            )
        )
        .order_by("pk")
    )


# What spreadsheets (Excel, LibreOffice, Google Sheets) read as the start of a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A user's text as a CSV cell that no spreadsheet runs: prefixed with an apostrophe (the
    usual escape, shown by none of them) when it would start a formula. OWASP's advice for
    CSV injection."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _csv_chunks(project: Project) -> Iterator[bytes]:
    class_folders = class_folder_names(project)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    images = _images_with_annotations(project).iterator(chunk_size=ROWS_PER_QUERY)
    for rows, image in enumerate(images, start=1):
        labeled = image.label_status == LabelStatus.LABELED and image.label_id is not None
        writer.writerow(
            (
                image.pk,
                csv_text(image.original_name),
                image.sha256,
                image.split,
                csv_text(image.label.name) if labeled and image.label else "",
                image.label_status,
                "true" if image.label_reviewed else "false",
                image.width,
                image.height,
                image.format,
                zip_path(image, class_folders) if labeled else "",
                csv_text(
                    "; ".join(
                        f"{annotation.user.get_username()}:{annotation.label_class.name}"
                        for annotation in image.annotations.all()
                    )
                ),
                # Whose annotation accepted the model's suggestion rather than chose a class.
                csv_text(
                    "; ".join(
                        annotation.user.get_username()
                        for annotation in image.annotations.all()
                        if annotation.from_suggestion
                    )
                ),
            )
        )
        if rows % ROWS_PER_QUERY == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def chunks_started(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks with the first one already made, for a view to stream: the export's first
    queries then run inside the view, so a database unreachable at that moment is answered
    503 by labelplatform.middleware instead of failing the response after its headers (a 500
    from the server, a truncated download). Found by the soak (bench/soak.py)."""
    first = next(chunks, None)
    return chunks if first is None else itertools.chain([first], chunks)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode("utf-8")


def _image_record(image: Image, class_folders: dict[int, str]) -> dict:
    labeled = image.label_status == LabelStatus.LABELED and image.label_id is not None
    return {
        "id": image.pk,
        "original_name": image.original_name,
        "sha256": image.sha256,
        "split": image.split,
        "label": image.label.name if labeled and image.label else None,
        "label_status": image.label_status,
        "label_reviewed": image.label_reviewed,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "zip_path": zip_path(image, class_folders) if labeled else None,
        "created_at": image.created_at.isoformat(),
        "annotations": [
            {
                "user": annotation.user.get_username(),
                "label": annotation.label_class.name,
                "from_suggestion": annotation.from_suggestion,
                "updated_at": annotation.updated_at.isoformat(),
            }
            for annotation in image.annotations.all()
        ],
    }


def _json_chunks(project: Project) -> Iterator[bytes]:
    class_folders = class_folder_names(project)
    head = {
        "project": {
            "id": project.pk,
            "name": project.name,
            "split_ratios": dict(project.split_ratios),
            "annotations_per_image": project.annotations_per_image,
        },
        "classes": [
            {"name": label.name, "key": label.key, "color": label.color}
            for label in LabelClass.objects.filter(project=project).order_by("order", "pk")
        ],
        "exported_at": timezone.now().isoformat(),
    }
    # The head as JSON without its closing brace, then the images array streamed into it.
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "images": [\n').encode("utf-8")
    records = (
        json.dumps(_image_record(image, class_folders), ensure_ascii=False)
        for image in _images_with_annotations(project).iterator(chunk_size=ROWS_PER_QUERY)
    )
    yield from _joined(records, separator=",\n", chunk_size=ROWS_PER_QUERY)
    yield b"\n]}\n"


def _joined(records: Iterable[str], *, separator: str, chunk_size: int) -> Iterator[bytes]:
    batch: list[str] = []
    first = True
    for record in records:
        batch.append(record)
        if len(batch) >= chunk_size:
            yield (("" if first else separator) + separator.join(batch)).encode("utf-8")
            batch, first = [], False
    if batch:
        yield (("" if first else separator) + separator.join(batch)).encode("utf-8")


def _project_slug(project: Project) -> str:
    return slugify(project.name) or f"project-{project.pk}"
