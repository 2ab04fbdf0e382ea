"""One uploaded file, on its own: the limits it must keep, the checks that reject it with a
reason for the uploader, and what gets stored for it (the file as uploaded when browsers and the
classifier read it as it is, else re-encoded; and a thumbnail). labeling.ingest calls it for
every file and zip member and holds the rules for a whole upload (duplicates, storage, splits);
its docstring says what is stored and why.
"""

import io
import re
from dataclasses import dataclass

from django.conf import settings
from PIL import ExifTags, ImageCms, ImageOps
from PIL import Image as PILImage

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
ACCEPTED_FORMATS_TEXT = "JPEG, PNG, WebP, GIF or BMP"
# Pillow modes that browsers and the classifier read without conversion.
BROWSER_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
# HTML that a browser would act on, anywhere in an image's bytes (see _normalisation_reasons).
_MARKUP = re.compile(rb"<(?:script|html|body|iframe|object|embed|svg[\s>/]|!doctype)", re.I)
MARKUP_REMOVED = "markup inside the file removed"


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


@dataclass
class PreparedImage:
    """What gets stored for one valid file."""

    content: bytes
    format: str
    width: int
    height: int
    thumbnail: bytes


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


def too_many_bytes(size: int, limits: IngestLimits) -> str:
    return f"file is {human_bytes(size)}, over the {human_bytes(limits.max_bytes)} limit"


def _megapixels(pixels: int) -> str:
    value = pixels / 1_000_000
    text = f"{value:,.1f}" if value >= 1 else f"{value:.3g}"
    return text.removesuffix(".0")


def human_bytes(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"
