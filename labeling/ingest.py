"""Image ingest: validate uploaded files (one by one in labeling.image_files), deduplicate by
sha256, store the file and its thumbnail, choose a split. Used by the upload page, the API and
import_images.

INTERFACE (the shape is the contract for callers):

    @dataclass
    class IncomingFile:
        name: str            # the name the user gave it (zip members: their path in the zip)
        file: IO[bytes]      # readable, seekable

    @dataclass
    class IngestReport:
        created: list[Image]
        duplicates: list[tuple[str, Image]]    # (incoming name, the image it duplicates)
        rejected: list[tuple[str, str]]        # (incoming name, why)
        storage_failure: StorageFailure | None # set when the storage refused a write

    def image_ingest(*, project, uploaded_by, files: Iterable[IncomingFile],
                     split: str = "auto", label: LabelClass | None = None,
                     on_progress: Callable[[int], None] | None = None) -> IngestReport
        # `.zip` files are expanded member by member. A label given here is recorded as the
        # uploader's annotation (so consensus rules apply).

WHAT IS STORED
- `sha256` is computed over the bytes exactly as uploaded, so uploading the same file again is
  always caught as a duplicate, whatever normalisation the first copy went through.
- The uploaded bytes are stored unchanged when browsers and the classifier read them as they
  are: JPEG (grayscale or RGB, upright), PNG (8 bits per channel or less), WebP, single-frame GIF.
- Anything else accepted is decoded once and re-encoded: EXIF orientation applied (the stored
  image is upright and carries no EXIF), CMYK and other modes converted to RGB (through the
  embedded ICC profile when there is one), 16-bit PNG reduced to 8 bits, animated GIF/WebP/PNG
  reduced to their first frame, BMP stored as PNG. Lossy sources without transparency become
  JPEG (quality 95), everything else PNG. `Image.format`, `width` and `height` describe the
  stored file.
- A file that carries HTML or script markup inside its bytes (a GIF/HTML polyglot, a
  `<script>` in a comment or metadata chunk) is re-encoded too, so the stored file holds the
  pixels only. Files that are markup (SVG, HTML, whatever their extension) do not open as
  images and are rejected, naming what they look like.
- The thumbnail is a JPEG whose longest side is settings.THUMBNAIL_SIZE, on white where the
  image is transparent.
- Stored files are named by their sha256 (labeling.models.image_upload_to), never by the name
  the user gave. That name is kept for display as `original_name`, cleaned by
  upload_name_clean (no control or bidirectional-override characters, NFC, at most the
  field's length); the report names files by the same cleaned name.

GUARANTEES
- Each file is its own unit: a rejected file leaves no row and no stored file, and the good
  files beside it are stored. Files are written through Django's storage API only, then the row
  is inserted in its own transaction (with the uploader's annotation when a label is given); if
  that insert fails the stored files are deleted again. Call it outside a transaction: a caller
  that later rolls back leaves stored files with no row.
- A file whose sha256 is already in the project (stored before, earlier in the same upload, or
  by a concurrent upload that wins the race on the unique constraint) is reported as a
  duplicate of that image and not stored twice.
- After the commit, `labeling.signals.images_created` is sent once with the new image ids.

WHEN THE STORAGE FAILS (disk full, S3 unreachable or refusing: labelplatform.media_storage)
- The file being written leaves nothing: no row, no image file, no thumbnail (the local
  backend never leaves a partly written file either).
- Nothing more is written in this ingest: a storage failure is about the storage, not the
  file, so the next files would only fail the same way (and fill a disk the database may share
  to its last byte). Files stored before it stay stored, each a complete unit. The failing
  file and every later new file are reported as rejected with the failure's message; later
  duplicates and unreadable files are still reported as such. `report.storage_failure` says
  what happened (full or unavailable), for the caller to answer 507 or 503.
- Other errors (the database going away while inserting a row) are raised, after deleting
  that file's stored files.
"""

