"""Files for upload tests, built on the fly: good images, tricky-but-valid ones, and bad ones.

Every builder returns bytes. Nothing here is checked in as a binary fixture.
"""

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image as PILImage

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def encoded(picture: PILImage.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=format, **options)
    return buffer.getvalue()


def photo(size=(64, 48), seed=0) -> PILImage.Image:
    """A noisy RGB picture; different seeds give different pixels."""
    rng = np.random.default_rng(seed)
    return PILImage.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def jpeg(size=(64, 48), seed=0) -> bytes:
    return encoded(photo(size, seed), "JPEG", quality=90)


def png(size=(64, 48), seed=0) -> bytes:
    return encoded(photo(size, seed), "PNG")


def webp(seed=0) -> bytes:
    return encoded(photo(seed=seed), "WEBP", quality=80)


def gif(seed=0) -> bytes:
    return encoded(photo(seed=seed).convert("P"), "GIF")


def bmp(seed=0) -> bytes:
    return encoded(photo(seed=seed), "BMP")


def truncated_jpeg() -> bytes:
    whole = jpeg(size=(256, 192), seed=99)
    return whole[: len(whole) // 2]


def text_named_jpg() -> bytes:
    return b"These are my holiday notes, not a picture.\nDay 1: coffee.\n"


def html_page() -> bytes:
    return b"<!DOCTYPE html>\n<html><head><title>Photo</title></head><body>404</body></html>\n"


def svg_drawing() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="red"/></svg>\n'
    )


def tiff() -> bytes:
    return encoded(photo(), "TIFF")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _png_file(width, height, bit_depth, color_type, raw_rows: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw_rows))
        + _png_chunk(b"IEND", b"")
    )


def huge_png(width=20000, height=20000) -> bytes:
    """A PNG whose header declares width x height, with a token of pixel data: only a decoder
    that trusted the header would try to allocate the whole image."""
    return _png_file(width, height, 1, 0, b"\x00" * 64)


def png_16bit_gray(values: np.ndarray) -> bytes:
    """A 16-bit grayscale PNG with the given uint16 samples."""
    return encoded(PILImage.fromarray(values.astype(np.uint16)), "PNG")


def png_16bit_rgb(width=40, height=30) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one, so the bytes are built here)."""
    samples = np.zeros((height, width, 3), dtype=">u2")
    samples[..., 0] = 65535  # red at full 16-bit intensity
    rows = b"".join(b"\x00" + samples[y].tobytes() for y in range(height))
    return _png_file(width, height, 16, 2, rows)


def cmyk_jpeg(size=(40, 30)) -> bytes:
    # Full magenta and yellow, no cyan or black: red once converted to RGB.
    return encoded(PILImage.new("CMYK", size, (0, 255, 255, 0)), "JPEG", quality=95)


def exif_rotated_jpeg() -> bytes:
    """Stored 60x30 with a red left half and a blue right half, EXIF orientation 6 ("rotate
    90° clockwise to display"): upright, it is 30x60 with red on top and blue below."""
    picture = PILImage.new("RGB", (60, 30), BLUE)
    picture.paste(RED, (0, 0, 30, 30))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # Orientation
    return encoded(picture, "JPEG", quality=95, exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [PILImage.new("RGB", (20, 20), colour) for colour in (RED, GREEN, BLUE)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def transparent_png() -> bytes:
    picture = PILImage.new("RGBA", (20, 20), (0, 0, 0, 0))
    picture.paste((0, 0, 255, 255), (0, 0, 10, 20))
    return encoded(picture, "PNG")


def zip_archive(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip with the members in order; names are written exactly as given (even ../x)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_bomb_member(size=64 * 1024 * 1024) -> bytes:
    """Bytes that deflate about a thousandfold: the payload of a zip bomb."""
    return b"\x00" * size


def zip_with_lying_header(real: bytes, declared_size: int) -> bytes:
    """A one-member zip whose headers declare `declared_size` bytes for `real`'s longer data."""
    archive = zip_archive({"liar.png": real})
    local = archive.index(b"PK\x03\x04")
    central = archive.index(b"PK\x01\x02")
    patched = bytearray(archive)
    struct.pack_into("<I", patched, local + 22, declared_size)  # local header: uncompressed
    struct.pack_into("<I", patched, central + 24, declared_size)  # central directory
    return bytes(patched)
