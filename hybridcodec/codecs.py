"""Codec backends: one class per codec, all behind one interface, one registry.

A codec class is everything hybridcodec knows about a format: its name and
the byte ``.hc`` files store for it (``codec_id``, never reused), the
extension and the wrapping of its native files (``sniff``, ``embed``,
``find_header``, byte helpers in native.py), the qualities it is trained and
benchmarked at (``quality_grid``, ``demo_qualities``), how to estimate the
quality of a foreign file (``estimate_quality``) and the coding itself.
The container, the command line, batch work, training, bench and the zoo
tools all read it from here.

Every backend takes and returns RGB ``uint8`` arrays of shape (H, W, 3) and
uses the codec's own quality scale, clamped to 1-99 (100 means lossless in
AVIF and JPEG XL, which hybridcodec never wants from a lossy backend).

Adding a codec is one class, decorated with ``@register``, in any module
imported before use (tests/test_codecs.py adds one that way).
"""

from __future__ import annotations

import numbers
import struct

import numpy as np

from . import native
from .errors import HybridCodecError

_REGISTRY: dict[str, Codec] = {}


def register(cls):
    """Class decorator: add one instance of ``cls`` to the registry."""
    codec = cls()
    for other in _REGISTRY.values():
        if other.codec_id == codec.codec_id and other.name != codec.name:
            raise ValueError(f"codec id {codec.codec_id} used twice")
    _REGISTRY[codec.name] = codec
    return cls


def unregister(name: str) -> None:
    """Remove a codec from the registry (for tests that add one)."""
    _REGISTRY.pop(name, None)


def by_name(name: str) -> Codec:
    """The registered codec called ``name``, available or not; HybridCodecError if unknown."""
    codec = _REGISTRY.get(name)
    if codec is None:
        raise HybridCodecError(f"unknown codec {name!r}; known: {', '.join(names())}")
    return codec


def get_codec(name: str) -> Codec:
    """The backend called ``name``; raises HybridCodecError if unknown or unavailable."""
    codec = by_name(name)
    if not codec.available():
        raise HybridCodecError(f"codec {name!r} is not available in this imagecodecs build")
    return codec


def codec_by_id(codec_id: int) -> Codec:
    for codec in _REGISTRY.values():
        if codec.codec_id == codec_id:
            return codec
    raise HybridCodecError(f"unknown codec id {codec_id} in file")


def names(lossy_only: bool = False) -> list[str]:
    return [n for n, c in _REGISTRY.items() if not (lossy_only and not c.lossy)]


def native_codecs() -> list[Codec]:
    """The codecs whose standard files can carry a hybridcodec header."""
    return [c for c in _REGISTRY.values() if c.native_files]


def native_codec(name: str) -> Codec:
    """The codec called ``name`` if its standard files can carry a header; else HybridCodecError."""
    codec = by_name(name)
    if not codec.native_files:
        kinds = ", ".join(c.name for c in native_codecs())
        raise HybridCodecError(f"--native needs a codec with standard files: {kinds}")
    return codec


def by_extension(suffix: str) -> Codec | None:
    """The native-capable codec whose files end in ``suffix`` (".jpg", ".JPEG", ...)."""
    suffix = suffix.lower()
    return next((c for c in native_codecs() if suffix in c.extensions), None)


def sniff_native(data: bytes) -> Codec | None:
    """The codec of a standard file, from its first bytes; None if none of ours."""
    return next((c for c in native_codecs() if c.sniff(data)), None)


def extract_native(data: bytes) -> tuple[Codec, bytes | None]:
    """(codec, the hybridcodec header inside or None) of a standard file."""
    codec = sniff_native(data)
    if codec is None:
        raise HybridCodecError("not a .hc, JPEG, WebP, AVIF or JPEG XL file")
    try:
        header = codec.find_header(data)
    except (struct.error, IndexError, ValueError):
        header = None  # damaged or foreign metadata: decode it as a plain file
    return codec, header


