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

# The part's layout is the format's: container.py reads and writes it
from .container import PART_LENGTH_BYTES, STRENGTHS, WHOLE_IMAGE_LOG2
from .container import pack_strengths as pack
from .container import strength_tiles as tiles
from .container import unpack_strengths as unpack

MAP_TILE_LOG2 = 6  # 64-pixel tiles: a 768x512 image's map is 24 bytes
# A part is kept only where its PSNR gain beats what its bytes would buy at
# 6.02 dB per doubling of the file (the high-rate slope; at low rates a
# doubling buys less, so this asks more of a part, not less).
DB_PER_DOUBLING = 6.02
BAND = 256  # rows blended at a time by the decoder


def overhead(part: bytes) -> int:
    """The bytes a strength part adds to a file (its length field included):
    what ``--scale auto`` may add to its budget, the full-size file."""
    return len(part) + PART_LENGTH_BYTES if part else 0


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


def _tile_sums(values: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """(rows, columns) sums of an (H, W) map over MAP_TILE_LOG2 tiles (the last ones cut by the image)."""
    side = 1 << MAP_TILE_LOG2
    padded = np.zeros((rows * side, columns * side), np.float64)
    padded[: values.shape[0], : values.shape[1]] = values
    return padded.reshape(rows, side, columns, side).sum(axis=(1, 3))


def _candidates(per_tile: np.ndarray, better) -> dict:
    """{part: its total over the image} for no part (strength 1 everywhere),
    the best whole-image strength and the best strength per tile, from the
    (strengths, rows, columns) totals ``per_tile``; ``better``: np.argmin
    for an error, np.argmax for a score."""
    options = {b"": per_tile[STRENGTHS.index(1.0)].sum()}
    whole = int(better(per_tile.sum(axis=(1, 2))))
    options[pack([whole], WHOLE_IMAGE_LOG2)] = per_tile[whole].sum()
    codes = better(per_tile, axis=0)
    options[pack(codes.reshape(-1), MAP_TILE_LOG2)] = np.take_along_axis(per_tile, codes[None], 0).sum()
    return options


def choose(original: np.ndarray, classical: np.ndarray, restored: np.ndarray, file_bytes: int) -> bytes:
    """The strength part worth adding to a file of ``file_bytes`` bytes, or
    b"": none, one strength for the whole image, or one per 64-pixel tile,
    whichever gives the highest PSNR less the rate its bytes would have
    bought (DB_PER_DOUBLING). All three are compared on ``original``."""
    height, width = original.shape[:2]
    o = original.astype(np.float32)
    columns, rows = tiles(width, height, MAP_TILE_LOG2)
    # squared error of every strength on every tile: (strengths, rows, columns)
    sse = np.stack([_tile_sums(((blend(classical, restored, s).astype(np.float32) - o) ** 2)
                               .reshape(height, width, -1).sum(axis=2), rows, columns) for s in STRENGTHS])
    count = original.size

    def worth(item):
        part, error = item
        return _psnr_from_sse(error, count) - DB_PER_DOUBLING * math.log2(1 + overhead(part) / file_bytes)

    return max(_candidates(sse, np.argmin).items(), key=worth)[0]


def choose_by_ssim(original: np.ndarray, classical: np.ndarray, restored: np.ndarray) -> bytes:
    """The perceptual tune's strength part: ``choose``'s three candidates,
    scored by the mean SSIM of each 64-pixel tile (metrics.ssim_map), a fast
    proxy of SSIMULACRA2 for this choice: on choose/ it picks SSIMULACRA2's
    whole-image strength more often than PSNR does
    (scripts/strength_proxy.py). The highest mean SSIM wins; a part's bytes
    (24 for 768x512) are not weighed against it: the encoder keeps it
    wherever SSIMULACRA2 with it beats SSIMULACRA2 without it
    (decide._with_strengths), and counts it as header in the budget."""
    from .metrics import ssim_map

    columns, rows = tiles(original.shape[1], original.shape[0], MAP_TILE_LOG2)
    scores = np.stack([_tile_sums(ssim_map(original, blend(classical, restored, s)), rows, columns)
                       for s in STRENGTHS])
    return max(_candidates(scores, np.argmax).items(), key=lambda item: (item[1], -len(item[0])))[0]
