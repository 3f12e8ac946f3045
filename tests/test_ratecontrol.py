import pytest
from PIL import Image

import hybridcodec
from hybridcodec import HybridCodecError, codecs
from hybridcodec.cli import main
from hybridcodec.container import unpack
from hybridcodec.decide import score
from hybridcodec.metrics import psnr
from hybridcodec.ratecontrol import fit_size, parse_size, reach_psnr, search
from hybridcodec.settings import EncodeSettings
from hybridcodec.strength import overhead


@pytest.mark.parametrize("text,expected", [("800", 800), ("30KB", 30000), ("2kib", 2048), ("1.5MB", 1500000)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "KB", "12 parsecs", "-3KB"])
def test_parse_size_refuses(bad):
    with pytest.raises(HybridCodecError):
        parse_size(bad)


@pytest.mark.parametrize("codec", ["jpeg", "webp"])
def test_fit_size_is_the_best_file_not_over_the_limit(photo, codec):
    limit = 2500
    encoded = fit_size(photo, codec, limit)
    assert len(encoded.data) <= limit
    header = encoded.hc.header
    if header.quality < 99:  # one quality step more at the same scale would not fit
        bigger = hybridcodec.compress(photo, codec, header.quality + 1, header.scale)
        assert len(bigger) > limit


def test_fit_size_impossible(photo):
    with pytest.raises(HybridCodecError, match="fits"):
        fit_size(photo, "jpeg", 100)


def test_reach_psnr_is_the_smallest_that_reaches_it(photo):
    target = 31.0
    encoded = reach_psnr(photo, "webp", target)
    assert psnr(photo, hybridcodec.decompress(encoded.data)) >= target
    header = encoded.hc.header
    if header.quality > 1:
        smaller = hybridcodec.compress(photo, "webp", header.quality - 1, header.scale)
        assert psnr(photo, hybridcodec.decompress(smaller)) < target


@pytest.mark.parametrize("codec,quality,tune", [("jpeg", 8, "psnr"), ("jpeg", 60, "psnr"), ("webp", 30, "psnr"),
                                                ("jpeg", 40, "perceptual"), ("webp", 30, "perceptual")])
def test_search_restores_best_within_the_full_size_file(photo, codec, quality, tune):
    own = codecs.get_codec(codec).tuned(tune).encoder_quality(quality)
    full = hybridcodec.compress(photo, codec, own, 1, tune=tune)
    found = search(photo, codec, quality, tune=tune)
    assert len(found.data) - overhead(found.hc.strengths) <= len(full)  # a strength part is header
    value = score(tune, photo, hybridcodec.decompress(found.data))
    for scale in (1, 2, "auto"):  # no path the table or a fixed scale would take restores better here
        other = hybridcodec.compress(photo, codec, quality, scale, tune=tune)
        if len(other) - overhead(unpack(other).strengths) <= len(full):
            assert value >= score(tune, photo, hybridcodec.decompress(other)) - 1e-9


def test_cli_target_options(tmp_path, photo):
    src = tmp_path / "x.png"
    Image.fromarray(photo).save(src)
    assert main(["compress", str(src), "--codec", "jpeg", "--target-size", "3KB", "-q"]) == 0
    assert (tmp_path / "x.hc").stat().st_size <= 3000
    assert main(["compress", str(src), "--target-bpp", "1.0", "-f", "-q"]) == 0
    assert (tmp_path / "x.hc").stat().st_size * 8 <= 1.0 * photo.shape[0] * photo.shape[1]
    assert main(["compress", str(src), "--codec", "avif", "--target-psnr", "30", "-f", "-q"]) == 0
    assert unpack((tmp_path / "x.hc").read_bytes()).header.codec == "avif"
    assert main(["compress", str(src), "--codec", "jpeg", "--quality", "8", "--search", "-f", "-q"]) == 0
    own = EncodeSettings.of(codec="jpeg").backend().encoder_quality(8)  # --quality 8 as the encoder's own quality
    written = (tmp_path / "x.hc").read_bytes()
    assert len(written) - overhead(unpack(written).strengths) <= len(hybridcodec.compress(photo, "jpeg", own, 1))
    with pytest.raises(SystemExit):
        main(["compress", str(src), "--target-bpp", "1", "--target-psnr", "30"])
