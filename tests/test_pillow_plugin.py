import numpy as np
from PIL import Image

import hybridcodec  # registers the plugin
from hybridcodec import container
from hybridcodec.container import unpack
from hybridcodec.metrics import psnr
from hybridcodec.settings import EncodeSettings


def test_save_and_open(tmp_path, photo):
    path = tmp_path / "x.hc"
    Image.fromarray(photo).save(path, codec="jpeg", quality=70)
    header = unpack(path.read_bytes()).header
    # quality 70 means the common default's bytes at 70: the encoder's own quality for that
    assert (header.codec, header.quality) == ("jpeg", EncodeSettings.of(codec="jpeg").backend().encoder_quality(70))
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


def _with_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a version 2-4 .hc file) declaring another size, with a valid CRC (pack refuses large ones)."""
    import struct
    import zlib

    body = data[:12] + struct.pack("<HH", width, height) + data[16:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_a_too_large_image_is_a_hybridcodec_error_at_pillows_limit(tmp_path, photo, monkeypatch):
    """16384x16384 is over Pillow's limit: the plugin refuses it with
    hybridcodec's one exception, not DecompressionBombError."""
    import io

    import pytest

    data = hybridcodec.compress(photo, codec="jpeg", quality=40)
    big = _with_size(data, 16384, 16384)
    assert unpack(big, max_pixels=16384**2).header.width == 16384
    with pytest.raises(hybridcodec.HybridCodecError, match="MAX_IMAGE_PIXELS"):
        Image.open(io.BytesIO(big))
    # within Pillow's limit but over decompress's default: the smaller limit holds
    side = int(container.DEFAULT_MAX_PIXELS**0.5) + 1
    assert side**2 < 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(hybridcodec.HybridCodecError, match=f"exceeds the limit of {container.DEFAULT_MAX_PIXELS} "):
        Image.open(io.BytesIO(_with_size(data, side, side)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 128 * 96 // 2 - 1)  # Pillow's limit, as set now
    with pytest.raises(hybridcodec.HybridCodecError, match="exceeds the limit of 12286 "):
        Image.open(io.BytesIO(data))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # lifted: the file's own size is opened
    with pytest.raises(hybridcodec.HybridCodecError):  # opens, then the payload does not fit the header
        Image.open(io.BytesIO(big)).load()


def test_an_old_files_orientation_tag_does_not_turn_its_upright_pixels_again(photo):
    # 0.7.2 and older stored the EXIF with its orientation tag over upright pixels
    import io

    from PIL import ImageOps

    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "hybridcodec test camera", 6
    data = hybridcodec.compress(photo, codec="webp", quality=40, metadata=exif.tobytes())
    with Image.open(io.BytesIO(data)) as image:
        assert image.getexif()[0x010F] == "hybridcodec test camera" and 0x0112 not in image.getexif()
        assert ImageOps.exif_transpose(image).size == (128, 96)


def test_open_fills_info_with_the_files_icc_profile_and_exif(photo):
    import io

    exif = Image.Exif()
    exif[0x010F] = "hybridcodec test camera"
    icc = b"\x00\x00\x01\x00fake icc profile" * 4
    data = hybridcodec.compress(photo, codec="webp", quality=40, icc=icc, metadata=exif.tobytes())
    with Image.open(io.BytesIO(data)) as image:
        assert image.info["icc_profile"] == icc
        assert image.getexif()[0x010F] == "hybridcodec test camera"
    with Image.open(io.BytesIO(hybridcodec.compress(photo, codec="webp", quality=40))) as image:
        assert "icc_profile" not in image.info and "exif" not in image.info
