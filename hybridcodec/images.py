"""Reading images from disk with Pillow into the arrays the pipeline codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm", ".gif"}


def list_images(folder) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    from .errors import HybridCodecError

    folder = Path(folder)
    if not folder.is_dir():
        raise HybridCodecError(f"not a folder of images: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_rgb(path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array (for training and benchmarks)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def downscaled(image: np.ndarray, long_side: int) -> np.ndarray:
    """``image`` area-downscaled so that its long side is ``long_side``
    pixels (as ``val-small/`` was made; for training and benchmarks);
    unchanged if it is not larger."""
    import cv2

    h, w = image.shape[:2]
    factor = long_side / max(h, w)
    if factor >= 1:
        return image
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class LoadedImage:
    """An image read for compression: pixels plus what travels with them."""

    def __init__(self, pixels: np.ndarray, icc: bytes, exif: bytes, warnings: list[str]):
        self.pixels, self.icc, self.exif, self.warnings = pixels, icc, exif, warnings


def load_image(path, max_pixels: int | None = None, name: str | None = None) -> LoadedImage:
    """Read any image Pillow reads (a path or a binary file), as the pipeline wants it.

    * EXIF orientation is applied (the pixels come out upright).
    * Palette, CMYK, YCbCr and other modes become RGB (or RGBA if they carry
      transparency); 1-bit becomes gray. 16-bit gray stays 16-bit (coded at
      8, with a warning).
    * Animated images: the first frame, with a warning.
    * The ICC profile and EXIF block are returned for the caller to keep.
    * More than ``max_pixels`` pixels is refused before decoding, naming
      --max-pixels (Pillow's own bomb check and warning are kept out).

    Raises HybridCodecError for files Pillow cannot read; messages name ``name``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from .container import DEFAULT_MAX_PIXELS
    from .errors import HybridCodecError

    name = name or str(path)
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    warnings = []
    pillow_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our own check below, with our own message
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise HybridCodecError(f"{name}: image of {width}x{height} = {width * height} pixels exceeds "
                                       f"the limit of {max_pixels} (raise it with --max-pixels)")
            if getattr(image, "n_frames", 1) > 1:
                warnings.append(f"{name}: animated image, only the first frame is coded")
            image.seek(0)
            icc = image.info.get("icc_profile") or b""
            exif = image.info.get("exif") or b""
            image = ImageOps.exif_transpose(image)
            pixels = _to_array(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise HybridCodecError(f"cannot read image {name}: {error}") from None
    except ValueError as error:
        if isinstance(error, HybridCodecError):
            raise
        raise HybridCodecError(f"cannot read image {name}: {error}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    if pixels.dtype == np.uint16:
        warnings.append(f"{name}: 16-bit image coded at 8 bits a sample (the file records 16)")
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


def save_image(path, pixels: np.ndarray, kind: str = "PNG", icc: bytes = b"", exif: bytes = b"",
               software: str = "") -> None:
    """Write ``pixels`` losslessly as ``kind`` (PNG, TIFF, WEBP or BMP) with
    the ICC profile and EXIF block where the format keeps them, and
    ``software`` in its Software field (PNG, TIFF)."""
    from PIL import Image, PngImagePlugin

    from .errors import HybridCodecError

    options = {}
    if icc and kind != "BMP":
        options["icc_profile"] = icc
    if exif and kind != "BMP":
        options["exif"] = exif
    if kind == "PNG":
        # zlib level 1: a 768x512 photo in 28 ms against 39 at level 3 and 120
        # at Pillow's default 6, for 5% and 14% more bytes; a decode's output
        # is written once, and the time is the user's
        options["compress_level"] = 1
    if kind == "PNG" and software:
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", software)
        options["pnginfo"] = info
    elif kind == "TIFF" and software:
        options["tiffinfo"] = {0x0131: software}
    elif kind == "WEBP":
        options.update(lossless=True, quality=100, method=4)
    try:
        Image.fromarray(pixels).save(path, format=kind, **options)
    except (OSError, ValueError, KeyError) as error:
        raise HybridCodecError(f"cannot write this image as {kind}: {error}") from None

