"""The restoration's strength per tile (issue #21, finer decisions): the
strength part, format version 4, the encoder's choice and the decoder's blend."""

import numpy as np
import pytest

from hybridcodec import HybridCodecError, pipeline, strength
from hybridcodec.container import VERSION, unpack
from hybridcodec.metrics import psnr


def test_part_round_trips_and_refuses_a_wrong_length():
    codes = [3, 0, 1, 2, 2, 1]  # 3 x 2 tiles of 64 pixels: a 150x100 image
    part = strength.pack(codes, 6)
    assert len(part) == 1 + 2
    k, grid = strength.unpack(part, 150, 100)
    assert k == 6 and grid.tolist() == [[3, 0, 1], [2, 2, 1]]
    with pytest.raises(HybridCodecError, match="tiles"):
        strength.unpack(part, 300, 100)
    with pytest.raises(HybridCodecError, match="tile size"):
        strength.unpack(bytes([2]) + part[1:], 150, 100)


def test_apply_blends_each_tile_with_its_strength():
    classical = np.full((70, 130, 3), 100, np.uint8)
    restored = np.full((70, 130, 3), 120, np.uint8)
    part = strength.pack([0, 1, 2, 3, 2, 2], 6)  # 3 x 2 tiles
    out = strength.apply(part, classical, restored)
    assert out[0, 0, 0] == 100 and out[0, 64, 0] == 110 and out[0, 128, 0] == 120
    assert out[64, 0, 0] == 130 and out[69, 129, 0] == 120
    assert strength.blend(np.array([0]), np.array([255]), 1.5)[0] == 255  # clipped
    assert strength.blend(np.array([10]), np.array([11]), 0.5)[0] == 11  # half up


def test_choose_keeps_a_part_only_where_it_pays():
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (128, 192, 3)).astype(np.uint8)
    noise = rng.normal(0, 6, original.shape)
    classical = np.clip(original + noise, 0, 255).astype(np.uint8)
    # the restoration halves the error on the left, doubles it on the right
    restored = classical.copy()
    restored[:, :128] = np.clip(original[:, :128] + noise[:, :128] / 2, 0, 255)
    restored[:, 128:] = np.clip(original[:, 128:] + 2 * noise[:, 128:], 0, 255)
    part = strength.choose(original, classical, restored, file_bytes=20_000)
    k, grid = strength.unpack(part, 192, 128)
    assert k == strength.MAP_TILE_LOG2 and grid[:, 2].tolist() == [0, 0]  # strength 0 where it hurts
    assert set(grid[:, :2].reshape(-1)) <= {2, 3}
    shown = strength.apply(part, classical, restored)
    assert psnr(original, shown) > psnr(original, restored) + 1
    # a restoration that is right everywhere needs no part; nor does a tiny gain in a tiny file
    assert strength.choose(original, classical, original, file_bytes=20_000) == b""
    assert strength.choose(original, restored, restored, file_bytes=20_000) == b""


def test_encoder_writes_version_4_only_with_a_part_and_the_decoder_applies_it(monkeypatch):
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[128:384, 128:384])  # its WebP q40 restoration gains from a map
    with_part = pipeline.encode(photo, "webp", 40, tune="psnr")
    monkeypatch.setattr(strength, "choose", lambda *args: b"")
    without = pipeline.encode(photo, "webp", 40, tune="psnr")
    assert without.data[8] == VERSION == 3 and not unpack(without.data).strengths
    assert with_part.data[8] == 4 and unpack(with_part.data).strengths == with_part.hc.strengths
    assert len(with_part.data) - len(without.data) == len(with_part.hc.strengths) + 4
    assert psnr(photo, pipeline.decompress(with_part.data)) > psnr(photo, pipeline.decompress(without.data))


def test_container_refuses_a_part_without_a_network_or_in_a_version_3_file():
    import struct
    import zlib

    from hybridcodec.container import HCFile, Header, ModelRef, pack

    header = Header("webp", 40, 150, 100, 3, models=[ModelRef("post", "", "ab" * 32)])
    part = strength.pack([2] * 6, 6)
    data = pack(HCFile(header, b"payload", strengths=part))
    assert data[8] == 4 and unpack(data).strengths == part
    with pytest.raises(HybridCodecError, match="restoration network"):
        pack(HCFile(Header("webp", 40, 150, 100, 3), b"payload", strengths=part))
    as_v3 = data[:8] + b"\x03" + data[9:-4]
    with pytest.raises(HybridCodecError, match="unknown flags"):
        unpack(as_v3 + struct.pack("<I", zlib.crc32(as_v3)))
    with pytest.raises(HybridCodecError, match="tiles"):  # a map that does not fit the image
        pack_wrong = pack(HCFile(header, b"payload", strengths=strength.pack([2] * 2, 6)))
        unpack(pack_wrong)