import hashlib
import io
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO, cast

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from labeling.image_files import (
    IngestLimits,
    PreparedImage,
    RejectedFile,
    human_bytes,
    image_prepare,
    too_many_bytes,
)
from labeling.models import Image, LabelClass, Project, Split
from labeling.near_copies import NearCopyIndex
from labeling.services import annotation_create
from labeling.signals import images_created
from labeling.splits import SplitAllocator, split_allocator_for
from labelplatform.media_storage import StorageFailure, storage_failure

logger = logging.getLogger(__name__)

AUTO_SPLIT = "auto"

# Duplicate lookups are batched: one query per this many files (or bytes held in memory).
LOOKUP_BATCH_FILES = 64
LOOKUP_BATCH_BYTES = 128 * 1024 * 1024
ZIP_READ_CHUNK = 1024 * 1024

# A CharField: its max_length is always set.
ORIGINAL_NAME_MAX_LENGTH = cast(int, Image._meta.get_field("original_name").max_length)
# Characters that change how the text around them reads rather than being read: the
# bidirectional embeddings, overrides and isolates (U+202E shows "cod.exe" as "exe.doc") and
# the invisible direction marks.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Controls (NUL, newlines, terminal escapes), lone surrogates (undecodable file-system
# names), line and paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


@dataclass
class IncomingFile:
    name: str  # the name the user gave it (zip members: their path in the zip)
    file: IO[bytes]  # readable, seekable


@dataclass
class IngestReport:
    created: list[Image] = field(default_factory=list)
    duplicates: list[tuple[str, Image]] = field(default_factory=list)  # (name, the original)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    storage_failure: StorageFailure | None = None  # the storage refused a write: see above


class _StorageWriteFailed(Exception):
    def __init__(self, failure: StorageFailure) -> None:
        super().__init__(failure.cause)
        self.failure = failure


@dataclass
class _Candidate:
    """One file's bytes (read within the limits, hashed), or why they could not be read."""

    name: str
    data: bytes = b""
    sha256: str = ""
    error: str = ""


def upload_name_clean(name: str) -> str:
    """The name a user gave a file, fit to store and show: NFC (a name typed on macOS and one
    typed on Linux compare equal), without control, bidirectional-override or separator
    characters, at most ORIGINAL_NAME_MAX_LENGTH characters (the extension kept, an ellipsis
    where the middle was), never empty. Paths in it (zip members) are kept: they are shown,
    never used to store anything."""
    text = "".join(
        char
        for char in unicodedata.normalize("NFC", name)
        if char not in _BIDI_CONTROLS and unicodedata.category(char) not in _DROPPED_CATEGORIES
    ).strip()
    if not text:
        return "unnamed"
    if len(text) <= ORIGINAL_NAME_MAX_LENGTH:
        return text
    ellipsis = "\N{HORIZONTAL ELLIPSIS}"
    stem, dot, extension = text.rpartition(".")
    if dot and 0 < len(extension) <= 16 and "/" not in extension:
        return f"{stem[: ORIGINAL_NAME_MAX_LENGTH - len(extension) - 2]}{ellipsis}.{extension}"
    return text[: ORIGINAL_NAME_MAX_LENGTH - 1] + ellipsis


