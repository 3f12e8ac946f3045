"""Quality metrics on uint8 images (scikit-image, numpy; SSIMULACRA2 and Butteraugli);
bpp; Bjontegaard deltas."""

from __future__ import annotations

import numpy as np


def bpp(num_bytes: int, width: int, height: int) -> float:
    """Bits per pixel of a file of ``num_bytes`` for a ``width`` x ``height`` image."""
    return 8.0 * num_bytes / (width * height)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB over all channels (PSNR-RGB for colour images), data range 255.
    In numpy, as scikit-image computes it: importing skimage.metrics takes
    about 1.9 s, which the encoder's per-image check would pay on every call."""
    if reference.shape != test.shape:
        raise ValueError(f"PSNR of images of different shapes {reference.shape} and {test.shape}")
    if np.array_equal(reference, test):
        return float("inf")
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    channel_axis = 2 if reference.ndim == 3 else None
    return float(structural_similarity(reference, test, data_range=255, channel_axis=channel_axis))


def ssim_map(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The (H, W) SSIM map of two uint8 images, the mean over channels of
    scikit-image's ``structural_similarity(..., full=True)`` at its defaults
    (7x7 uniform window, sample covariance; tests check the two agree), in
    OpenCV: a few ms for 768x512 where importing skimage.metrics takes 1.9 s.
    The perceptual tune chooses the restoration's strength per tile by its
    tile means (strength.choose_by_ssim: scripts/strength_proxy.py shows SSIM
    picks SSIMULACRA2's strength where PSNR does not as often)."""
    import cv2

    x = reference.astype(np.float64).reshape(*reference.shape[:2], -1)
    y = test.astype(np.float64).reshape(*test.shape[:2], -1)
    window, cov_norm = 7, 49 / 48
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def mean(a):
        return cv2.blur(a, (window, window), borderType=cv2.BORDER_REFLECT).reshape(a.shape)

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.mean(axis=2)


# Standard 5-scale weights of Wang et al. 2003 (TensorFlow's default too).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(side: int) -> int:
    """How many MS-SSIM scales fit an image of ``side`` pixels.

    The 11x11 window must fit the coarsest scale, so 5 scales need at least
    176 pixels a side. Smaller images (training crops of 128) get fewer
    scales: the finest ones, with their weights renormalised.
    """
    scales = 5
    while scales > 1 and side // 2 ** (scales - 1) < 11:
        scales -= 1
    return scales


def _gaussian_valid(x: np.ndarray, size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Gaussian filter of each channel, keeping only the positions the whole
    window covers (a "VALID" convolution, as tf.image.ssim's)."""
    import cv2

    size = min(size, x.shape[0], x.shape[1])  # an image smaller than the window: a smaller window
    taps = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / sigma) ** 2)
    taps /= taps.sum()
    filtered = cv2.sepFilter2D(x, cv2.CV_64F, taps, taps, borderType=cv2.BORDER_REFLECT)
    filtered = filtered.reshape(x.shape)
    r = size // 2
    return filtered[r: x.shape[0] - (size - 1 - r), r: x.shape[1] - (size - 1 - r)]


def _ssim_terms(x: np.ndarray, y: np.ndarray, max_val: float = 255.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (SSIM, contrast-structure) means of two (H, W, C) float64 images."""
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    mx, my = _gaussian_valid(x), _gaussian_valid(y)
    luminance = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    cs = (2 * _gaussian_valid(x * y) - 2 * mx * my + c2) / (_gaussian_valid(x * x + y * y) - mx**2 - my**2 + c2)
    return (luminance * cs).mean(axis=(0, 1)), cs.mean(axis=(0, 1))


def _halve(x: np.ndarray) -> np.ndarray:
    """2x2 average, repeating the last row or column of an odd side first (as TensorFlow does)."""
    x = np.pad(x, ((0, x.shape[0] % 2), (0, x.shape[1] % 2), (0, 0)), mode="symmetric")
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """MS-SSIM in numpy, the same arithmetic as ``tf.image.ssim_multiscale``
    (11x11 Gaussian of sigma 1.5, 5 scales, fewer for images under 176 pixels
    a side; checked against it in tests/test_runtime.py), averaged over channels."""
    x = (reference if reference.ndim == 3 else reference[:, :, None]).astype(np.float64)
    y = (test if test.ndim == 3 else test[:, :, None]).astype(np.float64)
    weights = MS_SSIM_WEIGHTS[: ms_ssim_scales(min(x.shape[:2]))]
    weights = np.array(weights) / sum(weights)
    factors = []
    for k in range(len(weights)):
        if k:
            x, y = _halve(x), _halve(y)
        ssim_value, cs = _ssim_terms(x, y)
        factors.append(cs if k < len(weights) - 1 else ssim_value)
    per_channel = np.prod([np.maximum(f, 0) ** w for f, w in zip(factors, weights, strict=True)], axis=0)
    return float(per_channel.mean())


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


# --------------------------------------------------------------------------
# Metrics fitted to the eye: SSIMULACRA 2 and Butteraugli
# --------------------------------------------------------------------------


def ssimulacra2(reference: np.ndarray, test: np.ndarray) -> float:
    """SSIMULACRA 2.1 of two RGB uint8 images: 100 identical, 90 visually
    lossless, 70 high, 50 medium, 30 low quality, negative very strong
    distortion (Cloudinary's scale). By the PyPI package ``ssimulacra2``
    0.3.0 (numpy and scipy, pinned in setup.cfg). Against Cloudinary's C++
    ssimulacra2 2.1 built from source, on 48 JPEG, WebP, AVIF and JPEG XL
    768x512 pairs: 0.1 to 1.3 points lower at scores of 40 and more, up
    to 4.2 lower below (its blur reflects at two borders where the C++
    one pads with zeros); rank correlation 0.999 (docs/ENCODERS.md). About
    0.4 s of CPU for 768x512 (1.5 s wall on a loaded 2-core EPYC). The
    package reads files, so the images go to it as in-memory BMPs
    (lossless, a millisecond)."""
    from ssimulacra2 import compute_ssimulacra2

    _same_shape(reference, test, "SSIMULACRA2")
    return float(compute_ssimulacra2(_bmp(reference), _bmp(test)))


BUTTERAUGLI_MAIN = "butteraugli_main"  # libjxl's tool (Debian: libjxl-devtools)


def butteraugli_tool() -> str | None:
    """The path of libjxl's ``butteraugli_main``, or None where it is not installed."""
    import shutil

    return shutil.which(BUTTERAUGLI_MAIN)


def butteraugli(reference: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """Butteraugli distances (max norm, 3-norm) of two RGB uint8 images, 0
    for identical ones, about 1 at the threshold of a visible difference;
    from libjxl's ``butteraugli_main`` (0.7 in Debian 12; default 80-nit
    intensity target), run on temporary PPM files (read as sRGB, as PNGs
    without a profile are: the same figures): about 0.2 s of CPU for
    768x512 (0.7 s wall on a loaded 2-core EPYC), most of it the tool.
    HybridCodecError if the tool is missing or fails."""
    import re
    import subprocess
    import tempfile
    from pathlib import Path

    from PIL import Image

    from .errors import HybridCodecError

    _same_shape(reference, test, "Butteraugli")
    tool = butteraugli_tool()
    if tool is None:
        raise HybridCodecError(f"{BUTTERAUGLI_MAIN} is not installed (Debian: libjxl-devtools)")
    with tempfile.TemporaryDirectory(prefix="hybridcodec-") as folder:
        paths = [str(Path(folder) / name) for name in ("reference.ppm", "test.ppm")]
        for image, path in zip((reference, test), paths, strict=True):
            Image.fromarray(np.ascontiguousarray(image)).convert("RGB").save(path)
        result = subprocess.run([tool, *paths, "--pnorm", "3"], capture_output=True, text=True)
    found = re.match(r"\s*([0-9.eE+-]+)\s+3-norm:\s*([0-9.eE+-]+)", result.stdout)
    if result.returncode != 0 or found is None:
        said = " ".join((result.stderr or result.stdout).split())  # one line
        raise HybridCodecError(f"{BUTTERAUGLI_MAIN} failed: {said[-200:]}")
    return float(found.group(1)), float(found.group(2))


def _same_shape(reference: np.ndarray, test: np.ndarray, metric: str) -> None:
    if reference.shape != test.shape:
        raise ValueError(f"{metric} of images of different shapes {reference.shape} and {test.shape}")


def _bmp(image: np.ndarray):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).convert("RGB").save(buffer, "BMP")
    buffer.seek(0)
    return buffer
