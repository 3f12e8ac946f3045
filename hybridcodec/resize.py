"""The classical resampling path: area downscale before the codec, bicubic upscale after."""

from __future__ import annotations

import numpy as np


def coded_size(width: int, height: int, scale: int) -> tuple[int, int]:
    """Size of the image the codec sees: ceil(side / scale), at least 1."""
    return max(1, -(-width // scale)), max(1, -(-height // scale))


def area_downscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Downscale by ``scale`` with pixel-area averaging (OpenCV INTER_AREA)."""
    import cv2

    if scale == 1:
        return image
    width, height = coded_size(image.shape[1], image.shape[0], scale)
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return out.reshape(height, width, *image.shape[2:])


def bicubic_upscale(image: np.ndarray, scale: int, width: int, height: int) -> np.ndarray:
    """Upscale by ``scale`` with bicubic interpolation, then crop to ``width`` x ``height``."""
    import cv2

    if scale == 1:
        return image[:height, :width]
    h, w = image.shape[:2]
    out = cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
    out = out.reshape(h * scale, w * scale, *image.shape[2:])
    return np.ascontiguousarray(out[:height, :width])