def image_ingest(
    *,
    project: Project,
    uploaded_by: User | None,
    files: Iterable[IncomingFile],
    split: str = AUTO_SPLIT,
    label: LabelClass | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Validate, deduplicate and store the files (zips expanded) as images of the project.

    Writes one Image row and two stored files (image, thumbnail) per new image, plus the
    uploader's annotation when `label` is given. `split` is "auto" (stratified by `label`, see
    labeling.splits) or an explicit split for every file. `on_progress(done)` is called after
    each file (zip members count one each). Sends `images_created` after commit.
    Raises ValidationError for an unknown split or a label of another project; problems with
    files are never raised, they are reported in the IngestReport.
    """
    if split != AUTO_SPLIT and split not in Split.values:
        raise ValidationError(
            f"Unknown split {split!r}; use auto or one of {', '.join(Split.values)}."
        )
    if label is not None and label.project_id != project.pk:
        raise ValidationError(f"{label.name!r} is not a class of this project.")
    if label is not None and uploaded_by is None:
        raise ValidationError("A label needs an uploader to record it as their annotation.")

    limits = IngestLimits.from_settings()
    allocator = split_allocator_for(project=project) if split == AUTO_SPLIT else None
    near_copies = NearCopyIndex.for_project(project=project) if split == AUTO_SPLIT else None
    stratum = label.pk if label is not None else None
    report = IngestReport()
    created_by_sha256: dict[str, Image] = {}
    rejected_by_sha256: dict[str, str] = {}
    done = 0

    for batch in _batches(_candidates(files, limits)):
        known = _images_by_sha256(project=project, sha256s={c.sha256 for c in batch if not c.error})
        for candidate in batch:
            if candidate.error:
                report.rejected.append((candidate.name, candidate.error))
            elif original := known.get(candidate.sha256) or created_by_sha256.get(candidate.sha256):
                report.duplicates.append((candidate.name, original))
            elif reason := rejected_by_sha256.get(candidate.sha256):
                report.rejected.append((candidate.name, reason))
            elif report.storage_failure is not None:
                report.rejected.append((candidate.name, report.storage_failure.message))
            else:
                try:
                    prepared = image_prepare(candidate.data, limits=limits)
                except RejectedFile as rejection:
                    rejected_by_sha256[candidate.sha256] = str(rejection)
                    report.rejected.append((candidate.name, str(rejection)))
                else:
                    try:
                        image, original = _image_store(
                            project=project,
                            uploaded_by=uploaded_by,
                            name=candidate.name,
                            sha256=candidate.sha256,
                            prepared=prepared,
                            split=split,
                            allocator=allocator,
                            near_copies=near_copies,
                            stratum=stratum,
                            label=label,
                        )
                    except _StorageWriteFailed as failed:
                        logger.error(
                            "storage refused a write; nothing more is stored in this upload",
                            extra={"file": candidate.name, "error": failed.failure.cause},
                        )
                        report.storage_failure = failed.failure
                        report.rejected.append((candidate.name, failed.failure.message))
                    else:
                        if original is not None:
                            report.duplicates.append((candidate.name, original))
                        else:
                            assert image is not None  # one of the two, see _image_store
                            created_by_sha256[candidate.sha256] = image
                            report.created.append(image)
            done += 1
            if on_progress is not None:
                on_progress(done)

    if report.created:
        transaction.on_commit(
            partial(
                images_created.send,
                sender=Project,
                project=project,
                image_ids=[image.pk for image in report.created],
            )
        )
    return report


def storage_failure_detail(report: IngestReport) -> str:
    """One sentence for the uploader about an ingest the storage cut short."""
    failure = report.storage_failure
    assert failure is not None
    not_stored = sum(1 for _, reason in report.rejected if reason == failure.message)
    what = (
        "The server's storage is full"
        if failure.full
        else "The server could not write to its storage"
    )
    return f"{what}: {len(report.created)} file(s) stored, {not_stored} not stored."


# --------------------------------------------------------------------------------------
# Storing one image
# --------------------------------------------------------------------------------------


def _image_store(
    *,
    project: Project,
    uploaded_by: User | None,
    name: str,
    sha256: str,
    prepared: PreparedImage,
    split: str,
    allocator: SplitAllocator | None,
    stratum: int | None,
    label: LabelClass | None,
    near_copies: NearCopyIndex | None = None,
) -> tuple[Image | None, Image | None]:
    """Store the files, then insert the row. Returns (new image, None) or, when a concurrent
    upload stored the same sha256 first, (None, that image). Raises _StorageWriteFailed when
    the storage refuses a file, after deleting what it had stored. An automatic split puts a
    copy of a stored picture (near_copies) in that picture's split, so it leaks nothing."""
    copy_split = (
        near_copies.split_of_copy(prepared.visual_hash, prepared.visual_hash_mirrored)
        if allocator is not None and near_copies is not None and prepared.visual_hash
        else None
    )
    if allocator is not None and copy_split is not None:
        chosen_split = copy_split
        allocator.record(stratum, copy_split)
    else:
        chosen_split = allocator.assign(stratum) if allocator is not None else split
    image = Image(
        project=project,
        original_name=name,  # cleaned by _candidates
        sha256=sha256,
        width=prepared.width,
        height=prepared.height,
        format=prepared.format,
        split=chosen_split,
        uploaded_by=uploaded_by,
        visual_hash=prepared.visual_hash,
        visual_hash_mirrored=prepared.visual_hash_mirrored,
    )
    try:
        # upload_to names both files after the sha256; the names given here are ignored.
        image.file.save(
            f"image.{prepared.format.lower()}", ContentFile(prepared.content), save=False
        )
        image.thumbnail.save("thumbnail.jpg", ContentFile(prepared.thumbnail), save=False)
    except BaseException as error:
        _stored_files_delete(image)
        failure = storage_failure(error) if isinstance(error, Exception) else None
        if failure is None:
            raise
        if allocator is not None:
            allocator.release(stratum, chosen_split)
        raise _StorageWriteFailed(failure) from error
    try:
        with transaction.atomic():
            image.save()
            if label is not None:
                assert uploaded_by is not None  # image_ingest refuses a label without one
                # annotation_create returns the image as it left the consensus update.
                image = annotation_create(image=image, user=uploaded_by, label_class=label).image
    except IntegrityError:
        winner = Image.objects.filter(project=project, sha256=sha256).first()
        # A storage without atomic create-if-absent (S3) may have given both uploads the same
        # name for the same bytes: never delete what the winner's row points to.
        keep = {winner.file.name, winner.thumbnail.name} if winner else set()
        _stored_files_delete(image, keep=keep)
        if winner is None:
            raise
        if allocator is not None:
            allocator.release(stratum, chosen_split)
        return None, winner
    except BaseException:
        _stored_files_delete(image)
        raise
    if near_copies is not None and prepared.visual_hash:
        near_copies.add(prepared.visual_hash, chosen_split)
    return image, None


