"""--scale auto checks the table's choice on the image itself: never worse
than the plain codec at --quality, in its bytes plus our header."""

import numpy as np
import pytest
from skimage import data

import hybridcodec
from hybridcodec import codecs, pipeline
from hybridcodec import scale as scales
from hybridcodec.coding import CodingPath
from hybridcodec.container import unpack
from hybridcodec.metrics import psnr

PHOTOS = {"astronaut": data.astronaut()[:256, :320], "coffee": data.coffee()[:240, :320]}


@pytest.mark.parametrize("codec", ["jpeg", "webp", "avif", "jpegxl"])
@pytest.mark.parametrize("quality", [5, 10, 40])
def test_auto_is_never_worse_than_the_plain_codec_in_its_bytes_plus_header(codec, quality):
    backend = codecs.get_codec(codec)
    own = backend.encoder_quality(quality)  # --quality means the common default's bytes at it
    for name, photo in PHOTOS.items():
        plain = CodingPath(backend, own)
        _, plain_out = plain.round_trip(photo)
        data_ = hybridcodec.compress(photo, codec=codec, quality=quality)
        restored = hybridcodec.decompress(data_)
        budget = len(hybridcodec.compress(photo, codec=codec, quality=own, scale=1))
        assert len(data_) <= budget, (name, codec, quality)
        assert psnr(photo, restored) >= psnr(photo, plain_out) - 1e-9, (name, codec, quality)


def test_auto_replaces_a_table_choice_that_loses_on_this_image():
    """JPEG XL q15: the table codes half size (it won on the 1.2-megapixel
    choose/ photos); on this smaller photo its file is larger than the
    full-size one, and the full-size file restores better in those bytes."""
    photo = data.astronaut()
    table = pipeline.encode(photo, "jpegxl", 15, "table")
    auto = pipeline.encode(photo, "jpegxl", 15, "auto")
    assert not table.hc.header.scale.is_full and auto.hc.header.scale.is_full
    assert psnr(photo, hybridcodec.decompress(auto.data)) > psnr(photo, hybridcodec.decompress(table.data)) + 0.1


def test_table_keeps_the_fixed_table_and_is_accepted_everywhere(tmp_path):
    from PIL import Image

    from hybridcodec.cli import main

    photo = data.astronaut()[:128, :128]
    table = unpack(hybridcodec.compress(photo, codec="webp", quality=5, scale="table"))
    assert table.header.scale is scales.HALF  # the table's choice, kept on this image
    Image.fromarray(photo).save(tmp_path / "x.png")
    assert main(["compress", str(tmp_path / "x.png"), "--codec", "webp", "--scale", "table"]) == 0
    Image.fromarray(photo).save(tmp_path / "y.hc", codec="webp", quality=5, scale="table")
    assert np.asarray(Image.open(tmp_path / "y.hc")).shape == photo.shape
