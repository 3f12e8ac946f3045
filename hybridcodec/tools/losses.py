"""Training losses, chosen by name. Images are float32 in [0, 1], (N, H, W, 3).

``ms-ssim+l1`` is the mix of Zhao et al. 2017, "Loss Functions for Image
Restoration with Neural Networks" (IEEE TCI), with their alpha = 0.84.
They blend with a Gaussian-weighted L1; we use plain L1, which is what their
released code does for the cheap variant.

``mse+texture`` adds to MSE the squared difference of local standard
deviations (8x8 windows, stride 4), a texture-energy term in the spirit of
the variance-matching losses: MSE alone is minimised by the conditional
mean, which blurs what it cannot place, and our MSE networks came out with
less local contrast than their own decoded input (on two train/ photos at
JPEG q50: mean 8x8 std 0.0384 restored, 0.0387 decoded, 0.0428 original).
The term is indifferent to where the texture's phase lies, so it pays for
energy the eye sees but PSNR punishes. Its weight: the term is 1/10 to
1/5 of the MSE on those files, so TEXTURE_WEIGHT 2 makes it a fifth to a
third of the loss.

``mse+ssimulacra2`` adds SSIMULACRA2 itself, written in TensorFlow so that
it has a gradient: the same XYB, the same six scales of SSIM and edge maps
and the same 108 weights as the PyPI package that bench scores with
(``metrics.ssimulacra2``), stopping before the final mapping to a score,
whose power 0.63 has no finite slope at zero distortion. It agrees with the
package within 0.005 points on JPEGs of two pictures at quality 10 to 95
(tests/test_models.py checks 0.05). MSE stays in the loss so that the
network is not free to please one metric at the cost of every other;
Butteraugli, which the loss never sees, is the check.
"""

from __future__ import annotations

import tensorflow as tf
from ssimulacra2 import ssimulacra2 as _s2

from .. import names
from ..metrics import MS_SSIM_WEIGHTS, ms_ssim_scales

ZHAO_ALPHA = 0.84


def ms_ssim(y_true, y_pred):
    side = min(int(y_true.shape[1]), int(y_true.shape[2]))
    weights = MS_SSIM_WEIGHTS[: ms_ssim_scales(side)]
    weights = [w / sum(weights) for w in weights]
    return tf.image.ssim_multiscale(y_true, y_pred, max_val=1.0, power_factors=weights)


TEXTURE_WEIGHT = 2.0
TEXTURE_WINDOW = 8


def local_std(images):
    """Per-channel standard deviation over 8x8 windows, stride 4."""
    k, stride = TEXTURE_WINDOW, TEXTURE_WINDOW // 2
    mean = tf.nn.avg_pool2d(images, k, stride, "VALID")
    mean_square = tf.nn.avg_pool2d(tf.square(images), k, stride, "VALID")
    return tf.sqrt(tf.maximum(mean_square - tf.square(mean), 0.0) + 1e-8)  # the epsilon keeps sqrt's gradient finite


def mse_loss(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))


def l1_loss(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred))


def ssim_loss(y_true, y_pred):
    return 1.0 - tf.reduce_mean(tf.image.ssim(y_true, y_pred, max_val=1.0))


def ms_ssim_loss(y_true, y_pred):
    # Negative predictions would make the contrast terms NaN: clip first.
    return 1.0 - tf.reduce_mean(ms_ssim(y_true, tf.clip_by_value(y_pred, 0.0, 1.0)))


def ms_ssim_l1_loss(y_true, y_pred):
    return ZHAO_ALPHA * ms_ssim_loss(y_true, y_pred) + (1 - ZHAO_ALPHA) * l1_loss(y_true, y_pred)


def mse_texture_loss(y_true, y_pred):
    texture = tf.reduce_mean(tf.square(local_std(y_true) - local_std(y_pred)))
    return mse_loss(y_true, y_pred) + TEXTURE_WEIGHT * texture


# SSIMULACRA2 (Cloudinary; libjxl tools/ssimulacra2.cc), its constants taken
# from the package bench scores with, so that the two cannot drift apart.
# Images are sRGB in [0, 1].
S2_OPSIN = tuple(map(tuple, _s2.kOpsinAbsorbanceMatrix.reshape(3, 3).tolist()))
S2_BIAS = float(_s2.kOpsinAbsorbanceBias[0])  # the same for the three channels
S2_C2 = _s2.kC2
S2_SCALES = _s2.kNumScales
S2_BLUR_SIGMA, S2_BLUR_RADIUS = 1.5, 5  # scipy's truncate 3.33: int(3.33 * 1.5 + 0.5)
S2_L4_EPSILON = 1e-24  # keeps the fourth root's slope finite where a map is all zeros (its root: 1e-6)
# On 128-pixel crops of a JPEG at q50 the distortion's gradient is 15,000
# times MSE's (their cosine 0.2): at 1e-4 the two pull about equally.
MSE_SSIMULACRA2_WEIGHT = 1e-4


# channel, scale, norm, map (SSIM, artefacts, detail lost)
S2_WEIGHTS = _s2.weights.reshape(3, S2_SCALES, 2, 3).astype("float32")


