"""Reading and writing images (images.py): EXIF orientation applied once on
every path (issue #37.3), 16-bit colour (#37.4), files Pillow opens but
cannot seek (#38.5), 1x1 images with alpha (#38.5)."""

import io
import json
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest
from PIL import Image, ImageOps

from hybridcodec import files, pipeline
from hybridcodec.cli import main
from hybridcodec.images import ORIENTATION, load_image, oriented

CAMERA = 6  # the stored pixels are turned a quarter counter-clockwise: a viewer turns them clockwise


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "Camera maker"  # another tag, which must travel
    return exif


@pytest.fixture
def stored():
    """A 48x80 (H x W) image as a camera stores it: a bright block top-left."""
    pixels = np.full((48, 80, 3), 60, np.uint8)
    pixels[:16, :20] = 250
    return pixels


@pytest.fixture
def phone(tmp_path, stored):
    """A camera JPEG stored sideways with EXIF Orientation=6, and its upright pixels (as Pillow turns them)."""
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=_exif(CAMERA))
    with Image.open(path) as image:
        return path, np.asarray(ImageOps.exif_transpose(image))


def _tags(path):
    with Image.open(path) as image:
        return dict(image.getexif())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_oriented_turns_arrays_as_pillow_turns_images(orientation):
    pixels = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    image.getexif()[ORIENTATION] = orientation
    assert np.array_equal(oriented(pixels, orientation), np.asarray(ImageOps.exif_transpose(image)))
    deep = pixels.astype(np.uint16) * 257  # and on what Pillow cannot hold: 16-bit colour
    assert np.array_equal(oriented(deep, orientation), oriented(pixels, orientation).astype(np.uint16) * 257)


def test_load_image_turns_the_pixels_and_hands_on_exif_that_says_upright(phone):
    path, upright = phone
    image = load_image(path)
    assert image.pixels.shape == upright.shape == (80, 48, 3)
    assert np.abs(image.pixels.astype(int) - upright).mean() < 1
    tags = Image.Exif()
    tags.load(image.exif)
    assert tags.get(ORIENTATION, 1) == 1 and tags[0x010F] == "Camera maker"


def test_keep_metadata_then_decompress_is_upright_once(phone, tmp_path):
    path, upright = phone
    assert main(["compress", str(path), "--keep-metadata", "--codec", "jpeg", "-o", str(tmp_path / "p.hc")]) == 0
    assert main(["decompress", str(tmp_path / "p.hc"), "-o", str(tmp_path / "p.png")]) == 0
    tags = _tags(tmp_path / "p.png")
    assert tags.get(ORIENTATION, 1) == 1 and tags[0x010F] == "Camera maker"
    assert np.abs(np.asarray(Image.open(tmp_path / "p.png")).astype(int) - upright).mean() < 2


