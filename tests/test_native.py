"""Native files: standard JPEG, WebP, AVIF and JPEG XL files with the header inside,
opened by real clients (Pillow, the reference decoders, headless Chromium)."""

import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

import hybridcodec
from hybridcodec import HybridCodecError, codecs, pipeline
from hybridcodec import scale as scales
from hybridcodec.cli import main
from hybridcodec.metrics import psnr

CODECS = ["jpeg", "webp", "avif", "jpegxl"]
# every encoder a user can pick: the real clients must open each one's files
SETTINGS = [("jpeg", "mozjpeg"), ("jpeg", "mozjpeg-flat"), ("jpeg", "turbo"), ("webp", "libwebp"),
            ("avif", "libavif-psnr"), ("avif", "libavif"), ("jpegxl", "libjxl")]
REFERENCE = {"jpeg": ("djpeg", ["-pnm", "-outfile", "{out}", "{inp}"], ".ppm"),
             "webp": ("dwebp", ["{inp}", "-ppm", "-o", "{out}"], ".ppm"),
             "avif": ("avifdec", ["{inp}", "{out}"], ".png"),
             "jpegxl": ("djxl", ["{inp}", "{out}"], ".png")}


@pytest.fixture(scope="module")
def files(photo):
    """codec (default encoder) or (codec, encoder) -> (native file bytes, what a plain decoder must show)."""
    out = {}
    for codec, encoder in SETTINGS:
        encoded = pipeline.encode(photo, codec, 40, native=True, encoder=encoder)
        out[codec, encoder] = (encoded.data, codecs.get_codec(codec).decode(encoded.hc.payload))
        if encoder == codecs.get_codec(codec).encoder:
            out[codec] = out[codec, encoder]
    return out


@pytest.mark.parametrize("codec,encoder", SETTINGS)
def test_native_file_is_its_codec_and_round_trips(codec, encoder, files, photo):
    data, shown = files[codec, encoder]
    assert codecs.sniff_native(data).name == codec
    header = pipeline.read_file(data).header
    backend = codecs.get_codec(codec).configured(encoder)
    own = backend.encoder_quality(40)  # --quality 40: the common default's bytes at 40
    assert (header.codec, header.quality, header.scale, header.width) == (codec, own, scales.FULL, 128)
    assert (header.encoder, header.effort) == (encoder, "default")
    assert psnr(photo, hybridcodec.decompress(data)) > 25
    plain = backend.encode(photo, own)
    print(f"{codec} {encoder}: header adds {len(data) - len(plain)} bytes")
    assert 0 < len(data) - len(plain) < 200


@pytest.mark.parametrize("codec,encoder", SETTINGS)
def test_pillow_opens_native_files(codec, encoder, files):
    if codec == "jpegxl":
        pytest.importorskip("pillow_jxl", reason="pillow-jxl-plugin not installed")
    data, shown = files[codec, encoder]
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (128, 96)
    assert psnr(shown, np.asarray(image)) > 45


@pytest.mark.parametrize("codec,encoder", SETTINGS)
def test_reference_decoders_open_native_files(codec, encoder, files, tmp_path):
    tool, args, suffix = REFERENCE[codec]
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed (Debian package; .ci/run installs it)")
    data, shown = files[codec, encoder]
    inp, out = tmp_path / f"in{codecs.by_name(codec).extension}", tmp_path / f"out{suffix}"
    inp.write_bytes(data)
    subprocess.run([tool, *[a.format(inp=inp, out=out) for a in args]], check=True, capture_output=True)
    assert psnr(shown, np.asarray(Image.open(out).convert("RGB"))) > 40


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.parametrize("codec,encoder", [s for s in SETTINGS if s[0] != "jpegxl"])  # Chromium shows no JPEG XL
def test_chromium_shows_native_files(codec, encoder, files, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium not installed (Debian package; .ci/run installs it)")
    data, shown = files[codec, encoder]
    (tmp_path / f"x{codecs.by_name(codec).extension}").write_bytes(data)
    (tmp_path / "page.html").write_text(
        "<html><body style='margin:0;background:#fff'>"
        f"<img src='x{codecs.by_name(codec).extension}' style='display:block'></body></html>")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=200,150", (tmp_path / "page.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    screen = np.asarray(Image.open(shot).convert("RGB"))[:96, :128]
    assert psnr(shown, screen) > 30


def test_plain_files_decode_with_their_quality(photo):
    jpeg = codecs.get_codec("jpeg").configured("turbo").encode(photo, 63)
    assert pipeline.read_file(jpeg).header.quality == 63  # from the quantization tables (IJG scale)
    webp = codecs.get_codec("webp").encode(photo, 50)
    with pytest.raises(HybridCodecError, match="--quality"):
        hybridcodec.decompress(webp)
    assert hybridcodec.decompress(webp, quality=50).shape == photo.shape


def test_damaged_header_is_a_clear_error(files):
    from hybridcodec.container import MAGIC

    data = bytearray(files["webp"][0])
    data[data.index(MAGIC) + 10] ^= 0xFF  # the quality byte of the header
    with pytest.raises(HybridCodecError, match="CRC"):
        hybridcodec.decompress(bytes(data))


def test_foreign_app11_segment_is_a_plain_decode(photo):
    jpeg = codecs.get_codec("jpeg").encode(photo, 50)
    body = b"SOMEONE-ELSE" + b"x" * 20
    foreign = jpeg[:2] + b"\xff\xeb" + len(body + b"..").to_bytes(2, "big") + body + jpeg[2:]
    assert hybridcodec.decompress(foreign).shape == photo.shape


def test_scale_2_native_warns(photo):
    with pytest.warns(UserWarning, match="half size"):
        data = pipeline.encode(photo, "webp", 40, scale=2, native=True).data
    assert hybridcodec.decompress(data).shape == photo.shape


def test_cli_native(tmp_path, photo):
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    assert main(["compress", str(src), "--codec", "webp", "--native", "-q"]) == 0
    assert (tmp_path / "in.hc.webp").exists()
    assert main(["decompress", str(tmp_path / "in.hc.webp"), "-q"]) == 0
    assert psnr(photo, np.asarray(Image.open(tmp_path / "in.webp.png"))) > 25
    assert main(["compress", str(src), "--codec", "png", "--native"]) == 1
