"""The classical resampling path: area downscale before the codec, bicubic upscale after.

A scale is the factor by which the codec's image is smaller than the
original: 1 (full size), 4/3 (three quarters a side) or 2 (half size). The
in-between scale exists because between the rates where half size wins and
those where full size wins, a three-quarter-size image coded at a higher
quality beats both (JPEG on `val`, 0.22 bpp: docs/MODELS.md). Scales are
``fractions.Fraction`` values; JSON files and the command line write them as
``1``, ``"4/3"`` and ``2``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

SCALES = (Fraction(1), Fraction(4, 3), Fraction(2))


def parse_scale(value) -> Fraction:
    """One of SCALES from 1, 2, "4/3", "1" or a Fraction; ValueError otherwise."""
    try:
        scale = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        scale = None
    if scale not in SCALES:
        raise ValueError(f"scale must be 1, 4/3 or 2, not {value!r}")
    return scale


def scale_label(scale) -> int | str:
    """How JSON and the command line write a scale: 1, 2 or "4/3"."""
    scale = parse_scale(scale)
    return int(scale) if scale.denominator == 1 else str(scale)


def network_scale(scale) -> int:
    """The ``scale`` of the restoration network for a coding scale. A network
    upsamples by 2 itself; at 4/3 the decoder upsamples (bicubic) and a
    full-size network restores the result."""
    scale = parse_scale(scale)
    return int(scale) if scale.denominator == 1 else 1


def network_input(decoded: np.ndarray, scale, width: int, height: int) -> np.ndarray:
    """What the restoration network of a coding scale is given: the decoded
    image itself where the network upsamples (1, 2), its bicubic upscale to
    ``width`` x ``height`` at 4/3."""
    if network_scale(scale) == parse_scale(scale):
        return decoded
    return bicubic_upscale(decoded, scale, width, height)


def coded_size(width: int, height: int, scale) -> tuple[int, int]:
    """Size of the image the codec sees: ceil(side / scale), at least 1."""
    scale = parse_scale(scale)
    n, d = scale.numerator, scale.denominator
    return max(1, -(-width * d // n)), max(1, -(-height * d // n))


def area_downscale(image: np.ndarray, scale) -> np.ndarray:
    """Downscale by ``scale`` with pixel-area averaging (OpenCV INTER_AREA)."""
    import cv2

    if parse_scale(scale) == 1:
        return image
    width, height = coded_size(image.shape[1], image.shape[0], scale)
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return out.reshape(height, width, *image.shape[2:])


def bicubic_upscale(image: np.ndarray, scale, width: int, height: int) -> np.ndarray:
    """Upscale by ``scale`` with bicubic interpolation to ``width`` x ``height``.

    At scale 2 the image is doubled and cropped (as the networks do); at 4/3
    it is resized to the original size directly.
    """
    import cv2

    scale = parse_scale(scale)
    if scale == 1:
        return image[:height, :width]
    h, w = image.shape[:2]
    if scale.denominator != 1:
        out = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
        return out.reshape(height, width, *image.shape[2:])
    s = int(scale)
    out = cv2.resize(image, (w * s, h * s), interpolation=cv2.INTER_CUBIC)
    out = out.reshape(h * s, w * s, *image.shape[2:])
    return np.ascontiguousarray(out[:height, :width])
