"""Image ingest: validate uploaded files with Pillow, deduplicate by sha256, store the file
and its thumbnail, choose a split. Used by the upload page, the API and import_images.

INTERFACE (the shape is the contract for callers):

    @dataclass
    class IncomingFile:
        name: str            # the name the user gave it (zip members: their path in the zip)
        file: BinaryIO       # readable, seekable

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
from typing import BinaryIO, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from PIL import ExifTags, ImageCms, ImageOps
from PIL import Image as PILImage

from labeling.models import Image, LabelClass, Project, Split
from labeling.services import annotation_create
from labeling.signals import images_created
from labeling.splits import SplitAllocator, split_allocator_for
from labelplatform.media_storage import StorageFailure, storage_failure

logger = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
ACCEPTED_FORMATS_TEXT = "JPEG, PNG, WebP, GIF or BMP"
# Pillow modes that browsers and the classifier read without conversion.
BROWSER_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
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
# HTML that a browser would act on, anywhere in an image's bytes (see _normalisation_reasons).
_MARKUP = re.compile(rb"<(?:script|html|body|iframe|object|embed|svg[\s>/]|!doctype)", re.I)
MARKUP_REMOVED = "markup inside the file removed"


@dataclass
class IncomingFile:
    name: str  # the name the user gave it (zip members: their path in the zip)
    file: BinaryIO  # readable, seekable


@dataclass
class IngestReport:
    created: list[Image] = field(default_factory=list)
    duplicates: list[tuple[str, Image]] = field(default_factory=list)  # (name, the original)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    storage_failure: StorageFailure | None = None  # the storage refused a write: see above


@dataclass(frozen=True)
class IngestLimits:
    """The configurable limits, read from settings when an ingest starts."""

    max_pixels: int
    max_bytes: int
    thumbnail_size: int
    zip_max_members: int
    zip_max_uncompressed_bytes: int
    zip_max_ratio: int

    @classmethod
    def from_settings(cls) -> "IngestLimits":
        return cls(
            max_pixels=settings.IMAGE_MAX_PIXELS,
            max_bytes=settings.IMAGE_MAX_BYTES,
            thumbnail_size=settings.THUMBNAIL_SIZE,
            zip_max_members=settings.ZIP_MAX_MEMBERS,
            zip_max_uncompressed_bytes=settings.ZIP_MAX_UNCOMPRESSED_BYTES,
            zip_max_ratio=settings.ZIP_MAX_RATIO,
        )


class RejectedFile(Exception):
    """A file that cannot be ingested; the message says why, for the uploader."""


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


@dataclass
class PreparedImage:
    """What gets stored for one valid file."""

    content: bytes
    format: str
    width: int
    height: int
    thumbnail: bytes


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
) -> tuple[Image | None, Image | None]:
    """Store the files, then insert the row. Returns (new image, None) or, when a concurrent
    upload stored the same sha256 first, (None, that image). Raises _StorageWriteFailed when
    the storage refuses a file, after deleting what it had stored."""
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
            return _Candidate(name, error=_too_many_bytes(size, limits))
        data = stream.read(limits.max_bytes + 1)
    except OSError as exc:
        return _Candidate(name, error=f"file could not be read ({exc})")
    if len(data) > limits.max_bytes:
        return _Candidate(name, error=_too_many_bytes(len(data), limits))
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
                error=f"zip would expand to {_human_bytes(declared)}, over the "
                f"{_human_bytes(limits.zip_max_uncompressed_bytes)} limit (zip bomb?)",
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
                    f"{_human_bytes(limits.zip_max_uncompressed_bytes)} limit (zip bomb?)",
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
        return _too_many_bytes(member.file_size, limits)
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
                        else _too_many_bytes(read, limits)
                    )
                chunks.append(chunk)
    except RuntimeError as exc:  # zipfile's way of saying "encrypted, password required"
        raise RejectedFile(f"zip member could not be read ({exc})") from exc
    except NotImplementedError as exc:
        raise RejectedFile(f"zip member uses an unsupported compression ({exc})") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise RejectedFile(f"zip member is corrupt ({exc})") from exc
    return b"".join(chunks)


# --------------------------------------------------------------------------------------
# Validating and normalising one image
# --------------------------------------------------------------------------------------


def image_prepare(data: bytes, *, limits: IngestLimits) -> PreparedImage:
    """Decode the bytes once and return what to store; RejectedFile says why not.

    The pixel limit is checked on the header's dimensions before anything is decoded.
    """
    try:
        picture: PILImage.Image = PILImage.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except PILImage.DecompressionBombError as exc:
        raise RejectedFile(_too_many_pixels(_declared_size(data), limits)) from exc
    except PILImage.UnidentifiedImageError as exc:
        raise RejectedFile(_unreadable_reason(data)) from exc
    except Exception as exc:
        # Pillow's plugins raise many exception types on malformed headers.
        raise RejectedFile("file is truncated or corrupt") from exc
    width, height = picture.size
    if width < 1 or height < 1:
        raise RejectedFile("file is truncated or corrupt (no pixels)")
    if width * height > limits.max_pixels:
        raise RejectedFile(_too_many_pixels((width, height), limits))

    try:
        animated = bool(getattr(picture, "is_animated", False))
        reasons: list[str] | None = None
        if picture.format == "JPEG":
            # Everything that decides a JPEG's fate is in its header. Stored as it is, it only
            # needs decoding for validation and the thumbnail: libjpeg's scaled decode still
            # reads every byte (so truncation is caught) at a fraction of the cost.
            reasons = _normalisation_reasons(picture, data, animated=animated)
            if not reasons:
                picture.draft(picture.mode, (limits.thumbnail_size, limits.thumbnail_size))
        picture.load()
        if reasons is None:
            reasons = _normalisation_reasons(picture, data, animated=animated)
    except Exception as exc:
        # As above: decoding damaged data fails in plugin-specific ways (OSError for a
        # truncated JPEG, SyntaxError, ValueError, zlib and struct errors, ...).
        raise RejectedFile("file is truncated or corrupt") from exc

    # Pillow writes an image's comment into the JPEGs it encodes from it (the thumbnail
    # too); nothing we write carries one.
    picture.info.pop("comment", None)
    if MARKUP_REMOVED in reasons:
        picture.info.pop("icc_profile", None)  # free text too: the markup may be in there
    assert picture.format is not None  # Image.open names the format it decoded
    if not reasons:
        content, stored_format, stored_size = data, picture.format, (width, height)
    else:
        source_format = picture.format
        picture = _normalised(picture)
        content, stored_format = _encoded(picture, source_format=source_format)
        stored_size = picture.size
    return PreparedImage(
        content=content,
        format=stored_format,
        width=stored_size[0],
        height=stored_size[1],
        thumbnail=_thumbnail_jpeg(picture, limits.thumbnail_size),
    )


def _normalisation_reasons(picture: PILImage.Image, data: bytes, *, animated: bool) -> list[str]:
    """Why the uploaded bytes cannot be stored as they are (empty: they can)."""
    reasons = []
    if picture.format == "BMP":
        reasons.append("BMP stored as PNG")
    if animated:
        reasons.append("animated: first frame kept")
    if picture.getexif().get(ExifTags.Base.Orientation, 1) in range(2, 9):
        reasons.append("EXIF orientation applied")
    if picture.mode not in BROWSER_MODES:
        reasons.append(f"{picture.mode} converted")
    # PNG's IHDR bit depth sits at byte 24; Pillow decodes 16-bit RGB(A) to 8 bits silently.
    if picture.format == "PNG" and len(data) > 24 and data[24] == 16:
        reasons.append("16-bit PNG reduced to 8 bits")
    # A valid image may also be a valid HTML page (markup in a comment, a metadata chunk or
    # after the image's end). Served as an image with nosniff it stays an image, but a copy
    # saved from an export or opened from another server might not: re-encoding keeps the
    # pixels and drops the rest. The patterns are long enough that the compressed data of an
    # honest photo matches them about once in thousands of files, which costs only that.
    if _MARKUP.search(data):
        reasons.append(MARKUP_REMOVED)
    return reasons


def _normalised(picture: PILImage.Image) -> PILImage.Image:
    """Upright, first frame, in a mode browsers read. Keeps the ICC profile only where the
    pixels are still in it."""
    upright = ImageOps.exif_transpose(picture)
    mode = upright.mode
    if mode in BROWSER_MODES:
        return upright
    icc_profile = upright.info.get("icc_profile")
    if mode == "CMYK" and icc_profile:
        try:
            converted = ImageCms.profileToProfile(
                upright,
                io.BytesIO(icc_profile),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
            assert converted is not None  # None only when converting in place
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = upright.convert("RGB")  # an unusable profile: plain conversion
    elif mode.startswith("I;16") or mode == "I":
        # 16-bit samples: scale to 8 bits (Pillow's plain conversion would clip at 255).
        converted = upright.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    elif "A" in mode or "a" in mode:
        converted = upright.convert("RGBA")
    else:
        converted = upright.convert("RGB")
    converted.info.pop("icc_profile", None)
    return converted


def _has_alpha(picture: PILImage.Image) -> bool:
    return picture.mode in ("RGBA", "LA") or (
        picture.mode == "P" and "transparency" in picture.info
    )


def _encoded(picture: PILImage.Image, *, source_format: str) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    icc_profile = picture.info.get("icc_profile")
    if source_format in ("JPEG", "WEBP") and not _has_alpha(picture):
        if picture.mode not in ("RGB", "L"):
            picture = picture.convert("RGB")
        picture.save(buffer, format="JPEG", quality=95, icc_profile=icc_profile)
        return buffer.getvalue(), "JPEG"
    picture.save(buffer, format="PNG", icc_profile=icc_profile)
    return buffer.getvalue(), "PNG"


def _thumbnail_jpeg(picture: PILImage.Image, size: int) -> bytes:
    if _has_alpha(picture):
        rgba = picture.convert("RGBA")
        thumb = PILImage.new("RGB", rgba.size, (255, 255, 255))
        thumb.paste(rgba, mask=rgba.getchannel("A"))
    elif picture.mode == "RGB":
        thumb = picture  # not needed any more; thumbnail() works in place
    else:
        thumb = picture.convert("RGB")
    thumb.thumbnail((size, size))
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Messages for the uploader
# --------------------------------------------------------------------------------------

# How the accepted formats start; a file that starts so but does not open is damaged.
_ACCEPTED_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
# Formats we can name when Pillow (limited to the accepted formats) cannot open a file.
_OTHER_IMAGE_SIGNATURES = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"8BPS", "Photoshop PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
)
_OTHER_FILE_SIGNATURES = (
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "a zip archive; name it .zip to upload its contents"),
    (b"\x1f\x8b", "gzip"),
    (b"Rar!", "RAR"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)


def _unreadable_reason(data: bytes) -> str:
    if data.startswith(_ACCEPTED_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "file is truncated or corrupt (its header is damaged)"
    for signature, name in _OTHER_IMAGE_SIGNATURES:
        if data.startswith(signature):
            return f"{name} is not accepted; use {ACCEPTED_FORMATS_TEXT}"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"mif1", b"msf1"):
            return f"HEIC is not accepted; use {ACCEPTED_FORMATS_TEXT}"
        if brand in (b"avif", b"avis"):
            return f"AVIF is not accepted; use {ACCEPTED_FORMATS_TEXT}"
        return "not a readable image (looks like a video)"
    looks_like = _looks_like(data)
    if looks_like:
        return f"not a readable image (looks like {looks_like})"
    return f"not a readable image (accepted: {ACCEPTED_FORMATS_TEXT})"


def _looks_like(data: bytes) -> str:
    for signature, name in _OTHER_FILE_SIGNATURES:
        if data.startswith(signature):
            return name
    head = data[:2048]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text or b"<body" in text:
        return "HTML"
    if text.startswith(b"<svg") or b"<svg" in text:
        return "SVG"
    if text.startswith(b"<?xml"):
        return "XML"
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off at the end of the window is still text.
        cut_at_end = exc.start >= len(head) - 3 and len(data) > len(head)
        decoded = head[: exc.start].decode("utf-8") if cut_at_end else ""
    if decoded and all(ch.isprintable() or ch in "\r\n\t" for ch in decoded):
        return "text"
    return ""


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """The dimensions in the header of an image too large for Image.open to return.

    Image.open refuses images past twice Pillow's own pixel guard before we can ask their
    size; the format plugins themselves read the header without that guard.
    """
    for format_name in ACCEPTED_FORMATS:
        factory, accept = PILImage.OPEN[format_name]
        accepted = accept is None or accept(data[:16])
        if not accepted or isinstance(accepted, str):  # a str is a warning: not this format
            continue
        try:
            return factory(io.BytesIO(data), "").size  # as Image.open calls it, no file name
        except Exception:
            continue
    return None


def _too_many_pixels(size: tuple[int, int] | None, limits: IngestLimits) -> str:
    limit = f"{_megapixels(limits.max_pixels)} MP"
    if size is None:
        return f"image has far too many pixels, over the {limit} limit"
    width, height = size
    return f"image is {width}×{height} = {_megapixels(width * height)} MP, over the {limit} limit"  # noqa: RUF001


def _too_many_bytes(size: int, limits: IngestLimits) -> str:
    return f"file is {_human_bytes(size)}, over the {_human_bytes(limits.max_bytes)} limit"


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    text = f"{value:,.1f}" if value >= 1 else f"{value:.3g}"
    return text.removesuffix(".0")


def _human_bytes(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"
