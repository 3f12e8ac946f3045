"""Reading images from disk with Pillow into the arrays the pipeline codes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm", ".gif"}


@contextlib.contextmanager
def _without_pillows_size_check():
    """Pillow's decompression-bomb check off within the block (and its
    warning with it): the caller checks sizes itself, against --max-pixels."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


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

    * EXIF orientation is applied (the pixels come out upright) and the EXIF
      block handed on says so (no orientation tag): applied once.
    * Palette, CMYK, YCbCr and other modes become RGB (or RGBA if they carry
      transparency); 1-bit becomes gray. 16-bit gray, gray+alpha, RGB and
      RGBA stay 16-bit (coded at 8, with a warning): Pillow opens 16-bit
      colour PNG and TIFF as 8-bit, so imagecodecs reads those.
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
    try:  # our own size check below, with our own message
        with _without_pillows_size_check(), Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise HybridCodecError(f"{name}: image of {width}x{height} = {width * height} pixels exceeds "
                                       f"the limit of {max_pixels} (raise it with --max-pixels)")
            # Image.open stands on the first frame (n_frames goes back to it); no
            # seek(0): PSD and SPIDER files refuse it with EOFError
            if getattr(image, "n_frames", 1) > 1:
                warnings.append(f"{name}: animated image, only the first frame is coded")
            icc = image.info.get("icc_profile") or b""
            wide = _sixteen_bit_colour(image, path)
            if wide is not None:
                pixels = oriented(wide, image.getexif().get(ORIENTATION, 1))
                exif = upright_exif(image.info.get("exif") or b"")
            else:
                image = ImageOps.exif_transpose(image)  # its EXIF now has no orientation tag
                exif = image.info.get("exif") or b""
                pixels = _to_array(image)
    except (UnidentifiedImageError, OSError, SyntaxError, EOFError) as error:
        raise HybridCodecError(f"cannot read image {name}: {error}") from None
    except ValueError as error:
        if isinstance(error, HybridCodecError):
            raise
        raise HybridCodecError(f"cannot read image {name}: {error}") from None
    if pixels.dtype == np.uint16:
        warnings.append(f"{name}: 16-bit image coded at 8 bits a sample (the file records 16)")
    return LoadedImage(pixels, icc, exif, warnings)


def _sixteen_bit_colour(image, source) -> np.ndarray | None:
    """The 16-bit samples of a gray+alpha, RGB or RGBA PNG or TIFF, which
    Pillow (13) opens as 8-bit modes, dropping the low bytes; None for
    anything else (16-bit gray Pillow reads itself, as I;16; a 16-bit BMP's
    BGR;16 is 5-6-5 bits, a CMYK;16 TIFF is not colour as these are)."""
    if image.format not in ("PNG", "TIFF") or image.mode not in ("LA", "RGB", "RGBA"):
        return None
    args = image.tile[0].args if image.tile else ""
    rawmode = args if isinstance(args, str) else next(iter(args or ()), "")  # PNG: the raw mode; TIFF: a tuple
    bands = rawmode.split(";")[0] if isinstance(rawmode, str) and ";16" in rawmode else ""
    if bands not in ("LA", "RGB", "RGBA"):  # a 16-bit gray+alpha PNG opens as RGBA, its raw mode LA;16B
        return None
    import imagecodecs

    if hasattr(source, "read"):
        source.seek(0)
        data = source.read()
    else:
        data = Path(source).read_bytes()
    try:
        pixels = imagecodecs.imread(data)
    except Exception:  # imagecodecs raises its own error types: Pillow's 8 bits, as before
        return None
    if pixels.dtype != np.uint16 or pixels.shape != (*image.size[::-1], len(bands)):
        return None
    return pixels


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
        options["exif"] = upright_exif(exif)  # the pixels are upright: files of 0.7.2 and older kept the tag
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


# --------------------------------------------------------------------------
# EXIF orientation: applied once, on every path. Compress turns the pixels
# upright and keeps EXIF without the tag; decompress of a plain camera file
# turns the restored image (restoration runs on the stored pixels); any EXIF
# decompress writes has no orientation tag.
# --------------------------------------------------------------------------

ORIENTATION = 0x0112  # the EXIF tag

# What makes stored pixels upright for each EXIF orientation, as Pillow's
# ImageOps.exif_transpose does (tests/test_images.py checks it against Pillow),
# on arrays of any channels and depth
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def oriented(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``pixels`` stored under EXIF ``orientation`` (1-8), turned upright."""
    turn = _UPRIGHT.get(orientation)
    return pixels if turn is None else np.ascontiguousarray(turn(pixels))


def upright_exif(exif: bytes) -> bytes:
    """An EXIF block without its orientation tag (upright: orientation 1)."""
    from PIL import Image

    if not exif:
        return exif
    tags = Image.Exif()
    try:
        tags.load(exif)
    except Exception:  # Pillow's parser raises many kinds: a block it cannot read goes as it is
        return exif
    if tags.get(ORIENTATION, 1) == 1:
        return exif
    del tags[ORIENTATION]
    return tags.tobytes()


def stored_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of a plain JPEG, WebP or AVIF file (one
    without a hybridcodec header): how its stored pixels turn for display;
    1 for anything else. JPEG XL is 1: libjxl turns the pixels as it decodes
    (a cjxl transcode of a JPEG with Orientation=6 comes out of
    imagecodecs.jpegxl_decode upright, its EXIF still saying 6). A hybridcodec
    file's pixels were coded upright."""
    import io

    from PIL import Image

    from . import codecs

    data = bytes(data)
    backend = codecs.sniff_native(data)
    # no EXIF block and no AVIF rotation or mirror box: the common case, without opening it
    if backend is None or backend.name == "jpegxl" or not any(m in data for m in (b"Exif", b"EXIF", b"irot", b"imir")):
        return 1
    if codecs.extract_native(data)[1] is not None:
        return 1
    # only the EXIF is read: Pillow's bomb check (an error above twice its
    # limit, a warning above it) would hide the tag of a file --max-pixels allows
    try:
        with _without_pillows_size_check(), Image.open(io.BytesIO(data)) as image:
            orientation = image.getexif().get(ORIENTATION, 1)
    except Exception:  # a file Pillow cannot read is decoded as it is stored
        return 1
    return orientation if orientation in _UPRIGHT else 1


def upright(image: np.ndarray, data: bytes) -> np.ndarray:
    """A decoded (restored) ``image`` of the file ``data``, turned upright by
    a plain file's EXIF orientation (pipeline.decode)."""
    return oriented(image, stored_orientation(data))


def orientation_fields(data: bytes, width: int, height: int) -> dict:
    """What ``info`` adds for a plain file stored turned: its EXIF
    orientation and the size decompress writes; nothing for an upright one."""
    orientation = stored_orientation(data)
    if orientation == 1:
        return {}
    if orientation >= 5:  # a quarter turn
        width, height = height, width
    return {"orientation": orientation, "displayed_width": width, "displayed_height": height}