def _stored_files_delete(image: Image, *, keep: Collection[str] = ()) -> None:
    for stored in (image.file, image.thumbnail):
        if stored.name and stored.name not in keep:
            try:
                stored.delete(save=False)
            except Exception:
                # The original failure matters more; an orphan file is only wasted space.
                logger.exception("Could not delete %s after a failed ingest", stored.name)


def _images_by_sha256(*, project: Project, sha256s: set[str]) -> dict[str, Image]:
    if not sha256s:
        return {}
    return {
        image.sha256: image for image in Image.objects.filter(project=project, sha256__in=sha256s)
    }


# --------------------------------------------------------------------------------------
# Reading files and zip members within the limits
# --------------------------------------------------------------------------------------


def _candidates(files: Iterable[IncomingFile], limits: IngestLimits) -> Iterator[_Candidate]:
    for incoming in files:
        name = upload_name_clean(incoming.name)
        if name.lower().endswith(".zip"):
            yield from _zip_candidates(incoming, name, limits)
        else:
            yield _file_candidate(incoming, name, limits)


def _batches(candidates: Iterator[_Candidate]) -> Iterator[list[_Candidate]]:
    batch: list[_Candidate] = []
    held = 0
    for candidate in candidates:
        batch.append(candidate)
        held += len(candidate.data)
        if len(batch) >= LOOKUP_BATCH_FILES or held >= LOOKUP_BATCH_BYTES:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _hashed(name: str, data: bytes) -> _Candidate:
    if not data:
        return _Candidate(name, error="file is empty (0 bytes)")
    return _Candidate(name, data=data, sha256=hashlib.sha256(data).hexdigest())


