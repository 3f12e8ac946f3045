import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

import hybridcodec
from hybridcodec import HybridCodecError, pipeline
from hybridcodec import scale as scales
from hybridcodec.container import ModelRef, unpack
from hybridcodec.metrics import psnr
from hybridcodec.settings import EncodeSettings

# Lower bounds on the 96x128 astronaut crop at quality 50: a broken pipeline
# (shifted, swapped channels, wrong crop, no upscale) lands far below these.
MIN_PSNR = {1: 28.0, "4/3": 25.0, 2: 22.0}


@pytest.mark.parametrize("codec", ["jpeg", "webp", "avif", "jpegxl"])
@pytest.mark.parametrize("scale", [1, "4/3", 2])
def test_round_trip_every_codec_and_scale(codec, scale, photo):
    data = hybridcodec.compress(photo, codec=codec, quality=50, scale=scale)
    out = hybridcodec.decompress(data)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert psnr(photo, out) > MIN_PSNR[scale]
    header = unpack(data).header
    assert (header.codec, header.scale, header.width, header.height) == (codec, scales.parse(scale), 128, 96)


def test_smaller_scales_make_smaller_files(photo):
    full = hybridcodec.compress(photo, codec="jpeg", quality=50, scale=1)
    three_quarters = hybridcodec.compress(photo, codec="jpeg", quality=50, scale="4/3")
    half = hybridcodec.compress(photo, codec="jpeg", quality=50, scale=2)
    assert len(half) < 0.6 * len(full)
    assert len(half) < len(three_quarters) < 0.8 * len(full)


def test_three_quarter_scale_restores_the_bicubic_upscale_with_a_full_size_network(photo):
    """At 4/3 the codec codes a 96x72 picture of the 128x96 image; a user's
    scale-1 network restores its bicubic upscale, a scale-2 one is refused."""
    import keras

    from hybridcodec.models import RecCNN

    model = RecCNN(scale=1, depth=3, width=8)
    residual = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    kernel, bias = residual.get_weights()  # zero-initialised: make the network visibly act
    residual.set_weights([kernel, bias + 0.05])
    data = hybridcodec.compress(photo, codec="jpeg", quality=50, scale="4/3", post_model=model)
    hc = unpack(data)
    assert hc.header.scale is scales.THREE_QUARTER and hc.header.model("post") is not None
    from hybridcodec.codecs import get_codec

    classical = scales.parse("4/3").upscale(get_codec("jpeg").decode(hc.payload), 128, 96)
    restored = hybridcodec.decompress(data, post_model=model)
    # the network's constant +0.05 (12.75 levels) lands on the full-size upscale
    assert restored.shape == photo.shape
    assert 11 < np.mean(restored.astype(float) - classical) < 13
    with pytest.raises(HybridCodecError, match="scale 2"):
        hybridcodec.decompress(data, post_model=RecCNN(scale=2, depth=3, width=8), allow_model_mismatch=True)


def test_png_is_lossless_whatever_the_scale(photo):
    data = hybridcodec.compress(photo, codec="png", scale=2)
    assert unpack(data).header.scale is scales.FULL
    assert np.array_equal(hybridcodec.decompress(data), photo)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 7, 3), (13, 1, 3), (33, 17, 3)])
@pytest.mark.parametrize("scale", [1, "4/3", 2])
def test_tiny_and_odd_sizes(shape, scale):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = hybridcodec.decompress(hybridcodec.compress(image, codec="jpeg", quality=90, scale=scale))
    assert out.shape == shape


def test_gray_comes_back_gray(photo):
    gray = photo[:, :, 1]
    out = hybridcodec.decompress(hybridcodec.compress(gray, codec="avif", quality=60))
    assert out.shape == gray.shape
    assert psnr(gray, out) > 28


def test_alpha_is_kept_exactly(photo):
    alpha = np.random.default_rng(1).integers(0, 256, photo.shape[:2], dtype=np.uint8)
    for image in (np.dstack([photo, alpha]), np.dstack([photo[:, :, 0], alpha])):
        out = hybridcodec.decompress(hybridcodec.compress(image, codec="webp", quality=50, scale=2))
        assert out.shape == image.shape
        assert np.array_equal(out[:, :, -1], alpha)


def test_16_bit_is_coded_at_8_bits(photo):
    wide = photo.astype(np.uint16) * 257
    data = hybridcodec.compress(wide, codec="jpegxl", quality=80)
    assert unpack(data).header.bits == 16
    out = hybridcodec.decompress(data)
    assert out.dtype == np.uint8 and psnr(photo, out) > 30


@pytest.mark.parametrize("bad", [np.zeros((0, 4, 3), np.uint8), np.zeros((4, 4, 5), np.uint8),
                                 np.zeros((4, 4, 3), np.float32), np.zeros(5, np.uint8)])
def test_bad_arrays_raise_the_documented_error(bad):
    with pytest.raises(HybridCodecError):
        hybridcodec.compress(bad)


def test_bad_scale_and_codec(photo):
    with pytest.raises(HybridCodecError):
        hybridcodec.compress(photo, scale=3)
    with pytest.raises(HybridCodecError):
        hybridcodec.compress(photo, codec="gif")


def test_size_a_codec_cannot_take_is_a_clear_error():
    wide = np.zeros((1, 16384 * 2 + 1, 3), np.uint8)
    with pytest.raises(HybridCodecError, match="16383"):
        hybridcodec.compress(wide, codec="webp", scale=1)
    # at half size the same image fits
    assert hybridcodec.decompress(hybridcodec.compress(wide[:, :20000], codec="webp", scale=2)).shape == (1, 20000, 3)


def test_payload_that_does_not_decode_is_refused(photo):
    from hybridcodec.container import pack

    hc = unpack(hybridcodec.compress(photo, codec="jpeg"))
    hc.payload = b"\xff\xd8garbage"
    with pytest.raises(HybridCodecError, match="does not decode"):
        hybridcodec.decompress(pack(hc))


def test_import_and_info_do_not_import_tensorflow(tmp_path, photo):
    path = tmp_path / "x.hc"
    path.write_bytes(hybridcodec.compress(photo, codec="jpeg", quality=30, scale=2))
    code = (
        "import sys, hybridcodec; from hybridcodec.cli import main;"
        f"assert main(['info', {str(path)!r}]) == 0;"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("codec,quality,scale", [("webp", 50, 2), ("jpeg", 10, "table"), ("avif", 50, 1)])
def test_file_records_exactly_the_path_used(photo, codec, quality, scale):
    from hybridcodec import zoo
    from hybridcodec.container import describe

    data = pipeline.compress(photo, codec=codec, quality=quality, scale=scale)
    hc = pipeline.read_file(data)
    encoder = EncodeSettings.of(codec=codec).backend().encoder  # the default tune's
    point = zoo.operating_point(codec, quality, "auto" if scale == "table" else scale, encoder)
    point = replace(point, post=zoo.with_precision(point.post, "int8"))  # the default precision's network
    info = describe(hc)
    assert hc.header.scale == point.scale
    if point.post is None:
        assert hc.header.model("post") is None
        assert info["post"] == ("bicubic upscale (classical)" if not point.scale.is_full else "none")
    else:
        assert hc.header.model("post") == point.post.ref  # named by the zoo on reading
        assert info["post"].startswith(f"network {point.post.name}")
        # the file itself stores a shipped model by its hash alone
        assert unpack(data).header.model("post") == ModelRef("post", "", point.post.sha256)
