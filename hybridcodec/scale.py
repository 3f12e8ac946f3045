"""The coding scale: how much smaller than the image the codec's picture is.

Three scales exist: full size (1), three quarters a side (4/3) and half size
(2). The in-between scale exists because between the rates where half size
wins and those where full size wins, a three-quarter-size image coded at a
higher quality beats both (JPEG on `val`, 0.22 bpp: docs/MODELS.md).

A ``Scale`` is the one place that knows everything about a scale: the byte
that ``.hc`` files store, how JSON and the command line write it, the size of
the codec's picture, the classical resampling (area down, bicubic up) and
what the restoration network is given. A restoration network upsamples by 2
itself; at 4/3 the decoder upsamples (bicubic) first and a full-size network
restores the result.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True, eq=False)
class Scale:
    """A scale compares and hashes as its factor, so ``scale == 2`` reads as it should."""

    factor: Fraction  # image side / codec picture side
    file_id: int  # the scale byte of a .hc file; never reuse one
    words: str  # what a user reads: "half size"

    def __eq__(self, other) -> bool:
        if isinstance(other, Scale):
            return self.factor == other.factor
        if isinstance(other, numbers.Rational):
            return self.factor == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.factor)

    def __lt__(self, other: Scale) -> bool:
        return self.factor < other.factor

    @property
    def label(self) -> int | str:
        """How JSON files write it: 1, 2 or "4/3"."""
        return int(self.factor) if self.factor.denominator == 1 else str(self.factor)

    def __str__(self) -> str:
        return str(self.label)

    @property
    def network_factor(self) -> int:
        """The ``scale`` of the restoration network that serves this coding scale."""
        return int(self.factor) if self.factor.denominator == 1 else 1

    @property
    def is_full(self) -> bool:
        return self.factor == 1

    def coded_size(self, width: int, height: int) -> tuple[int, int]:
        """Size of the codec's picture: ceil(side / factor), at least 1."""
        n, d = self.factor.numerator, self.factor.denominator
        return max(1, -(-width * d // n)), max(1, -(-height * d // n))

    def downscale(self, image: np.ndarray) -> np.ndarray:
        """The classical pre-processing: pixel-area averaging (OpenCV INTER_AREA)."""
        if self.is_full:
            return image
        import cv2

        width, height = self.coded_size(image.shape[1], image.shape[0])
        out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return out.reshape(height, width, *image.shape[2:])

    def upscale(self, image: np.ndarray, width: int, height: int) -> np.ndarray:
        """The classical restoration: bicubic to ``width`` x ``height``. At 2 the
        image is doubled and cropped (as the networks do); at 4/3 it is resized
        to the original size directly."""
        if self.is_full:
            return image[:height, :width]
        import cv2

        if self.factor.denominator != 1:
            out = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
            return out.reshape(height, width, *image.shape[2:])
        h, w = image.shape[:2]
        s = int(self.factor)
        out = cv2.resize(image, (w * s, h * s), interpolation=cv2.INTER_CUBIC)
        out = out.reshape(h * s, w * s, *image.shape[2:])
        return np.ascontiguousarray(out[:height, :width])

    def network_input(self, decoded: np.ndarray, width: int, height: int) -> np.ndarray:
        """What this scale's restoration network is given: the decoded image
        where the network upsamples itself (1, 2), its bicubic upscale at 4/3."""
        if self.network_factor == self.factor:
            return decoded
        return self.upscale(decoded, width, height)


FULL = Scale(Fraction(1), 1, "full size")
THREE_QUARTER = Scale(Fraction(4, 3), 3, "three-quarter size")
HALF = Scale(Fraction(2), 2, "half size")
SCALES = (FULL, THREE_QUARTER, HALF)
CHOICES = [str(s) for s in SCALES]  # what --scale takes (besides "auto")


def parse(value) -> Scale:
    """The Scale of 1, 2, "4/3", "1", a Fraction or a Scale; ValueError otherwise."""
    if isinstance(value, Scale):
        return value
    try:
        factor = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        factor = None
    for scale in SCALES:
        if scale.factor == factor:
            return scale
    raise ValueError(f"scale must be 1, 4/3 or 2, not {value!r}")


def by_file_id(file_id: int) -> Scale | None:
    return next((s for s in SCALES if s.file_id == file_id), None)
