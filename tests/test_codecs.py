import numpy as np
import pytest

from hybridcodec import codecs
from hybridcodec.errors import HybridCodecError
from hybridcodec.metrics import psnr

LOSSY = ["jpeg", "webp", "avif", "jpegxl"]


@pytest.mark.parametrize("name", LOSSY)
def test_lossy_round_trip_is_close_and_gets_better_with_quality(name, photo):
    codec = codecs.get_codec(name)
    low, high = codec.encode(photo, 10), codec.encode(photo, 90)
    decoded_low, decoded_high = codec.decode(low), codec.decode(high)
    assert decoded_high.shape == photo.shape and decoded_high.dtype == np.uint8
    assert len(high) > len(low)
    assert psnr(photo, decoded_high) > psnr(photo, decoded_low) > 20
    assert psnr(photo, decoded_high) > 33
    assert not np.array_equal(decoded_high, photo)  # really lossy, not lossless by default


def test_png_is_lossless(photo):
    codec = codecs.get_codec("png")
    assert np.array_equal(codec.decode(codec.encode(photo, 50)), photo)


@pytest.mark.parametrize("quality,expected", [(0, 1), (-5, 1), (100, 99), (250, 99), (42.4, 42)])
def test_quality_is_clamped_to_1_99(quality, expected):
    assert codecs.clamp_quality(quality) == expected


def test_quality_100_is_still_lossy_for_avif(photo):
    codec = codecs.get_codec("avif")
    assert not np.array_equal(codec.decode(codec.encode(photo, 100)), photo)


def test_unknown_codec_is_refused():
    with pytest.raises(HybridCodecError, match="unknown codec"):
        codecs.get_codec("bmp")


def test_encode_refuses_non_rgb(photo):
    with pytest.raises(ValueError):
        codecs.get_codec("webp").encode(photo[:, :, 0], 50)


def test_webp_size_limit_is_a_clear_error():
    with pytest.raises(HybridCodecError, match="16383"):
        codecs.get_codec("webp").check_size(16384, 10)


def test_registry_ids_are_unique_and_are_the_ones_the_format_lists():
    # docs/FORMAT.md lists these bytes; a file written with one must keep decoding
    assert {c: codecs.by_name(c).codec_id for c in codecs.names()} == {
        "png": 0, "jpeg": 1, "webp": 2, "avif": 3, "jpegxl": 4}
