"""The jpeg-tables restoration contract: a JPEG network told the file's own
quantization tables and chroma subsampling, so that it serves every encoder."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

import hybridcodec
from hybridcodec import codecs, native, zoo
from hybridcodec.metrics import psnr

JPEG = codecs.get_codec("jpeg")


def pillow_jpeg(rgb, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def camera_tables(quality):
    """Tables shaped like a camera's: the IJG tables scaled, then bent per frequency."""
    rng = np.random.default_rng(7)
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return [[int(v) for v in np.clip(np.rint(np.asarray(base) * scale / 100 * rng.uniform(0.8, 1.25, 64)), 1, 255)]
            for base in (codecs._IJG_LUMA, codecs._IJG_CHROMA)]


def families(rgb, quality):
    """Plain JPEGs of one image from every encoder family reachable here."""
    return {
        "turbo 4:2:0": JPEG.configured("turbo").encode(rgb, quality),
        "mozjpeg flat 4:2:0": JPEG.configured("mozjpeg-flat").encode(rgb, quality),
        "mozjpeg finer chroma 4:2:0": JPEG.configured("mozjpeg").encode(rgb, quality),
        "mozjpeg default tables": codecs.get_codec("jpeg").configured("mozjpeg-default").encode(rgb, quality),
        "pillow 4:4:4": pillow_jpeg(rgb, quality=quality, subsampling=0),
        "camera tables 4:2:2": pillow_jpeg(rgb, qtables=camera_tables(quality), subsampling=1),
    }


def test_tables_and_subsampling_are_read_from_the_file():
    rgb = data.astronaut()[:64, :96]
    for options, subsampling in (({"subsampling": 0}, (1, 1)), ({"subsampling": 1}, (2, 1)),
                                 ({"subsampling": 2}, (2, 2))):
        tables = native.jpeg_tables(pillow_jpeg(rgb, quality=40, **options))
        assert tables["subsampling"] == subsampling
        assert tables["luma"][0] == 20 and tables["chroma"][0] == 21  # IJG DC steps at quality 40
    gray = native.jpeg_tables(pillow_jpeg(rgb[:, :, 0], quality=40))
    assert gray["chroma"] == gray["luma"] and gray["subsampling"] == (1, 1)
    flat = native.jpeg_tables(JPEG.configured("mozjpeg-flat").encode(rgb, 50))
    assert set(flat["luma"]) == set(flat["chroma"]) == {16} and flat["subsampling"] == (2, 2)  # table 1: flat 16
    assert native.jpeg_tables(b"\xff\xd8\xff\xdb\x00\x43\x00" + bytes(10)) is None  # truncated


@pytest.mark.parametrize("quality", [5, 30, 50, 90])
def test_the_default_mozjpeg_writes_finer_chroma_steps(quality):
    rgb = data.astronaut()[:64, :64]
    flat, finer = (native.jpeg_tables(JPEG.configured(e).encode(rgb, quality)) for e in ("mozjpeg-flat", "mozjpeg"))
    assert finer["luma"] == flat["luma"] and len(set(finer["chroma"])) == 1
    luma, chroma = finer["luma"][0], finer["chroma"][0]
    assert chroma < luma and abs(chroma - codecs.CHROMA_STEP * luma) <= 1  # within libjpeg's rounding
    assert native.jpeg_tables(JPEG.configured("mozjpeg").encode(rgb, 99))["chroma"][0] >= 1


def test_table_features_order_the_coarseness():
    rgb = data.astronaut()[:64, :64]
    coarse, fine = (JPEG.configured("turbo").table_features(JPEG.configured("turbo").encode(rgb, q)) for q in (10, 90))
    assert len(coarse) == 8 and all(0 <= f <= 1 for f in coarse)
    assert all(c > f for c, f in zip(coarse[:6], fine[:6], strict=True))
    assert coarse[6:] == [1.0, 1.0]  # 4:2:0


def test_a_jpeg_tables_network_is_shipped_and_serves_the_default_encoder():
    point = zoo.operating_point("jpeg", 30)  # the default (mozjpeg) table at --quality 30
    assert point.post is not None and point.post.scale.is_full and point.codec_quality == JPEG.encoder_quality(30)
    assert zoo.load(point.post).condition == "jpeg-tables"
    # plain JPEGs (any encoder's) get the network trained on many encoders' files
    assert zoo.load(zoo.plain_file_network("jpeg", 30)).condition == "jpeg-tables"


@pytest.mark.parametrize("quality", [10, 30, 50])
def test_every_encoders_plain_jpeg_is_restored(quality):
    """decompress restores a plain JPEG of any encoder: +0.3 dB or more on
    average at qualities up to 50, and never below the plain decode."""
    images = [data.astronaut(), data.chelsea(), data.coffee()]
    gains = {}
    for rgb in images:
        for family, jpeg in families(rgb, quality).items():
            plain = JPEG.decode(jpeg)
            restored = hybridcodec.decompress(jpeg)
            gain = psnr(rgb, restored) - psnr(rgb, plain)
            assert gain >= 0, f"{family} q{quality}: {gain:+.2f} dB"
            gains.setdefault(family, []).append(gain)
    for family, values in gains.items():
        assert np.mean(values) >= 0.3, f"{family} q{quality}: {np.mean(values):+.2f} dB on average"