def _file_candidate(incoming: IncomingFile, name: str, limits: IngestLimits) -> _Candidate:
    stream = incoming.file
    try:
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        if size > limits.max_bytes:
            return _Candidate(name, error=too_many_bytes(size, limits))
        data = stream.read(limits.max_bytes + 1)
    except OSError as exc:
        return _Candidate(name, error=f"file could not be read ({exc})")
    if len(data) > limits.max_bytes:
        return _Candidate(name, error=too_many_bytes(len(data), limits))
    return _hashed(name, data)


def _zip_candidates(
    incoming: IncomingFile, name: str, limits: IngestLimits
) -> Iterator[_Candidate]:
    try:
        archive = zipfile.ZipFile(incoming.file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        yield _Candidate(name, error="not a valid zip archive")
        return
    with archive:
        members = archive.infolist()
        if len(members) > limits.zip_max_members:
            yield _Candidate(
                name,
                error=f"zip has {len(members):,} entries, over the limit of "
                f"{limits.zip_max_members:,}",
            )
            return
        declared = sum(member.file_size for member in members)
        if declared > limits.zip_max_uncompressed_bytes:
            yield _Candidate(
                name,
                error=f"zip would expand to {human_bytes(declared)}, over the "
                f"{human_bytes(limits.zip_max_uncompressed_bytes)} limit (zip bomb?)",
            )
            return
        expanded = 0
        for member in members:
            if member.is_dir() or _is_system_entry(member.filename):
                continue
            # The raw name is checked (traversal, nested zips); the clean one is shown.
            member_name = upload_name_clean(member.filename)
            if reason := _member_refusal(member, limits):
                yield _Candidate(member_name, error=reason)
                continue
            try:
                data = _member_read(archive, member, limits)
            except RejectedFile as rejection:
                yield _Candidate(member_name, error=str(rejection))
                continue
            expanded += len(data)
            if expanded > limits.zip_max_uncompressed_bytes:
                # Only reachable when headers lie; stop expanding this archive altogether.
                yield _Candidate(
                    name,
                    error=f"zip expands past the "
                    f"{human_bytes(limits.zip_max_uncompressed_bytes)} limit (zip bomb?)",
                )
                return
            yield _hashed(member_name, data)


def _is_system_entry(path: str) -> bool:
    # macOS resource forks (__MACOSX/, ._name), .DS_Store and other dotfiles are not uploads.
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    return any(part == "__MACOSX" or (part.startswith(".") and part != "..") for part in parts)


def _member_refusal(member: zipfile.ZipInfo, limits: IngestLimits) -> str:
    path = member.filename.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "absolute path in a zip refused"
    if ".." in path.split("/"):
        return "path with '..' in a zip refused (path traversal)"
    if path.lower().endswith(".zip"):
        return "zip inside a zip is not expanded"
    if member.file_size and (
        member.compress_size == 0 or member.file_size > limits.zip_max_ratio * member.compress_size
    ):
        ratio = member.file_size // max(member.compress_size, 1)
        return (
            f"compression ratio {ratio:,}:1 is over the {limits.zip_max_ratio}:1 limit (zip bomb?)"
        )
    if member.file_size > limits.max_bytes:
        return too_many_bytes(member.file_size, limits)
    return ""


def _member_read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: IngestLimits) -> bytes:
    """The member's bytes, counted while reading: headers can lie about the size."""
    allowed = min(member.file_size, limits.max_bytes)
    chunks: list[bytes] = []
    read = 0
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(ZIP_READ_CHUNK):
                read += len(chunk)
                if read > allowed:
                    raise RejectedFile(
                        "zip member holds more data than its header declares (zip bomb?)"
                        if read > member.file_size
                        else too_many_bytes(read, limits)
                    )
                chunks.append(chunk)
    except RuntimeError as exc:  # zipfile's way of saying "encrypted, password required"
        raise RejectedFile(f"zip member could not be read ({exc})") from exc
    except NotImplementedError as exc:
        raise RejectedFile(f"zip member uses an unsupported compression ({exc})") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise RejectedFile(f"zip member is corrupt ({exc})") from exc
    return b"".join(chunks)
