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
the 9 AC frequencies with u + v <= 3; high: the rest.) ``fit`` finds a, b,
c and d (d: the file's headers) by non-negative least squares on real
files (``calibrate``); mozjpeg's trellis quantization zeroes coefficients
plain rounding keeps, which the fitted weights absorb on average. The
weights are kept non-negative because a training loss follows the proxy's
gradient: an unconstrained fit gave the count of non-zero chroma
coefficients a negative weight (collinear with their log term), which
would reward a pre-processor for making small coefficients non-zero.
Measured in docs/MODELS.md (``python scripts/rate_proxy.py``).
"""

from __future__ import annotations

import numpy as np

from ..codecs import FREQUENCY_GROUPS

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
        for group in FREQUENCY_GROUPS:
            values = magnitude[:, group]
            row += [np.log2(1 + values).sum(), (values > 0).sum()]
    row += [len(planes[0]), 1.0]
    return np.asarray(row, np.float64)


def fit(rows: np.ndarray, num_bytes: np.ndarray) -> np.ndarray:
    """Non-negative least-squares weights of the proxy: bytes ~ rows @ weights."""
    from scipy.optimize import nnls

    scale = np.maximum(rows.max(axis=0), 1e-9)  # columns of like size, for nnls's tolerance
    weights, _ = nnls(rows / scale, num_bytes)
    return weights / scale


def predict(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return rows @ weights


def tables(backend, quality: int) -> dict:
    """The quantization tables and subsampling (``native.jpeg_tables``) that
    the JPEG ``backend`` writes at its own ``quality``: read from a real file."""
    from ..native import jpeg_tables

    return jpeg_tables(backend.encode(np.full((16, 16, 3), 128, np.uint8), quality))


def crops(images, side: int = 256, per_image: int = 4, seed: int = 0):
    """``per_image`` random crops of each image, on the 8x8 grid (at most the image)."""
    rng = np.random.default_rng(seed)
    for image in images:
        h, w = image.shape[:2]
        s = min(side, h - h % 8, w - w % 8)
        for _ in range(per_image):
            y, x = 8 * rng.integers(0, (h - s) // 8 + 1), 8 * rng.integers(0, (w - s) // 8 + 1)
            yield np.ascontiguousarray(image[y : y + s, x : x + s])


def measure(images, backend, qualities, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature rows, real bytes, quality) of crops of ``images`` coded by the
    JPEG ``backend`` at each of its own ``qualities``."""
    table = {q: tables(backend, q) for q in qualities}
    rows, sizes, at = [], [], []
    for crop in crops(images, seed=seed):
        for q in qualities:
            t = table[q]
            rows.append(features(crop, t["luma"], t["chroma"], t["subsampling"]))
            sizes.append(len(backend.encode(crop, q)))
            at.append(q)
    return np.array(rows), np.array(sizes, np.float64), np.array(at)


def calibrate(images, backend, qualities, seed: int = 0) -> np.ndarray:
    """The proxy's weights for the JPEG ``backend`` (the encoder that ships),
    fitted to its real file sizes on crops of ``images``."""
    rows, sizes, _ = measure(images, backend, qualities, seed)
    return fit(rows, sizes)
