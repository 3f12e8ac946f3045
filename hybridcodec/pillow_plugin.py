"""Pillow plugin: after ``import hybridcodec``, Pillow opens and saves ``.hc`` files.

    Image.open("x.hc")                                   # decodes (restores) on load()
    im.save("x.hc", codec="webp", quality=50, scale="auto")

Every error, at open() or load(), is a HybridCodecError. The size limit is
the smaller of decompress's default ``max_pixels`` and what Pillow opens
(twice ``Image.MAX_IMAGE_PIXELS``), checked at open(), so that a caller sees
hybridcodec's one exception, not Pillow's ``DecompressionBombError``;
``Image.MAX_IMAGE_PIXELS = None`` lifts both.
``info`` carries the file's ICC profile (``icc_profile``) and EXIF block
(``exif``) where it has them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFile

from . import container
from .container import MAGIC, MAX_SIDE, unpack
from .errors import HybridCodecError
from .images import upright_exif
from .settings import EncodeSettings, names

FORMAT = "HC"
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _accept(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


def max_pixels() -> int:
    """The most pixels the plugin opens (read at each open: Pillow's limit may be changed)."""
    limit = Image.MAX_IMAGE_PIXELS
    return MAX_SIDE * MAX_SIDE if limit is None else min(container.DEFAULT_MAX_PIXELS, 2 * int(limit))


class HCImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "hybridcodec"

    def _open(self):
        self._hc_data = self.fp.read()
        # The magic matched, so the file is ours: a damaged one is reported as
        # such (HybridCodecError), not as "cannot identify image file".
        hc = unpack(self._hc_data, MAX_SIDE * MAX_SIDE)  # checks the file; decoding waits for load()
        header = hc.header
        if header.width * header.height > max_pixels():
            raise HybridCodecError(
                f"image of {header.width}x{header.height} pixels exceeds the limit of {max_pixels()} "
                "(PIL.Image.MAX_IMAGE_PIXELS = None lifts it)"
            )
        self._size = (header.width, header.height)
        self._mode = MODES[header.channels]
        self.tile = []
        if hc.icc:
            self.info["icc_profile"] = hc.icc
        if hc.metadata:
            # the pixels are upright: an orientation tag (files of 0.7.2 and
            # older kept it) would make ImageOps.exif_transpose turn them again
            self.info["exif"] = upright_exif(hc.metadata)

    def load(self):
        if self._hc_data is not None:
            from .pipeline import decompress

            decoded = Image.fromarray(decompress(self._hc_data, max_pixels=max_pixels()))
            if (decoded.mode, decoded.size) != (self.mode, self.size):  # never an image unlike the header's
                raise HybridCodecError(f"decoded {decoded.mode} {decoded.size} image does not match "
                                       f"the header's {self.mode} {self.size}")
            decoded.load()
            self.im = decoded.im
            self._hc_data = None
        return Image.Image.load(self)


# Options of save(): the encode settings marked for Pillow (settings.py), and
# the ICC profile by Pillow's name; Pillow adds the others in this set itself.
SAVE_OPTIONS = {*names(pillow_only=True), "icc_profile"}
PILLOW_OPTIONS = {"save_all", "append_images"}


def _save(image: Image.Image, fp, filename) -> None:
    from .pipeline import encode_with

    options = image.encoderinfo
    unknown = sorted(set(options) - SAVE_OPTIONS - PILLOW_OPTIONS)
    if unknown:
        raise HybridCodecError(f"unknown .hc save option(s) {', '.join(unknown)}; known: "
                               f"{', '.join(sorted(SAVE_OPTIONS))}")
    if image.mode == "F":
        raise HybridCodecError("mode F (floating-point) images cannot be coded: convert to L, I;16 or RGB")
    if image.mode == "I":  # 32-bit integers: coded as 16-bit gray, not as RGB
        pixels = np.asarray(image)
        if pixels.min() < 0 or pixels.max() > 65535:
            raise HybridCodecError("mode I image with values outside 0-65535 cannot be coded")
        pixels = pixels.astype(np.uint16)
    else:
        if image.mode not in MODES.values() and image.mode not in ("I;16",):
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        pixels = np.asarray(image)
    given = {name: options[name] for name in SAVE_OPTIONS - {"icc_profile"} if name in options}
    settings = EncodeSettings(**given).but(
        native=bool(given.get("native", False)),
        icc=options.get("icc_profile", image.info.get("icc_profile", b"")) or b"")
    fp.write(encode_with(pixels, settings).data)


def _save_all(image: Image.Image, fp, filename) -> None:
    """``save_all=True``: a .hc file holds one frame, so only a one-frame image is saved."""
    frames = getattr(image, "n_frames", 1) + len(image.encoderinfo.get("append_images", []))
    if frames > 1:
        raise HybridCodecError(f"a .hc file holds one image; this one has {frames} frames")
    _save(image, fp, filename)


Image.register_open(FORMAT, HCImageFile, _accept)
Image.register_save(FORMAT, _save)
Image.register_save_all(FORMAT, _save_all)
Image.register_extension(FORMAT, ".hc")
Image.register_mime(FORMAT, "image/x-hybridcodec")
