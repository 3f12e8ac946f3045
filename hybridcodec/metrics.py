"""Quality metrics on uint8 images, from scikit-image and TensorFlow; bpp."""

from __future__ import annotations

import numpy as np


def bpp(num_bytes: int, width: int, height: int) -> float:
    """Bits per pixel of a file of ``num_bytes`` for a ``width`` x ``height`` image."""
    return 8.0 * num_bytes / (width * height)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB over all channels (PSNR-RGB for colour images), data range 255."""
    from skimage.metrics import peak_signal_noise_ratio

    if np.array_equal(reference, test):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, test, data_range=255))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    channel_axis = 2 if reference.ndim == 3 else None
    return float(structural_similarity(reference, test, data_range=255, channel_axis=channel_axis))


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM (TensorFlow's, 5 scales; fewer for images under 176 pixels a side)."""
    import tensorflow as tf

    from .losses import _MS_SSIM_WEIGHTS, ms_ssim_scales

    ref = reference if reference.ndim == 3 else reference[:, :, None]
    out = test if test.ndim == 3 else test[:, :, None]
    scales = ms_ssim_scales(min(ref.shape[:2]))
    weights = _MS_SSIM_WEIGHTS[:scales]
    weights = [w / sum(weights) for w in weights]
    value = tf.image.ssim_multiscale(
        tf.constant(ref[None], tf.float32), tf.constant(out[None], tf.float32),
        max_val=255.0, power_factors=weights,
    )
    return float(value.numpy()[0])


def bd_rate(rate_anchor, dist_anchor, rate_test, dist_test) -> float | None:
    """Bjontegaard delta rate in percent (negative: the test saves bits), with
    the `bjontegaard` package's Akima interpolation over the overlapping range.
    None when the curves do not overlap or have fewer than 4 points."""
    return _bjontegaard("bd_rate", rate_anchor, dist_anchor, rate_test, dist_test, needs_overlap=True)


def bd_psnr(rate_anchor, dist_anchor, rate_test, dist_test) -> float | None:
    """Bjontegaard delta of the distortion axis (dB for PSNR); None as for bd_rate."""
    return _bjontegaard("bd_psnr", rate_anchor, dist_anchor, rate_test, dist_test, needs_overlap=False)


def _bjontegaard(function, rate_anchor, dist_anchor, rate_test, dist_test, needs_overlap) -> float | None:
    """Call ``bjontegaard.<function>`` on monotone curves; None where it cannot answer.
    BD-rate integrates over the shared distortion range, so it also needs one."""
    import bjontegaard

    anchor = _monotone(rate_anchor, dist_anchor)
    test = _monotone(rate_test, dist_test)
    if min(len(anchor[0]), len(test[0])) < 4:
        return None
    if needs_overlap and max(anchor[1][0], test[1][0]) >= min(anchor[1][-1], test[1][-1]):
        return None
    try:
        return float(getattr(bjontegaard, function)(*anchor, *test, method="akima", require_matching_points=False))
    except (ValueError, AssertionError):  # the package refuses curves that overlap too little
        return None


def _monotone(rate, dist):
    """Sort by rate and drop points that do not raise the quality (BD needs monotone curves)."""
    points = sorted(zip(rate, dist, strict=False))
    rates, dists = [], []
    for r, d in points:
        if not dists or d > dists[-1]:
            rates.append(r)
            dists.append(d)
    return np.array(rates), np.array(dists)