def _s2_xyb(linear):
    opsin = tf.constant(S2_OPSIN, tf.float32)
    mixed = tf.einsum("nhwc,dc->nhwd", linear, opsin) + S2_BIAS
    mixed = tf.pow(tf.maximum(mixed, S2_BIAS), 1.0 / 3.0) - S2_BIAS ** (1.0 / 3.0)
    x = 0.5 * (mixed[..., 0] - mixed[..., 1])
    y = 0.5 * (mixed[..., 0] + mixed[..., 1])
    # SSIMULACRA2's MakePositiveXYB
    return tf.stack([x * 14.0 + 0.42, y + 0.01, mixed[..., 2] - y + 0.55], axis=-1)


def _s2_blur(images):
    """The package's Gaussian: zeros beyond the left and right edges, mirrored
    at the top and bottom (it filters the transposed picture)."""
    r = S2_BLUR_RADIUS
    taps = tf.exp(-0.5 * tf.square(tf.range(-r, r + 1, dtype=tf.float32) / S2_BLUR_SIGMA))
    taps /= tf.reduce_sum(taps)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [r, r], [0, 0], [0, 0]], mode="SYMMETRIC")
    padded = tf.pad(padded, [[0, 0], [0, 0], [r, r], [0, 0]])
    across = tf.tile(tf.reshape(taps, (1, -1, 1, 1)), (1, 1, channels, 1))
    down = tf.tile(tf.reshape(taps, (-1, 1, 1, 1)), (1, 1, channels, 1))
    out = tf.nn.depthwise_conv2d(padded, across, (1, 1, 1, 1), "VALID")
    return tf.nn.depthwise_conv2d(out, down, (1, 1, 1, 1), "VALID")


def _s2_norms(d):
    """Mean and fourth-power mean's fourth root over the picture, per image and channel."""
    l4 = tf.reduce_mean(tf.square(tf.square(d)), axis=(1, 2))
    return tf.reduce_mean(d, axis=(1, 2)), tf.pow(l4 + S2_L4_EPSILON, 0.25) - S2_L4_EPSILON ** 0.25


def ssimulacra2_distortion(y_true, y_pred):
    """SSIMULACRA2's weighted distortion of each image, (N,): 0 for identical
    images, growing with what the metric sees; ``ssimulacra2_from_distortion``
    maps it to the score."""
    linear = [tf.where(x <= 0.04045, x / 12.92, tf.pow((tf.maximum(x, 0.04045) + 0.055) / 1.055, 2.4))
              for x in (tf.clip_by_value(tf.cast(y, tf.float32), 0.0, 1.0) for y in (y_true, y_pred))]
    weights = tf.constant(S2_WEIGHTS)
    total = 0.0
    for scale in range(S2_SCALES):
        if linear[0].shape[1] < 8 or linear[0].shape[2] < 8:
            break
        img1, img2 = _s2_xyb(linear[0]), _s2_xyb(linear[1])
        mu1, mu2 = _s2_blur(img1), _s2_blur(img2)
        s11, s22, s12 = _s2_blur(img1 * img1), _s2_blur(img2 * img2), _s2_blur(img1 * img2)
        num_m = 1.0 - tf.square(mu1 - mu2)
        num_s = 2.0 * (s12 - mu1 * mu2) + S2_C2
        denom_s = (s11 - mu1 * mu1) + (s22 - mu2 * mu2) + S2_C2
        ssim = tf.maximum(1.0 - num_m * num_s / denom_s, 0.0)
        edge = (1.0 + tf.abs(img2 - mu2)) / (1.0 + tf.abs(img1 - mu1)) - 1.0
        maps = (ssim, tf.maximum(edge, 0.0), tf.maximum(-edge, 0.0))  # artefacts, detail lost
        for kind, d in enumerate(maps):
            for norm, value in enumerate(_s2_norms(d)):  # (N, 3)
                total += tf.reduce_sum(value * weights[:, scale, norm, kind], axis=-1)
        linear = [tf.nn.avg_pool2d(x, 2, 2, "SAME") for x in linear]  # the package's 2x2 means
    return 0.9562382616834844 * total


def ssimulacra2_from_distortion(distortion):
    """The score the package gives for ``ssimulacra2_distortion``'s value."""
    d = distortion
    d = 2.326765642916932 * d - 0.020884521182843837 * d * d + 6.248496625763138e-05 * d * d * d
    return tf.where(d > 0, 100.0 - 10.0 * tf.pow(tf.maximum(d, 1e-12), 0.6276336467831387), 100.0)


def ssimulacra2_loss(y_true, y_pred):
    return tf.reduce_mean(ssimulacra2_distortion(y_true, y_pred))


def mse_ssimulacra2_loss(y_true, y_pred):
    return mse_loss(y_true, y_pred) + MSE_SSIMULACRA2_WEIGHT * ssimulacra2_loss(y_true, y_pred)


LOSSES = names.resolve(names.LOSSES, globals())  # names.py: listed without importing TensorFlow


def get_loss(name: str):
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}") from None
