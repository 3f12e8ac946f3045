import numpy as np
from PIL import Image

import hybridcodec  # registers the plugin
from hybridcodec import codecs
from hybridcodec.container import unpack
from hybridcodec.metrics import psnr


def test_save_and_open(tmp_path, photo):
    path = tmp_path / "x.hc"
    Image.fromarray(photo).save(path, codec="jpeg", quality=70)
    header = unpack(path.read_bytes()).header
    # quality 70 means the common default's bytes at 70: the encoder's own quality for that
    assert (header.codec, header.quality) == ("jpeg", codecs.get_codec("jpeg").encoder_quality(70))
    with Image.open(path) as image:
        assert image.format == "HC" and image.size == (128, 96) and image.mode == "RGB"
        assert psnr(photo, np.asarray(image)) > 28


def test_rgba_and_gray(tmp_path, photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 77, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.hc")
    with Image.open(tmp_path / "a.hc") as image:
        assert image.mode == "RGBA" and np.all(np.asarray(image)[:, :, 3] == 77)
    Image.fromarray(photo[:, :, 0]).save(tmp_path / "g.hc", codec="avif")
    with Image.open(tmp_path / "g.hc") as image:
        assert image.mode == "L"


def test_registered_extension_and_mime():
    assert Image.registered_extensions()[".hc"] == "HC"
    assert Image.MIME["HC"] == "image/x-hybridcodec"


def test_a_damaged_file_is_reported_as_damaged_not_unidentified(tmp_path, photo):
    import pytest

    path = tmp_path / "x.hc"
    Image.fromarray(photo).save(path)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(hybridcodec.HybridCodecError, match="truncated"):
        Image.open(path)
