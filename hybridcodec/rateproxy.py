"""A rate proxy for JPEG: the bytes a JPEG encoder will spend on an image,
estimated from its quantized DCT coefficients (issue #23's first piece; the
rate-aware ComCNN's loss needs a rate it can differentiate).

The JPEG model follows the real encoder closely, as Reich et al. (WACV 2024)
show a differentiable JPEG must: JFIF YCbCr, 2x2 chroma averaging (4:2:0),
level shift, the 8x8 orthonormal DCT (JPEG's FDCT), division by the file's
own quantization tables and rounding. The proxy is linear in per-group
statistics of the quantized coefficients ``y``, as in Talebi et al. 2020 and
Ye et al. 2025::

    R = sum over planes p (luma, chroma) and groups k (DC, low, high):
            a_pk * sum log2(1 + |y|) + b_pk * count(y != 0)
        + c * blocks + d

(DC taken as the difference from the block before, as JPEG codes it; low:
the 9 AC frequencies with u + v <= 3; high: the rest.) ``fit`` finds a, b
c and d (the file's headers) by least squares on real files; mozjpeg's trellis quantization zeroes
coefficients plain rounding keeps, which the fitted weights absorb on
average. Measured in docs/MODELS.md (``python scripts/rate_proxy.py``).
"""

from __future__ import annotations

import numpy as np

from .codecs import _FREQUENCY_GROUPS

# JFIF (ITU-T T.871) RGB -> YCbCr, full range
_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
FEATURES = 14  # 2 planes x 3 groups x 2 statistics, the luma block count and 1


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    matrix = np.sqrt(2 / 8) * np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16)
    matrix[0] /= np.sqrt(2)
    return matrix


_DCT = _dct_matrix()


def _blocks(plane: np.ndarray) -> np.ndarray:
    """(n, 8, 8) blocks of a plane, edge-padded to multiples of 8 (as JPEG pads)."""
    h, w = plane.shape
    plane = np.pad(plane, ((0, -h % 8), (0, -w % 8)), mode="edge")
    bh, bw = plane.shape[0] // 8, plane.shape[1] // 8
    return plane.reshape(bh, 8, bw, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)


def quantized(rgb: np.ndarray, luma_table, chroma_table, subsampling=(2, 2)) -> tuple[np.ndarray, np.ndarray]:
    """The quantized DCT coefficients (n, 8, 8) of the luma plane and of both
    chroma planes together, as a JPEG encoder with these tables computes them
    before entropy coding (plain rounding, no trellis)."""
    ycc = rgb.astype(np.float64) @ _YCBCR.T
    ycc[..., 1:] += 128
    planes = [ycc[..., 0]]
    sh, sv = subsampling
    for c in (1, 2):
        chroma = ycc[..., c]
        h, w = chroma.shape
        chroma = np.pad(chroma, ((0, -h % sv), (0, -w % sh)), mode="edge")
        planes.append(chroma.reshape(chroma.shape[0] // sv, sv, chroma.shape[1] // sh, sh).mean(axis=(1, 3)))
    out = []
    for k, table in ((0, luma_table), (1, chroma_table)):
        blocks = np.concatenate([_blocks(planes[p]) for p in ([0] if k == 0 else [1, 2])]) - 128
        coefficients = np.einsum("ij,njk,lk->nil", _DCT, blocks, _DCT)
        out.append(np.rint(coefficients / np.asarray(table, np.float64).reshape(8, 8)))
    return out[0], out[1]


def features(rgb: np.ndarray, luma_table, chroma_table, subsampling=(2, 2)) -> np.ndarray:
    """The proxy's statistics of one image (length FEATURES)."""
    row = []
    planes = quantized(rgb, luma_table, chroma_table, subsampling)
    for y in planes:
        y = y.copy()
        y[:, 0, 0] = np.diff(y[:, 0, 0], prepend=0)  # DC is coded as a difference
        magnitude = np.abs(y)
        for group in _FREQUENCY_GROUPS:
            values = magnitude[:, group]
            row += [np.log2(1 + values).sum(), (values > 0).sum()]
    row += [len(planes[0]), 1.0]
    return np.asarray(row, np.float64)


def fit(rows: np.ndarray, num_bytes: np.ndarray) -> np.ndarray:
    """Least-squares weights of the proxy: bytes ~ rows @ weights."""
    weights, *_ = np.linalg.lstsq(rows, num_bytes, rcond=None)
    return weights


def predict(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return rows @ weights
