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
"""

from __future__ import annotations

import tensorflow as tf

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


LOSSES = names.resolve(names.LOSSES, globals())  # names.py: listed without importing TensorFlow


def get_loss(name: str):
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}") from None
