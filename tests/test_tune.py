"""``--tune {perceptual,psnr}`` (issue #40): each tune its encoder, its
networks and its decision metric; the perceptual JPEG encoders are encoders
of the registry, as any other."""

import numpy as np
import pytest

from hybridcodec import codecs, native
from hybridcodec.errors import HybridCodecError
from hybridcodec.metrics import ssim_map

JPEG = codecs.get_codec("jpeg")
needs_jpeglib = pytest.mark.skipif("mozjpeg-default" not in JPEG.installed_encoders(), reason="jpeglib missing")
needs_jpegli = pytest.mark.skipif("jpegli" not in JPEG.installed_encoders(), reason="pyjpegli missing")


def _sof(data: bytes) -> int:
    """The frame marker of a JPEG: 0xC0 baseline, 0xC2 progressive."""
    for marker in (0xC0, 0xC1, 0xC2):
        if bytes([0xFF, marker]) in data:
            return marker
    raise AssertionError("no frame header")


@needs_jpeglib
def test_the_perceptual_tune_codes_jpeg_with_mozjpegs_own_defaults(photo):
    perceptual, psnr = JPEG.tuned("perceptual"), JPEG.tuned("psnr")
    assert (perceptual.encoder, psnr.encoder) == ("mozjpeg-default", "mozjpeg")
    data = perceptual.encode(photo, 50)
    tables = native.jpeg_tables(data)
    assert _sof(data) == 0xC2 and tables["subsampling"] == (2, 2)
    flat = native.jpeg_tables(JPEG.configured("mozjpeg-flat").encode(photo, 50))["luma"]
    turbo = native.jpeg_tables(JPEG.configured("turbo").encode(photo, 50))["luma"]
    assert len(set(flat)) <= 2 and len(set(tables["luma"])) > 8  # table 3 rises with frequency
    assert tables["luma"] != turbo  # not the IJG (Annex K) table libjpeg-turbo writes
    assert JPEG.encoder_by_id(3) == "mozjpeg-default" and JPEG.encoder_by_id(4) == "jpegli"


@needs_jpegli
def test_jpegli_is_an_encoder_of_the_registry(photo):
    data = JPEG.configured("jpegli").encode(photo, 60)
    assert _sof(data) == 0xC0 and native.jpeg_tables(data)["subsampling"] == (2, 2)
    assert "pyjpegli 0.3.2" in JPEG.configured("jpegli").library_version()


def test_a_named_encoder_wins_over_the_tune_and_a_bad_tune_is_refused():
    assert JPEG.tuned("perceptual", encoder="turbo").encoder == "turbo"
    assert codecs.get_codec("webp").tuned("perceptual").encoder == codecs.get_codec("webp").encoder
    with pytest.raises(HybridCodecError, match="tune must be one of perceptual, psnr"):
        JPEG.tuned("butteraugli")


def test_ssim_map_is_scikit_images_map(photo):
    from skimage.metrics import structural_similarity

    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 10, photo.shape), 0, 255).astype(np.uint8)
    _, full = structural_similarity(photo, noisy, data_range=255, channel_axis=2, full=True)
    assert np.allclose(ssim_map(photo, noisy), full.mean(axis=2), atol=1e-9)
    assert ssim_map(photo, photo).min() == pytest.approx(1.0)


def test_strengths_by_ssim_take_what_brings_the_picture_closest(photo):
    from hybridcodec import strength

    noisy = np.clip(photo + np.random.default_rng(1).normal(0, 12, photo.shape), 0, 255).astype(np.uint8)
    assert strength.choose_by_ssim(photo, noisy, photo) == b""  # a right restoration needs no part
    overshoot = np.clip(2.0 * photo.astype(np.float32) - noisy, 0, 255).astype(np.uint8)  # twice the correction
    part = strength.choose_by_ssim(photo, noisy, overshoot)
    k, codes = strength.unpack(part, photo.shape[1], photo.shape[0])
    assert {strength.STRENGTHS[c] for c in codes.reshape(-1)} == {0.5}


def test_the_default_tune_is_perceptual_and_info_derives_it(photo):
    import hybridcodec
    from hybridcodec import pipeline
    from hybridcodec.container import describe

    if "mozjpeg-default" not in JPEG.installed_encoders():
        pytest.skip("jpeglib missing")
    encoded = pipeline.encode(photo, "jpeg", 40)
    header = encoded.hc.header
    assert header.encoder == "mozjpeg-default" and header.model("post") is not None
    assert describe(pipeline.read_file(encoded.data))["tune"] == "perceptual (its encoder, mozjpeg-default)"
    restored = hybridcodec.decompress(encoded.data)
    assert restored.shape == photo.shape
    psnr_file = pipeline.encode(photo, "jpeg", 40, tune="psnr")
    assert psnr_file.hc.header.encoder == "mozjpeg" and psnr_file.data != encoded.data


def test_a_perceptual_strength_part_is_kept_only_where_ssimulacra2_gains(photo, monkeypatch):
    from hybridcodec import decide, pipeline, strength

    zero = strength.pack([0], strength.WHOLE_IMAGE_LOG2)  # strength 0: the plain picture, no restoration
    chosen = []
    monkeypatch.setattr(strength, "choose_by_ssim", lambda *args: chosen.append(args) or zero)
    scored = []
    real = decide.score
    monkeypatch.setattr(decide, "score", lambda *args: scored.append(args[0]) or real(*args))
    encoded = pipeline.encode(photo, "jpeg", 30, tune="perceptual")
    assert encoded.hc.header.model("post") is not None and len(chosen) == 1  # the strength part was weighed
    assert not encoded.hc.strengths  # restoring gains on this photo, so showing none loses: dropped
    assert set(scored) == {"perceptual"} and len(scored) >= 3  # the candidates, then the image with the part


def test_the_light_decoder_names_the_light_network_where_one_serves(photo):
    import warnings

    import hybridcodec
    from hybridcodec import pipeline, zoo

    if "mozjpeg-default" not in JPEG.installed_encoders():
        pytest.skip("jpeglib missing")
    # at scale 1 the file names the path's network (--scale auto may keep the plain picture on so small a photo)
    full = pipeline.encode(photo, "jpeg", 50, scale=1, tune="perceptual", precision="float32")
    light = pipeline.encode(photo, "jpeg", 50, scale=1, tune="perceptual", precision="float32", decoder="light")
    full_net = zoo.find(sha256=full.hc.header.model("post").sha256)
    light_net = zoo.find(sha256=light.hc.header.model("post").sha256)
    assert light_net.light_of == full_net.name and light_net.name != full_net.name
    assert light.hc.payload == full.hc.payload  # the same JPEG: only the network named differs
    assert hybridcodec.decompress(light.data).shape == photo.shape
    with pytest.warns(UserWarning, match="no light network ships for"):  # WebP's half-size network has none
        pipeline.encode(photo, "webp", 50, scale=2, decoder="light")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the full tier, or a light network that serves: no warning
        pipeline.encode(photo, "jpeg", 50, tune="perceptual", decoder="light")
    with pytest.raises(HybridCodecError, match="unknown decoder 'tiny'"):
        pipeline.encode(photo, "jpeg", 50, decoder="tiny")
