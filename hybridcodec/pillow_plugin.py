"""Pillow plugin: after ``import hybridcodec``, Pillow opens and saves ``.hc`` files.

    Image.open("x.hc")                                   # decodes (restores) on load()
    im.save("x.hc", codec="webp", quality=50, scale="auto")
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFile

from .container import MAGIC, unpack
from .errors import HybridCodecError

FORMAT = "HC"
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _accept(prefix: bytes) -> bool:
    return prefix[: len(MAGIC)] == MAGIC


class HCImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "hybridcodec"

    def _open(self):
        self._hc_data = self.fp.read()
        try:
            header = unpack(self._hc_data).header  # checks the file; decoding waits for load()
        except HybridCodecError as error:
            raise SyntaxError(str(error)) from None
        self._size = (header.width, header.height)
        self._mode = MODES[header.channels]
        self.tile = []

    def load(self):
        if self._hc_data is not None:
            from .pipeline import decompress

            decoded = Image.fromarray(decompress(self._hc_data))
            decoded.load()
            self.im = decoded.im
            self._hc_data = None
        return Image.Image.load(self)


def _save(image: Image.Image, fp, filename) -> None:
    from .pipeline import DEFAULT_CODEC, DEFAULT_QUALITY, compress

    options = image.encoderinfo
    if image.mode not in MODES.values() and image.mode not in ("I;16",):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    data = compress(
        np.asarray(image),
        codec=options.get("codec", DEFAULT_CODEC),
        quality=options.get("quality", DEFAULT_QUALITY),
        scale=options.get("scale", "auto"),
        icc=options.get("icc_profile", image.info.get("icc_profile", b"")) or b"",
    )
    fp.write(data)


Image.register_open(FORMAT, HCImageFile, _accept)
Image.register_save(FORMAT, _save)
Image.register_extension(FORMAT, ".hc")
Image.register_mime(FORMAT, "image/x-hybridcodec")
