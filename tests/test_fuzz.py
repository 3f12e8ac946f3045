"""Property tests of the .hc reader: any bytes end in HybridCodecError or a correct image."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hybridcodec
from hybridcodec import HybridCodecError
from hybridcodec.container import MAGIC
from hybridcodec.pipeline import read_file

SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def real_files(photo):
    small = photo[:24, :40]
    alpha = np.dstack([small, small[:, :, 0]])
    return [hybridcodec.compress(small, codec=c, quality=40, scale=s)
            for c, s in (("jpeg", 2), ("webp", 1), ("avif", 1), ("jpegxl", 2), ("png", 1))] + [
        hybridcodec.compress(alpha, codec="webp", quality=40)]


def decode_or_refuse(data: bytes):
    try:
        image = hybridcodec.decompress(data, max_pixels=1 << 22)
    except HybridCodecError as error:
        assert "\n" not in str(error)
        return None
    assert image.dtype == np.uint8
    header = read_file(data, max_pixels=1 << 22).header
    assert image.shape[:2] == (header.height, header.width)
    return image


@SETTINGS
@given(st.binary(max_size=512))
def test_random_bytes(data):
    decode_or_refuse(data)


@SETTINGS
@given(st.binary(max_size=256))
def test_random_bytes_after_the_magic(tail):
    decode_or_refuse(MAGIC + b"\x01" + tail)


@SETTINGS
@given(st.data())
def test_mutated_real_files(real_files, data):
    blob = bytearray(data.draw(st.sampled_from(real_files)))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    decode_or_refuse(bytes(blob))


@SETTINGS
@given(st.data())
def test_truncated_and_extended_real_files(real_files, data):
    blob = data.draw(st.sampled_from(real_files))
    cut = data.draw(st.integers(0, len(blob)))
    assert decode_or_refuse(blob[:cut] + data.draw(st.binary(max_size=8))) is None or cut == len(blob)


def test_header_declaring_a_huge_image_is_refused_before_decoding(real_files):
    import struct
    import zlib

    body = bytearray(real_files[0][:-4])
    body[12:16] = struct.pack("<HH", 60000, 60000)  # width and height (format version 2)
    data = bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))
    with pytest.raises(HybridCodecError, match="exceeds the limit"):
        hybridcodec.decompress(data)


@SETTINGS
@given(st.data())
def test_mutated_real_files_with_a_valid_crc(real_files, data):
    """Gets past the CRC, so header fields and codec payloads are really exercised."""
    import struct
    import zlib

    blob = bytearray(data.draw(st.sampled_from(real_files))[:-4])
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(9, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    decode_or_refuse(bytes(blob) + struct.pack("<I", zlib.crc32(bytes(blob))))


def test_atheris_finding_malformed_jpeg_quantization_table():
    """Found by fuzz/fuzz_reader.py: a DQT segment of length 0 raised IndexError."""
    import base64

    with pytest.raises(HybridCodecError):
        hybridcodec.decompress(base64.b64decode("/9j/2wAA29vb29vb29vb29vb2wo="))


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_after_a_jpeg_marker(tail):
    decode_or_refuse(b"\xff\xd8\xff" + tail)


@SETTINGS
@given(st.sampled_from([b"RIFF\x00\x00\x00\x00WEBP", b"\x00\x00\x00\x18ftypavif", b"\xff\x0a",
                        bytes.fromhex("0000000c4a584c200d0a870a")]), st.binary(max_size=300))
def test_random_bytes_after_other_native_signatures(head, tail):
    decode_or_refuse(head + tail)
