"""Reading images from disk with Pillow into the arrays the pipeline codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm", ".gif"}


def list_images(folder) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_rgb(path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array (for training and benchmarks)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


class LoadedImage:
    """An image read for compression: pixels plus what travels with them."""

    def __init__(self, pixels: np.ndarray, icc: bytes, exif: bytes, warnings: list[str]):
        self.pixels, self.icc, self.exif, self.warnings = pixels, icc, exif, warnings


def load_image(path, max_pixels: int | None = None) -> LoadedImage:
    """Read any image Pillow reads, as the pipeline wants it.

    * EXIF orientation is applied (the pixels come out upright).
    * Palette, CMYK, YCbCr and other modes become RGB (or RGBA if they carry
      transparency); 1-bit becomes gray. 16-bit gray stays 16-bit (coded at 8).
    * Animated images: the first frame, with a warning.
    * The ICC profile and EXIF block are returned for the caller to keep.

    Raises HybridCodecError for files Pillow cannot read.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from .errors import HybridCodecError

    warnings = []
    if max_pixels is not None:
        Image.MAX_IMAGE_PIXELS = max_pixels // 2  # Pillow errors at twice its limit
    try:
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) > 1:
                warnings.append(f"{path}: animated image, only the first frame is coded")
            image.seek(0)
            icc = image.info.get("icc_profile") or b""
            exif = image.info.get("exif") or b""
            image = ImageOps.exif_transpose(image)
            pixels = _to_array(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise HybridCodecError(f"cannot read image {path}: {error}") from None
    except Image.DecompressionBombError as error:
        raise HybridCodecError(f"{path}: {error}") from None
    return LoadedImage(pixels, icc, exif, warnings)


def _to_array(image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image)
        if array.dtype != np.uint16:  # 32-bit integer images: assume 16-bit data
            array = np.clip(array, 0, 65535).astype(np.uint16)
        return array
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode == "P" and "transparency" in image.info or mode in ("PA", "RGBa", "La"):
        return np.asarray(image.convert("RGBA"))
    return np.asarray(image.convert("RGB"))  # P, CMYK, YCbCr, LAB, HSV, F


def save_png(path, pixels: np.ndarray, icc: bytes = b"", exif: bytes = b"") -> None:
    """Write a PNG with the ICC profile and EXIF block, if any."""
    from PIL import Image

    options = {}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    Image.fromarray(pixels).save(path, format="PNG", **options)
