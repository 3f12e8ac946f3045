"""Restoration strength per region: the encoder's finer decision (issue #21).

The decoder shows ``classical + s * (restored - classical)`` with a strength
``s`` from STRENGTHS, chosen per tile by the encoder, which holds the
original; the file carries the choice in a strength part (docs/FORMAT.md,
version 4): one byte ``k`` (tiles of 2**k pixels a side, row-major over the
image), then a 2-bit code a tile, four to a byte, lowest bits first. A ``k``
of 16 makes one tile of any image: one strength for the whole image
in two bytes.

Why: on photos it never saw a restoration network can over-correct; per
64-pixel tile the encoder kept strength 1 on about two thirds of the tiles
of ``val/`` at WebP's grid qualities and 0.5 on most of the rest
(scripts/per_region.py; figures in docs/DECISIONS.md). The strengths and the
tile size were fixed before that measurement, not tuned on it.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import HybridCodecError

STRENGTHS = (0.0, 0.5, 1.0, 1.5)  # code 0..3
MAP_TILE_LOG2 = 6  # 64-pixel tiles: a 768x512 image's map is 24 bytes
WHOLE_IMAGE_LOG2 = 16  # one tile covers any image (sides up to 65535)
# A part is kept only where its PSNR gain beats what its bytes would buy at
# 6.02 dB per doubling of the file (the high-rate slope; at low rates a
# doubling buys less, so this asks more of a part, not less).
DB_PER_DOUBLING = 6.02
LENGTH_BYTES = 4  # the part's length field in the header (container.py)
BAND = 256  # rows blended at a time by the decoder


def overhead(part: bytes) -> int:
    """The bytes a strength part adds to a file (its length field included):
    what ``--scale auto`` may add to its budget, the full-size file."""
    return len(part) + LENGTH_BYTES if part else 0


def tiles(width: int, height: int, k: int) -> tuple[int, int]:
    side = 1 << k
    return math.ceil(width / side), math.ceil(height / side)


def pack(codes, k: int) -> bytes:
    """The strength part for ``codes`` (one per tile, row-major) of 2**k-pixel tiles."""
    data = bytearray([k]) + bytearray(math.ceil(len(codes) / 4))
    for i, code in enumerate(codes):
        data[1 + i // 4] |= int(code) << (2 * (i % 4))
    return bytes(data)


def unpack(part: bytes, width: int, height: int) -> tuple[int, np.ndarray]:
    """(k, the (rows, columns) array of codes) of a strength part; refuses
    one whose length does not fit the image in one line."""
    if not part or not 4 <= part[0] <= WHOLE_IMAGE_LOG2:
        raise HybridCodecError("invalid strength part: tile size byte outside 4..16")
    k = part[0]
    columns, rows = tiles(width, height, k)
    if len(part) != 1 + math.ceil(rows * columns / 4):
        raise HybridCodecError(f"invalid strength part: {len(part)} bytes for {rows * columns} tiles")
    bits = np.frombuffer(part[1:], np.uint8)
    codes = (bits[:, None] >> np.array([0, 2, 4, 6], np.uint8)) & 3
    return k, codes.reshape(-1)[: rows * columns].reshape(rows, columns)


def blend(classical: np.ndarray, restored: np.ndarray, s) -> np.ndarray:
    """``classical + s * (restored - classical)``, rounded half up, in 8 bits;
    ``s`` a strength, or an array of them broadcast over the picture."""
    c = classical.astype(np.float32)
    return np.clip(np.floor(c + s * (restored.astype(np.float32) - c) + 0.5), 0, 255).astype(np.uint8)


def apply(part: bytes, classical: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """What the decoder shows, given a file's strength part. In bands of
    rows, so that a 50-megapixel image needs no float copy of itself."""
    height, width = restored.shape[:2]
    k, codes = unpack(part, width, height)
    per_tile = np.asarray(STRENGTHS, np.float32)[codes]
    columns = np.arange(width) >> k
    out = np.empty_like(restored)
    for top in range(0, height, BAND):
        rows = np.arange(top, min(top + BAND, height)) >> k
        out[top:top + BAND] = blend(classical[top:top + BAND], restored[top:top + BAND],
                                    per_tile[rows][:, columns][..., None])
    return out


def _psnr_from_sse(sse: float, count: int) -> float:
    return float("inf") if sse == 0 else 10 * math.log10(255**2 * count / sse)


def choose(original: np.ndarray, classical: np.ndarray, restored: np.ndarray, file_bytes: int) -> bytes:
    """The strength part worth adding to a file of ``file_bytes`` bytes, or
    b"": none, one strength for the whole image, or one per 64-pixel tile,
    whichever gives the highest PSNR less the rate its bytes would have
    bought (DB_PER_DOUBLING). All three are compared on ``original``."""
    height, width = original.shape[:2]
    o = original.astype(np.float32)
    side = 1 << MAP_TILE_LOG2
    columns, rows = tiles(width, height, MAP_TILE_LOG2)
    # squared error of every strength on every tile: (strengths, rows, columns)
    sse = np.zeros((len(STRENGTHS), rows, columns))
    for code, s in enumerate(STRENGTHS):
        error = (blend(classical, restored, s).astype(np.float32) - o) ** 2
        padded = np.zeros((rows * side, columns * side), np.float64)
        padded[:height, :width] = error.reshape(height, width, -1).sum(axis=2)
        sse[code] = padded.reshape(rows, side, columns, side).sum(axis=(1, 3))
    count = original.size
    options = {b"": sse[STRENGTHS.index(1.0)].sum()}
    whole = int(np.argmin(sse.sum(axis=(1, 2))))
    options[pack([whole], WHOLE_IMAGE_LOG2)] = sse[whole].sum()
    codes = np.argmin(sse, axis=0)
    options[pack(codes.reshape(-1), MAP_TILE_LOG2)] = np.take_along_axis(sse, codes[None], 0).sum()

    def worth(item):
        part, error = item
        return _psnr_from_sse(error, count) - DB_PER_DOUBLING * math.log2(1 + overhead(part) / file_bytes)

    return max(options.items(), key=worth)[0]


def describe(part: bytes, width: int, height: int) -> str:
    """``info``'s line for a strength part."""
    if not part:
        return "1 (as restored)"
    k, codes = unpack(part, width, height)
    if codes.size == 1:
        return f"{STRENGTHS[int(codes[0, 0])]:g} (whole image)"
    counts = np.bincount(codes.reshape(-1), minlength=len(STRENGTHS))
    spread = ", ".join(f"{s:g} x{n}" for s, n in zip(STRENGTHS, counts, strict=True) if n)
    return f"per {1 << k}-pixel tile: {spread}"
