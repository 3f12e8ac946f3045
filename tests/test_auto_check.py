"""--scale auto checks the table's choice on the image itself: never worse
than the plain codec at --quality, in its bytes plus our header, by the
tune's metric (decide.score: PSNR or SSIMULACRA2)."""

import numpy as np
import pytest
from skimage import data

import hybridcodec
from hybridcodec import codecs, decide, pipeline, zoo
from hybridcodec import scale as scales
from hybridcodec.assembly import encode_path
from hybridcodec.coding import CodingPath
from hybridcodec.container import unpack
from hybridcodec.decide import score
from hybridcodec.metrics import psnr
from hybridcodec.strength import overhead

PHOTOS = {"astronaut": data.astronaut()[:256, :320], "coffee": data.coffee()[:240, :320]}


@pytest.mark.parametrize("codec", ["jpeg", "webp", "avif", "jpegxl"])
@pytest.mark.parametrize("quality", [5, 10, 40])
@pytest.mark.parametrize("tune", codecs.TUNES)
def test_auto_is_never_worse_than_the_plain_codec_in_its_bytes_plus_header(codec, quality, tune):
    backend = codecs.get_codec(codec).tuned(tune)  # the plain file of the tune's encoder
    own = backend.encoder_quality(quality)  # --quality means the common default's bytes at it
    for name, photo in PHOTOS.items():
        plain = CodingPath(backend, own)
        _, plain_out = plain.round_trip(photo)
        data_ = hybridcodec.compress(photo, codec=codec, quality=quality, tune=tune)
        restored = hybridcodec.decompress(data_)
        # header too: the restoration's strength per tile, where it pays
        full = hybridcodec.compress(photo, codec=codec, quality=own, scale=1, tune=tune)
        assert len(data_) <= len(full) + overhead(unpack(data_).strengths), (name, codec, quality)
        assert score(tune, photo, restored) >= score(tune, photo, plain_out) - 1e-9, (name, codec, quality)


def test_auto_replaces_a_table_choice_that_loses_on_this_image():
    """JPEG XL q15: the table codes half size (it won on the 1.2-megapixel
    choose/ photos); on this smaller photo its file is larger than the
    full-size one, and the full-size file restores better in those bytes."""
    photo = data.astronaut()
    table = pipeline.encode(photo, "jpegxl", 15, "table", tune="psnr")
    auto = pipeline.encode(photo, "jpegxl", 15, "auto", tune="psnr")
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


@pytest.mark.parametrize("codec, quality", [("webp", 10), ("jpeg", 30)])
def test_large_images_decide_on_sampled_tiles(monkeypatch, codec, quality):
    """Above SAMPLED_DECISION_PIXELS the decision restores only a mosaic of
    tiles; the whole image is coded once on the path kept, within the
    full-size file's bytes."""
    import cv2

    monkeypatch.setattr(decide, "SAMPLED_DECISION_PIXELS", 200_000)
    monkeypatch.setattr(decide, "SAMPLE_TILE", 128)
    rgb = cv2.resize(data.astronaut(), (700, 580), interpolation=cv2.INTER_AREA)
    mosaic = decide.sample_mosaic(rgb)
    assert mosaic.shape == (384, 384, 3)
    assert np.array_equal(mosaic[:128, :128], rgb[:128, :128])
    assert np.array_equal(mosaic[-128:, -128:], rgb[448:576, 512:640])  # last origins on multiples of 64

    restored_sizes = []
    real_decode = decide.decode
    monkeypatch.setattr(decide, "decode", lambda data, **kw: restored_sizes.append(
        unpack(data).header.width) or real_decode(data, **kw))
    encoded = pipeline.encode(rgb, codec, quality, tune="psnr")
    assert restored_sizes and set(restored_sizes) == {384}  # only the mosaic was restored
    backend = codecs.get_codec(codec).tuned("psnr")
    full_point = zoo.operating_point(codec, backend.encoder_quality(quality), scales.FULL)
    full = encode_path(rgb, pipeline.EncodeSettings(codec=codec, quality=quality, tune="psnr"), full_point)
    assert len(encoded.data) <= len(full.data)
    plain = CodingPath(backend, backend.encoder_quality(quality))
    plain_psnr = psnr(rgb, plain.decode(plain.encode(rgb)))
    assert psnr(rgb, real_decode(encoded.data).image) > plain_psnr - 0.1