def test_decompress_of_a_plain_oriented_jpeg_turns_the_restored_image(phone, tmp_path, stored):
    path, upright = phone
    restored = pipeline.decompress(path.read_bytes())
    assert restored.shape == upright.shape and np.abs(restored.astype(int) - upright).mean() < 2
    assert main(["decompress", str(path), "-o", str(tmp_path / "p.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "p.png")), restored)
    assert _tags(tmp_path / "p.png").get(ORIENTATION, 1) == 1
    for kind in ("WEBP", "AVIF"):  # Pillow reads an AVIF's orientation from its irot/imir boxes or EXIF
        buffer = io.BytesIO()
        Image.fromarray(stored).save(buffer, kind, quality=95, exif=_exif(CAMERA))
        restored = pipeline.decompress(buffer.getvalue(), quality=90)
        assert restored.shape == upright.shape and np.abs(restored.astype(int) - upright).mean() < 3, kind


def test_a_jpeg_xl_transcoded_from_an_oriented_jpeg_is_turned_once(phone, tmp_path):
    """libjxl turns the pixels as it decodes; its EXIF still says 6."""
    if shutil.which("cjxl") is None:
        pytest.skip("cjxl not installed (Debian: libjxl-tools; .ci/run installs it)")
    path, upright = phone
    subprocess.run(["cjxl", str(path), str(tmp_path / "p.jxl")], check=True, capture_output=True)
    restored = pipeline.decompress((tmp_path / "p.jxl").read_bytes(), quality=90)
    assert restored.shape == upright.shape and np.abs(restored.astype(int) - upright).mean() < 2


def test_a_file_written_with_the_tag_and_upright_pixels_decompresses_without_it(tmp_path, phone):
    """Files of 0.7.2 and older with --keep-metadata kept Orientation=6 beside upright pixels."""
    _, upright = phone
    old = pipeline.compress(upright, "jpeg", 50, scale=1, metadata=_exif(CAMERA).tobytes())
    (tmp_path / "old.hc").write_bytes(old)
    files.decompress_file(tmp_path / "old.hc", tmp_path / "old.png")
    tags = _tags(tmp_path / "old.png")
    assert tags.get(ORIENTATION, 1) == 1 and tags[0x010F] == "Camera maker"
    assert np.asarray(Image.open(tmp_path / "old.png")).shape == upright.shape


def test_info_of_a_plain_oriented_file_says_its_orientation_and_displayed_size(phone, tmp_path, capsys):
    path, upright = phone
    info = files.info(path)
    assert (info["width"], info["height"]) == (80, 48)  # as stored
    assert (info["orientation"], info["displayed_width"], info["displayed_height"]) == (CAMERA, 48, 80)
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["orientation"] == CAMERA
    Image.fromarray(upright).save(tmp_path / "upright.jpg", quality=95)
    assert "orientation" not in files.info(tmp_path / "upright.jpg")


def test_info_of_a_hc_file_says_no_orientation_its_payloads_exif_would_give(phone, tmp_path):
    # decompress turns by the whole file (a .hc file never), so info looks at the same bytes
    from hybridcodec import container

    path, _ = phone
    header = container.Header("jpeg", 50, 80, 48, 3)
    (tmp_path / "x.hc").write_bytes(container.pack(container.HCFile(header, path.read_bytes(), b"")))
    info = files.info(tmp_path / "x.hc")
    assert (info["width"], info["height"]) == (80, 48) and "orientation" not in info


@pytest.mark.parametrize("pillow_limit", [1000, 3000])  # the 3840-pixel file: past twice the limit, past it
def test_the_orientation_is_read_past_pillows_bomb_limit(phone, monkeypatch, pillow_limit):
    import warnings

    from hybridcodec.images import stored_orientation

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning
        assert stored_orientation(phone[0].read_bytes()) == CAMERA
    assert pillow_limit == Image.MAX_IMAGE_PIXELS  # put back


def _png16(path, pixels):
    import imagecodecs

    path.write_bytes(imagecodecs.png_encode(pixels))
    return path


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16_bit_colour_pngs_keep_their_16_bits_until_coded(tmp_path, channels, capsys):
    """Pillow opens 16-bit gray+alpha, RGB and RGBA PNGs as 8-bit modes."""
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 65536, (24, 40, channels), dtype=np.uint16)
    path = _png16(tmp_path / "deep.png", pixels)
    image = load_image(path)
    assert image.pixels.dtype == np.uint16 and np.array_equal(image.pixels, pixels)
    assert any("16-bit" in warning for warning in image.warnings)
    assert main(["compress", str(path), "--codec", "webp", "-o", str(tmp_path / "deep.hc")]) == 0
    assert "16-bit" in capsys.readouterr().err
    assert files.info(tmp_path / "deep.hc")["original_bits"] == 16
    assert files.info(tmp_path / "deep.hc")["channels"] == channels


def test_16_bit_colour_is_turned_upright_too():
    import imagecodecs

    pixels = np.random.default_rng(0).integers(0, 65536, (6, 10, 3), dtype=np.uint16)
    data = imagecodecs.png_encode(pixels)
    chunk = b"eXIf" + _exif(CAMERA).tobytes()[6:]  # a PNG's EXIF chunk (no "Exif\0\0"), before IDAT
    at = data.index(b"IDAT") - 4
    data = data[:at] + struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[at:]
    image = load_image(io.BytesIO(data))
    assert np.array_equal(image.pixels, oriented(pixels, CAMERA))
    tags = Image.Exif()
    tags.load(image.exif)
    assert tags.get(ORIENTATION, 1) == 1 and tags[0x010F] == "Camera maker"


def test_16_bit_cmyk_is_not_read_again_as_colour(monkeypatch):
    # CMYK;16 matched ";16": a second full decode, whose four channels would have been taken as RGBA
    import imagecodecs

    pixels = np.random.default_rng(0).integers(0, 65536, (6, 10, 4), dtype=np.uint16)
    data = imagecodecs.tiff_encode(pixels, photometric="separated")
    calls = []
    monkeypatch.setattr(imagecodecs, "imread", lambda data: calls.append(data) or pixels)
    image = load_image(io.BytesIO(data))
    assert calls == [] and image.pixels.dtype == np.uint8 and image.pixels.shape == (6, 10, 3)


def test_a_file_pillow_cannot_seek_in_compresses(tmp_path):
    """SPIDER (and PSD) files refuse seek(0) with EOFError."""
    values = np.random.default_rng(0).uniform(0, 255, (20, 30)).astype(np.float32)
    Image.fromarray(values, "F").save(tmp_path / "x.spider", format="SPIDER")
    with Image.open(tmp_path / "x.spider") as image, pytest.raises(EOFError):
        image.seek(0)
    image = load_image(tmp_path / "x.spider")
    assert image.pixels.shape == (20, 30, 3)
    assert main(["compress", str(tmp_path / "x.spider"), "-o", str(tmp_path / "x.hc")]) == 0


@pytest.mark.parametrize("codec", ["jpeg", "webp", "avif", "jpegxl", "png"])
@pytest.mark.parametrize("shape", [(1, 1, 4), (1, 1, 2)])
def test_1x1_images_with_alpha_code_in_every_codec(codec, shape):
    image = np.zeros(shape, np.uint8)
    image[..., -1] = 77
    image[..., :-1] = 200
    restored = pipeline.decompress(pipeline.compress(image, codec, 50))
    assert restored.shape == shape and restored[0, 0, -1] == 77
