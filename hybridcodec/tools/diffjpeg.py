"""A differentiable JPEG and its rate, for training a rate-aware ComCNN
(issue #23). Training only: it needs TensorFlow; runtime modules never import it.

It follows the real encoder as closely as Reich et al. (WACV 2024) show a
differentiable JPEG must, with the same arithmetic as ``rateproxy`` (one
definition of the transform, the tables and the groups):

    RGB (0-255) -> JFIF YCbCr -> chroma 2x2 mean (4:2:0) -> 8x8 blocks - 128
    -> orthonormal DCT -> y = c / Q (the file's own tables at that quality)
    -> y_hat = y + stopgrad(round(y) - y)          (straight-through)
    -> IDCT(y_hat * Q) + 128 -> chroma upsampled as libjpeg does ("fancy",
       a triangle filter: bilinear at half-pixel centres) -> RGB
    -> clipped and rounded to 8 bits (straight-through)

The rate is the proxy of ``rateproxy`` on ``y_hat``: per plane and frequency
group, ``a * sum log2(1 + |y_hat|) + b * count(y_hat != 0)``, with its weights
fitted to the shipped encoder's real bytes. The count has no gradient; its
backward pass is that of ``min(1, |y|)``, which pushes coefficients that
round to zero towards zero and leaves the others to the log term.
mozjpeg's trellis quantization rounds some coefficients down where plain
rounding keeps them; the fitted weights absorb that on average, and the
restoration network is retrained on the real encoder's files in the other
half of each round.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..codecs import FREQUENCY_GROUPS
from . import rateproxy

_YCBCR = tf.constant(rateproxy._YCBCR.T, tf.float32)
_RGB = tf.constant(np.linalg.inv(rateproxy._YCBCR).T, tf.float32)
_DCT = tf.constant(rateproxy._DCT, tf.float32)
_GROUPS = tf.constant(np.stack([g.reshape(64) for g in FREQUENCY_GROUPS]).astype(np.float32))  # (3, 64)


def _straight_round(x):
    return x + tf.stop_gradient(tf.round(x) - x)


def _blocks(plane):
    """(N, H, W) -> (N, H/8 * W/8, 8, 8) in raster order (H, W multiples of 8)."""
    n, h, w = tf.shape(plane)[0], tf.shape(plane)[1], tf.shape(plane)[2]
    blocks = tf.reshape(plane, (n, h // 8, 8, w // 8, 8))
    return tf.reshape(tf.transpose(blocks, (0, 1, 3, 2, 4)), (n, -1, 8, 8))


def _unblocks(blocks, h, w):
    n = tf.shape(blocks)[0]
    plane = tf.reshape(blocks, (n, h // 8, w // 8, 8, 8))
    return tf.reshape(tf.transpose(plane, (0, 1, 3, 2, 4)), (n, h, w))


def _code_plane(plane, table):
    """(decoded plane, y_hat) of one plane at the (N, 8, 8) quantization table."""
    h, w = tf.shape(plane)[1], tf.shape(plane)[2]
    blocks = _blocks(plane - 128.0)
    coefficients = tf.einsum("ij,nbjk,lk->nbil", _DCT, blocks, _DCT)
    y_hat = _straight_round(coefficients / table[:, None])
    decoded = tf.einsum("ji,nbjk,kl->nbil", _DCT, y_hat * table[:, None], _DCT)
    return _unblocks(decoded, h, w) + 128.0, y_hat


def _rate_features(y_hat):
    """(N, 6) per-group sums of log2(1 + |y_hat|) and of the non-zero count,
    in ``rateproxy.features``' order, DC taken as a difference."""
    flat = tf.reshape(y_hat, (tf.shape(y_hat)[0], -1, 64))
    dc = flat[:, :, :1]
    dc_diff = dc - tf.pad(dc[:, :-1], ((0, 0), (1, 0), (0, 0)))
    flat = tf.concat([dc_diff, flat[:, :, 1:]], axis=-1)
    magnitude = tf.abs(flat)
    log_term = tf.math.log(1.0 + magnitude) / np.log(2.0)
    soft = tf.minimum(magnitude, 1.0)
    nonzero = soft + tf.stop_gradient(tf.cast(magnitude > 0.5, tf.float32) - soft)
    log_sums = tf.einsum("nbk,gk->ng", log_term, _GROUPS)
    counts = tf.einsum("nbk,gk->ng", nonzero, _GROUPS)
    return tf.reshape(tf.stack([log_sums, counts], axis=-1), (-1, 6))


def code(rgb, luma_table, chroma_table, weights):
    """JPEG 4:2:0 of a batch, differentiably.

    ``rgb``: (N, H, W, 3) float in [0, 1], H and W multiples of 16;
    ``luma_table``, ``chroma_table``: (N, 8, 8) quantization tables;
    ``weights``: the proxy's (rateproxy.FEATURES,) weights in bytes.
    Returns (decoded (N, H, W, 3) in [0, 1], estimated bits per image (N,)).
    """
    pixels = 255.0 * tf.cast(rgb, tf.float32)
    ycc = tf.einsum("nhwc,cd->nhwd", pixels, _YCBCR) + tf.constant([0.0, 128.0, 128.0])
    h, w = tf.shape(pixels)[1], tf.shape(pixels)[2]
    luma, luma_y = _code_plane(ycc[..., 0], luma_table)
    chroma = tf.nn.avg_pool2d(ycc[..., 1:], 2, 2, "VALID")
    decoded_chroma, chroma_y = [], []
    for c in range(2):
        plane, y_hat = _code_plane(chroma[..., c], chroma_table)
        decoded_chroma.append(plane)
        chroma_y.append(y_hat)
    upsampled = tf.image.resize(tf.stack(decoded_chroma, axis=-1), (h, w), method="bilinear")
    decoded_ycc = tf.concat([luma[..., None], upsampled - 128.0], axis=-1)
    decoded = tf.einsum("nhwc,cd->nhwd", decoded_ycc, _RGB)
    decoded = decoded + tf.stop_gradient(tf.clip_by_value(decoded, 0.0, 255.0) - decoded)
    decoded = _straight_round(decoded) / 255.0

    features = tf.concat([_rate_features(luma_y), _rate_features(tf.concat(chroma_y, axis=1))], axis=-1)
    weights = tf.constant(np.asarray(weights, np.float32))
    blocks = tf.cast(tf.shape(luma_y)[1], tf.float32)
    num_bytes = tf.linalg.matvec(features, weights[:12]) + weights[12] * blocks + weights[13]
    return decoded, 8.0 * num_bytes
