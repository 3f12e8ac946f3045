"""Codec backends: one small class per codec, all behind one interface.

Every backend takes and returns RGB ``uint8`` arrays of shape (H, W, 3) and
uses the codec's own quality scale, clamped to 1-99 (100 means lossless in
AVIF and JPEG XL, which hybridcodec never wants from a lossy backend).

Adding a codec is one class with ``name``, ``codec_id`` (the byte stored in
``.hc`` files, never reused), ``encode`` and ``decode``, decorated with
``@register``.
"""

from __future__ import annotations

import numpy as np

from .errors import HybridCodecError

_REGISTRY: dict[str, "Codec"] = {}


def register(cls):
    """Class decorator: add one instance of ``cls`` to the registry."""
    codec = cls()
    for other in _REGISTRY.values():
        if other.codec_id == codec.codec_id:
            raise ValueError(f"codec id {codec.codec_id} used twice")
    _REGISTRY[codec.name] = codec
    return cls


def get_codec(name: str) -> "Codec":
    """The backend called ``name``; raises HybridCodecError if unknown or unavailable."""
    codec = _REGISTRY.get(name)
    if codec is None:
        raise HybridCodecError(f"unknown codec {name!r}; known: {', '.join(names())}")
    if not codec.available():
        raise HybridCodecError(f"codec {name!r} is not available in this imagecodecs build")
    return codec


def codec_by_id(codec_id: int) -> "Codec":
    for codec in _REGISTRY.values():
        if codec.codec_id == codec_id:
            return codec
    raise HybridCodecError(f"unknown codec id {codec_id} in file")


def names(lossy_only: bool = False) -> list[str]:
    return [n for n, c in _REGISTRY.items() if not (lossy_only and not c.lossy)]


def clamp_quality(quality: int) -> int:
    return int(min(99, max(1, round(quality))))


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")


def _imagecodecs():
    import imagecodecs  # imported on first use: `hybridcodec info` never needs it

    return imagecodecs


class Codec:
    """Interface of a backend. Subclasses set the class attributes below."""

    name: str = ""
    codec_id: int = -1
    lossy: bool = True
    extension: str = ""
    max_side: int = 65535  # largest width or height the format can code

    def available(self) -> bool:
        raise NotImplementedError

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> np.ndarray:
        raise NotImplementedError

    def check_size(self, width: int, height: int) -> None:
        if max(width, height) > self.max_side:
            raise HybridCodecError(
                f"{self.name} cannot code {width}x{height}: at most {self.max_side} pixels a side"
            )

    def _decoded_rgb(self, image: np.ndarray) -> np.ndarray:
        # Decoders may return gray or RGBA; the interface promises RGB.
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        return np.ascontiguousarray(image[:, :, :3])


@register
class PNG(Codec):
    """Lossless reference backend: scale 1 and no networks."""

    name, codec_id, lossy, extension = "png", 0, False, ".png"
    max_side = 2**31 - 1

    def available(self) -> bool:
        return bool(_imagecodecs().PNG.available)

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        _check_rgb(rgb)
        return bytes(_imagecodecs().png_encode(rgb, level=9))

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().png_decode(data))

    def encode_plane(self, plane: np.ndarray) -> bytes:
        """Losslessly code one (H, W) uint8 plane: the alpha channel."""
        return bytes(_imagecodecs().png_encode(np.ascontiguousarray(plane), level=9))

    def decode_plane(self, data: bytes) -> np.ndarray:
        try:
            plane = _imagecodecs().png_decode(data)
        except Exception as error:
            raise HybridCodecError(f"alpha payload does not decode: {error}") from None
        return plane if plane.ndim == 2 else plane[:, :, 0]


@register
class JPEG(Codec):
    """libjpeg-turbo baseline JPEG, 4:2:0 chroma, optimized Huffman tables.

    imagecodecs' ``jpeg8_encode`` defaults to quality 95, so the level is
    always passed; ``optimize`` saves a few percent at no loss.
    """

    name, codec_id, extension = "jpeg", 1, ".jpg"

    def available(self) -> bool:
        return bool(_imagecodecs().JPEG8.available)

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        _check_rgb(rgb)
        return bytes(
            _imagecodecs().jpeg8_encode(
                rgb, level=clamp_quality(quality), subsampling="420", optimize=True
            )
        )

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().jpeg8_decode(data))


@register
class WebP(Codec):
    """libwebp lossy. ``lossless=False`` must be given: imagecodecs codes
    WebP losslessly otherwise, even when a level is passed. Method 4 is
    cwebp's default."""

    name, codec_id, extension = "webp", 2, ".webp"
    max_side = 16383

    def available(self) -> bool:
        return bool(_imagecodecs().WEBP.available)

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        _check_rgb(rgb)
        return bytes(
            _imagecodecs().webp_encode(rgb, level=clamp_quality(quality), lossless=False, method=4)
        )

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().webp_decode(data, hasalpha=False))


@register
class AVIF(Codec):
    """libavif (AV1 intra), 8-bit 4:2:0.

    The speed is explicit: imagecodecs' default took about 20 s for one
    megapixel here, speed 6 about 0.4 s. Gray input is coded losslessly by
    imagecodecs, so callers always hand RGB (the interface demands it).
    """

    name, codec_id, extension = "avif", 3, ".avif"
    speed = 6

    def available(self) -> bool:
        return bool(_imagecodecs().AVIF.available)

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        _check_rgb(rgb)
        return bytes(
            _imagecodecs().avif_encode(
                rgb, level=clamp_quality(quality), speed=self.speed, pixelformat="420"
            )
        )

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().avif_decode(data))


@register
class JPEGXL(Codec):
    """libjxl (VarDCT) at effort 7, as cjxl uses; imagecodecs defaults to 5.
    Without a level imagecodecs codes losslessly, so the level is always passed."""

    name, codec_id, extension = "jpegxl", 4, ".jxl"
    max_side = 2**30
    effort = 7

    def available(self) -> bool:
        return bool(_imagecodecs().JPEGXL.available)

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        _check_rgb(rgb)
        return bytes(
            _imagecodecs().jpegxl_encode(rgb, level=clamp_quality(quality), effort=self.effort)
        )

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().jpegxl_decode(data))
