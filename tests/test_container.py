import struct
import zlib

import pytest

from hybridcodec import scale as scales
from hybridcodec.container import MAGIC, HCFile, Header, ModelRef, describe, pack, sniff, unpack
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
    assert sniff(data[:16]) and data[8] == 3
    hc = unpack(data)
    assert hc.header == sample().header
    assert (hc.payload, hc.alpha, hc.icc, hc.metadata) == (b"payload-bytes", b"alpha", b"icc", b"exif")


def pack_v1(hc: HCFile) -> bytes:
    """A version-1 file, as hybridcodec wrote them before version 2 (docs/FORMAT.md)."""
    h = hc.header
    body = struct.pack("<8sBBBBIIBBB", MAGIC, 1, 2, h.quality, 2, h.width, h.height, h.channels, h.bits,
                       len(h.models))
    for ref in h.models:
        name = ref.name.encode()
        body += bytes([1, len(name)]) + name + bytes.fromhex(ref.sha256)
    body += struct.pack("<IIII", len(hc.payload), len(hc.alpha), len(hc.icc), len(hc.metadata))
    body += hc.payload + hc.alpha + hc.icc + hc.metadata
    return body + struct.pack("<I", zlib.crc32(body))


def test_version_1_files_still_read_with_their_model_names():
    hc = unpack(pack_v1(sample()))
    assert hc.header == sample().header
    assert (hc.payload, hc.alpha, hc.icc, hc.metadata) == (b"payload-bytes", b"alpha", b"icc", b"exif")


def pack_v2(hc: HCFile) -> bytes:
    """A version-2 file, as hybridcodec wrote them before version 3: no encoder and effort bytes."""
    data = pack(hc)
    body = data[:8] + b"\x02" + data[9:19] + data[21:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_version_2_files_still_read_as_the_first_encoder():
    hc = HCFile(Header("jpeg", 50, 768, 512, 3, 1, 8, [ModelRef("post", "", SHA)], "mozjpeg", "best"), b"p")
    old = unpack(pack_v2(hc))
    assert (old.header.encoder, old.header.effort) == ("turbo", "default")
    assert old.header.models == hc.header.models and old.payload == b"p"


def test_version_3_records_encoder_and_effort():
    hc = HCFile(Header("avif", 50, 64, 64, 3, 1, 8, [], "libavif-psnr", "best"), b"p")
    data = pack(hc)
    assert data[19:21] == bytes([1, 2])  # after the 19 fixed bytes: encoder id, effort id
    assert unpack(data).header == hc.header
    assert describe(hc)["encoder"] == "libavif-psnr, effort best"
    with pytest.raises(HybridCodecError, match="encoder"):
        unpack(recrc(data[:19] + b"\x07" + data[20:]))
    with pytest.raises(HybridCodecError, match="encoder"):
        pack(HCFile(Header("avif", 50, 64, 64, 3, 1, 8, [], "mozjpeg"), b"p"))


def test_version_3_header_is_small_and_skips_absent_parts():
    # a shipped model is recorded by its hash alone (the encoder leaves its name out)
    bare = HCFile(Header("jpeg", 50, 768, 512, 3, 1, 8, [ModelRef("post", "", SHA)]), b"")
    # 19 fixed + 2 encoder and effort + 34 model record + 5 flags and payload length + 4 CRC
    assert len(pack(bare)) == 64
    assert len(pack_v2(bare)) == 62
    assert len(pack_v1(bare)) == 23 + 34 + 16 + 4
    assert unpack(pack(bare)).payload == b""
    with_icc = HCFile(bare.header, b"p", icc=b"profile")
    assert len(pack(with_icc)) == 64 + 1 + 4 + 7
    assert unpack(pack(with_icc)).icc == b"profile"


def test_unknown_flags_are_refused():
    data = bytearray(pack(sample(models=[])))
    data[21] |= 0x80  # the flags byte follows the 19 fixed and 2 settings bytes when there is no model record
    with pytest.raises(HybridCodecError, match="flags"):
        unpack(recrc(bytes(data)))


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
    with pytest.raises(HybridCodecError, match="version 99.*knows 1 to 4"):
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
    data[12:14] = struct.pack("<H", 0)
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

    data = pack(sample(scale=scales.THREE_QUARTER))
    assert data[11] == 3  # the scale byte (docs/FORMAT.md)
    assert unpack(data).header.scale is scales.THREE_QUARTER
    assert describe(unpack(data))["scale"] == "4/3"
    with pytest.raises(HybridCodecError, match="unsupported scale"):
        pack(sample(scale=3))
    broken = bytearray(data)
    broken[11] = 4
    with pytest.raises(HybridCodecError, match="scale=4"):
        unpack(recrc(bytes(broken)))
