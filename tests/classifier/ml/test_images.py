import numpy as np
import pytest
from PIL import Image

from classifier.ml import InvalidImageError, decode_image
from tests.support.pixels import encode


def left_red_right_blue(width=60, height=30):
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    return pixels


def test_decodes_jpeg_and_png_into_square_rgb_uint8():
    for data in (encode(left_red_right_blue(), "PNG"), encode(left_red_right_blue(), "JPEG")):
        pixels = decode_image(data, 32)

        assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8
        assert pixels[16, 2, 0] > 200 and pixels[16, 2, 2] < 60  # left stays red
        assert pixels[16, 29, 2] > 200 and pixels[16, 29, 0] < 60  # right stays blue


def test_applies_the_exif_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the left edge ends up on top
    data = encode(left_red_right_blue(), "JPEG", exif=exif.tobytes())

    pixels = decode_image(data, 32)

    assert pixels[2, 16, 0] > 200 and pixels[2, 16, 2] < 60  # top is red
    assert pixels[29, 16, 2] > 200 and pixels[29, 16, 0] < 60  # bottom is blue


def test_grayscale_becomes_three_channels():
    gray = np.full((10, 10), 128, dtype=np.uint8)

    pixels = decode_image(encode(gray), 8)

    assert pixels.shape == (8, 8, 3) and (pixels == 128).all()


def test_transparency_is_flattened_onto_white():
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)  # fully transparent black

    pixels = decode_image(encode(rgba), 8)

    assert (pixels == 255).all()


def test_bytes_that_are_not_an_image_raise_invalid_image_error():
    with pytest.raises(InvalidImageError, match="cannot decode"):
        decode_image(b"definitely not a picture", 32)
