import struct
import zlib

import pytest

from hybridcodec.container import (MAGIC, HCFile, Header, ModelRef, describe, pack, sniff, unpack)
from hybridcodec.errors import HybridCodecError

SHA = "ab" * 32


def sample(**overrides):
    header = Header("webp", 50, 640, 480, 4, 2, 8, [ModelRef("post", "reccnn-webp", SHA)])
    hc = HCFile(header, b"payload-bytes", alpha=b"alpha", icc=b"icc", metadata=b"exif")
    for key, value in overrides.items():
        setattr(hc.header, key, value)
    return hc


def recrc(data: bytes) -> bytes:
    body = data[:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_round_trip():
    data = pack(sample())
    assert sniff(data[:16])
    hc = unpack(data)
    assert hc.header == sample().header
    assert (hc.payload, hc.alpha, hc.icc, hc.metadata) == (b"payload-bytes", b"alpha", b"icc", b"exif")


def test_describe_names_the_path():
    info = describe(sample())
    assert info["post"].startswith("network reccnn-webp")
    assert info["pre"] == "area downscale (classical)"


def test_wrong_magic():
    with pytest.raises(HybridCodecError, match="magic"):
        unpack(b"\x89PNG\r\n\x1a\n" + pack(sample())[8:])


def test_unknown_version():
    data = bytearray(pack(sample()))
    data[8] = 99
    with pytest.raises(HybridCodecError, match="version 99"):
        unpack(recrc(bytes(data)))


def test_every_truncation_is_refused():
    data = pack(sample())
    for n in range(len(data)):
        with pytest.raises(HybridCodecError):
            unpack(data[:n])


def test_crc_mismatch():
    data = bytearray(pack(sample()))
    data[-10] ^= 0xFF  # inside the payloads
    with pytest.raises(HybridCodecError, match="CRC"):
        unpack(bytes(data))


def test_trailing_bytes_are_refused():
    with pytest.raises(HybridCodecError, match="unexpected bytes"):
        unpack(pack(sample()) + b"x")


def test_unknown_codec_id():
    data = bytearray(pack(sample()))
    data[9] = 200
    with pytest.raises(HybridCodecError, match="unknown codec"):
        unpack(recrc(bytes(data)))


def test_dimensions_over_the_limit():
    data = bytearray(pack(sample()))
    data[12:16] = struct.pack("<I", 70000)
    with pytest.raises(HybridCodecError, match="outside"):
        unpack(recrc(bytes(data)))
    with pytest.raises(HybridCodecError, match="exceeds the limit"):
        unpack(pack(sample()), max_pixels=1000)


def test_alpha_must_match_channels():
    with pytest.raises(HybridCodecError, match="alpha"):
        unpack(pack(sample(channels=3)))


def test_magic_is_eight_bytes():
    assert len(MAGIC) == 8


def test_three_quarter_scale_round_trips_and_an_unknown_scale_is_refused():
    from fractions import Fraction

    data = pack(sample(scale=Fraction(4, 3)))
    assert data[11] == 3  # the scale byte (docs/FORMAT.md)
    assert unpack(data).header.scale == Fraction(4, 3)
    assert describe(unpack(data))["scale"] == "4/3"
    with pytest.raises(HybridCodecError, match="unsupported scale"):
        pack(sample(scale=3))
    broken = bytearray(data)
    broken[11] = 4
    with pytest.raises(HybridCodecError, match="scale=4"):
        unpack(recrc(bytes(broken)))