def check_quality(quality) -> int:
    """A user's quality: a whole number 1-99 (100 is lossless in AVIF and JPEG
    XL, which a lossy backend never wants); HybridCodecError otherwise, never bent."""
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not 1 <= quality <= 99:
        raise HybridCodecError(f"quality must be a whole number from 1 to 99, not {quality!r}")
    return int(quality)


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
    extension: str = ""  # of its standard files; the first of ``extensions``
    extensions: tuple[str, ...] = ()  # every suffix its standard files take
    native_files: bool = False  # its standard files can carry the hybridcodec header
    max_side: int = 65535  # largest width or height the format can code
    # Qualities it is trained and benchmarked at: together they span about
    # 0.1 to 2 bpp on the validation photos (measured with `hybridcodec bench`).
    quality_grid: tuple[int, ...] = (10, 30, 50, 70, 90)
    demo_qualities: tuple[int, ...] = (20, 50)  # `hybridcodec demo`
    library: str = ""  # the library doing the coding, as imagecodecs.version() names it

    def library_version(self) -> str:
        """The coding library and its version, for benchmark records."""
        versions = _imagecodecs().version(dict)
        return f"{self.library} {versions.get(self.library, 'unknown')}"

    def available(self) -> bool:
        raise NotImplementedError

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> np.ndarray:
        raise NotImplementedError

    # -- native files (see native.py) ------------------------------------------

    def sniff(self, data: bytes) -> bool:
        """True if ``data`` starts like a standard file of this format."""
        return False

    def embed(self, payload: bytes, header: bytes, width: int, height: int) -> bytes:
        """``payload`` (this codec's file of a ``width`` x ``height`` picture) with ``header`` inside."""
        raise HybridCodecError(f"{self.name} files cannot carry a hybridcodec header")

    def find_header(self, data: bytes) -> bytes | None:
        """The hybridcodec header inside a standard file, or None."""
        return None

    def estimate_quality(self, data: bytes) -> int | None:
        """The quality a foreign file was coded at, if the format tells; else None."""
        return None

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

    name, codec_id, lossy, extension, extensions = "png", 0, False, ".png", (".png",)
    max_side = 2**31 - 1
    quality_grid = demo_qualities = ()
    library = "libpng"

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

    name, codec_id, extension, extensions, native_files = "jpeg", 1, ".jpg", (".jpg", ".jpeg"), True
    quality_grid = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    library = "libjpeg_turbo"

    def available(self) -> bool:
        return bool(_imagecodecs().JPEG8.available)

    def sniff(self, data: bytes) -> bool:
        return data[:3] == b"\xff\xd8\xff"

    def embed(self, payload, header, width, height):
        return native.jpeg_embed(payload, header, width, height)

    def find_header(self, data):
        return native.jpeg_find(data)

    def estimate_quality(self, data: bytes) -> int | None:
        """The IJG quality (1-100) whose scaled standard luminance table is
        closest to the file's; None if it has no table."""
        table = native.jpeg_luma_table(data)
        if table is None:
            return None
        return min(range(1, 101), key=lambda q: _ijg_distance(table, q))

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

    name, codec_id, extension, extensions, native_files = "webp", 2, ".webp", (".webp",), True
    max_side = 16383
    quality_grid = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    library = "libwebp"

    def sniff(self, data: bytes) -> bool:
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"

    def embed(self, payload, header, width, height):
        return native.webp_embed(payload, header, width, height)

    def find_header(self, data):
        return native.webp_find(data)

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

    name, codec_id, extension, extensions, native_files = "avif", 3, ".avif", (".avif",), True
    quality_grid = (15, 20, 30, 40, 50, 60, 70, 80, 90)
    demo_qualities = (30, 60)
    library = "libavif"
    speed = 6

    def sniff(self, data: bytes) -> bool:
        return data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis")

    def embed(self, payload, header, width, height):
        return native.avif_embed(payload, header, width, height)

    def find_header(self, data):
        return native.avif_find(data)

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

    name, codec_id, extension, extensions, native_files = "jpegxl", 4, ".jxl", (".jxl",), True
    max_side = 2**30
    quality_grid = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    library = "libjxl"
    effort = 7

    def sniff(self, data: bytes) -> bool:
        return data[:2] == b"\xff\x0a" or data[:12] == native.JXL_SIGNATURE

    def embed(self, payload, header, width, height):
        return native.jxl_embed(payload, header, width, height)

    def find_header(self, data):
        return native.jxl_find(data)

    def available(self) -> bool:
        return bool(_imagecodecs().JPEGXL.available)

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        _check_rgb(rgb)
        return bytes(
            _imagecodecs().jpegxl_encode(rgb, level=clamp_quality(quality), effort=self.effort)
        )

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().jpegxl_decode(data))


_IJG_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]  # natural order


def _ijg_distance(table, quality) -> int:
    """How far a luminance table is from the IJG table scaled to ``quality``."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    expected = [min(255, max(1, (t * scale + 50) // 100)) for t in _IJG_LUMA]
    return sum(abs(a - b) for a, b in zip(expected, table, strict=False))
