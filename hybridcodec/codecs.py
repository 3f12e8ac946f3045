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
imported before use (tests/test_core.py adds one that way). Each codec's
encoders are objects too (``Encoder``: the number files record, the quality
map, the coding), listed in its class; adding one to a codec is one class
decorated with ``@register_encoder(codec)`` (tests/test_core.py again).
"""

from __future__ import annotations

import functools
import numbers
import struct

import numpy as np

from . import native
from .errors import HybridCodecError

_REGISTRY: dict[str, Codec] = {}


def register(cls):
    """Class decorator: add one instance of ``cls`` to the registry."""
    codec = cls()
    if codec.native_files and codec.size_reader is None:  # a plain file's size is read before it decodes
        raise ValueError(f"codec {codec.name!r} has standard files but no size_reader")
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


@functools.cache
def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@functools.cache
def _pillow_has_avif() -> bool:
    try:
        from PIL import features

        return bool(features.check("avif"))
    except ImportError:
        return False


class Encoder:
    """One encoder of a codec's files: its name, the number a file records
    for it, its quality map and the coding. The codec decodes; the encoder
    only writes.

    ``file_id``: the number format version 3 files record (never reused; 0
    is the encoder of version-1 and -2 files); None for an encoder whose
    files training learns from but hybridcodec never writes (JPEG files as
    other software writes them: a user's ``--encoder`` and ``pack`` refuse it).
    ``quality_knots``: piecewise-linear (user quality, encoder quality)
    knots, so that ``--quality q`` costs about the bytes of the codec's
    common default encoder at q (scripts/encoder_settings.py); empty: the
    same numbers.
    """

    name: str = ""
    file_id: int | None = 0
    quality_knots: tuple[tuple[int, int], ...] = ()

    def installed(self) -> bool:
        """Whether its library is importable here."""
        return True

    def version(self) -> str | None:
        """The library and settings, for benchmark records; None: the codec's own library."""
        return None

    def encode(self, rgb: np.ndarray, quality: int, effort: int | None) -> bytes:
        """The file of ``rgb`` (checked RGB uint8) at the encoder's own
        ``quality`` (1-99) and the codec's ``effort`` setting (None: it has none)."""
        raise NotImplementedError


def encoder_table(*encoders: Encoder) -> dict[str, Encoder]:
    """A codec's ``encoders``: by name, in the order given (the first file encoder is the default)."""
    ids = [e.file_id for e in encoders if e.file_id is not None]
    if len(ids) != len(set(ids)):
        raise ValueError(f"encoder ids used twice: {ids}")
    return {e.name: e for e in encoders}


def register_encoder(codec: str):
    """Class decorator: add one instance of an ``Encoder`` class to the
    registered codec ``codec``'s encoders (a codec's own are listed in its class)."""

    def add(cls):
        encoder, backend = cls(), by_name(codec)
        if encoder.file_id is not None and backend.encoder_by_id(encoder.file_id) is not None:
            raise ValueError(f"{codec} encoder id {encoder.file_id} used twice")
        type(backend).encoders = {**type(backend).encoders, encoder.name: encoder}
        return cls

    return add


def unregister_encoder(codec: str, name: str) -> None:
    """Remove an encoder added by ``register_encoder`` (for tests that add one)."""
    backend = type(by_name(codec))
    backend.encoders = {n: e for n, e in backend.encoders.items() if n != name}


# What the encoder's choices aim at (``--tune``, as avifenc's ``-a tune=`` and
# mozjpeg's ``-tune-*``): ``perceptual``, what people see, judged by
# SSIMULACRA2 and Butteraugli; ``psnr``, the mean squared error. Each tune has
# its encoder (``Codec.tune_encoders``), its networks (the zoo's tables by
# encoder) and its decision metric (decide.py). The first is the default
# (docs/DECISIONS.md says why).
TUNES = ("perceptual", "psnr")


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
    class _OwnEncode(Encoder):
        """The one encoder of a codec that overrides ``encode`` itself (the tests' dummy codec)."""

        name = "imagecodecs"

    # Its encoders (``--encoder``), by name (``encoder_table``); the first
    # installed one is the default.
    encoders: dict[str, Encoder] = encoder_table(_OwnEncode())
    # ``--effort``: encode time against bytes, as cwebp -m and avifenc -s: the
    # number a file records (docs/FORMAT.md), and each codec's own setting
    # for it in ``effort_settings`` (WebP's method, AVIF's speed, JPEG XL's
    # effort; a codec without one has one speed).
    EFFORTS = {"fast": 0, "default": 1, "best": 2}
    effort_settings: dict[str, int] = {}
    # What most users' software writes: the reference --quality is mapped to
    # and bench's "common" curve, (encoder, effort); and the format one up.
    common_default: tuple[str | None, str] = (None, "default")
    next_format: str = ""
    # The encoder a tune (``TUNES``) codes with where the user names none; a
    # tune not listed codes with the default encoder.
    tune_encoders: dict[str, str] = {}
    # Reads the (width, height) a payload's own header declares, decoding
    # nothing (native.py); None: a codec without one (a user's), whose
    # decoder's output alone is checked.
    size_reader = None

    def __init__(self):
        self._encoder = None  # None: the first installed one, looked up when first needed
        self.effort = "default"

    @property
    def encoder(self) -> str:
        return self._encoder or self.installed_encoders()[0]

    def configured(self, encoder: str | None = None, effort: str | None = None) -> Codec:
        """A copy of this backend with another encoder or effort; HybridCodecError
        if it has none such. Training also takes the encoders files never name."""
        import copy

        if encoder is not None and encoder not in self.encoders:
            raise HybridCodecError(f"{self.name} has no encoder {encoder!r}; "
                                   f"choose from {', '.join(self.file_encoders())}")
        if effort is not None and effort not in self.EFFORTS:
            raise HybridCodecError(f"effort must be one of {', '.join(self.EFFORTS)}, not {effort!r}")
        if encoder is not None and not self.encoders[encoder].installed():
            raise HybridCodecError(f"{self.name} encoder {encoder!r} is not installed here")
        codec = copy.copy(self)
        codec._encoder = encoder or self._encoder
        codec.effort = effort or self.effort
        return codec

    def tuned(self, tune: str, encoder: str | None = None, effort: str | None = None) -> Codec:
        """``configured`` with the encoder the user named, else the ``tune``'s
        (where installed), else the default one."""
        if tune not in TUNES:
            raise HybridCodecError(f"tune must be one of {', '.join(TUNES)}, not {tune!r}")
        if encoder is None and self.tune_encoders.get(tune) in self.installed_encoders():
            encoder = self.tune_encoders[tune]
        if encoder in self.encoders and self.encoders[encoder].file_id is None:
            raise HybridCodecError(f"{self.name} encoder {encoder!r} writes training files only; "
                                   f"choose from {', '.join(self.file_encoders())}")
        return self.configured(encoder, effort)

    def file_encoders(self) -> list[str]:
        """The encoders files may name (a user's ``--encoder``), installed or not."""
        return [n for n, e in self.encoders.items() if e.file_id is not None]

    def installed_encoders(self) -> list[str]:
        """The file encoders whose libraries are installed."""
        return [n for n in self.file_encoders() if self.encoders[n].installed()]

    def encoder_by_id(self, encoder_id: int) -> str | None:
        """The name of the encoder a file records by ``encoder_id``; None if unknown."""
        return next((n for n, e in self.encoders.items() if e.file_id == encoder_id), None)

    @property
    def first_encoder(self) -> str:
        """The encoder of version-1 and -2 files (id 0)."""
        return self.encoder_by_id(0)

    def encoder_quality(self, quality: int) -> int:
        """This encoder's own quality for a user's ``quality`` (see ``quality_knots``)."""
        knots = self.encoders[self.encoder].quality_knots
        if not knots:
            return quality
        xs, ys = zip(*knots, strict=True)
        return clamp_quality(np.interp(quality, xs, ys))

    def library_version(self) -> str:
        """The coding library and its version, for benchmark records."""
        own = self.encoders[self.encoder].version()
        if own:
            return own
        versions = _imagecodecs().version(dict)
        return f"{self.library} {versions.get(self.library, 'unknown')}"

    def available(self) -> bool:
        raise NotImplementedError

    def encode(self, rgb: np.ndarray, quality: int) -> bytes:
        """The codec's file of ``rgb`` at ``quality`` (the encoder's own scale), by the configured encoder."""
        _check_rgb(rgb)
        return self.encoders[self.encoder].encode(rgb, clamp_quality(quality), self.effort_settings.get(self.effort))

    def decode(self, data: bytes) -> np.ndarray:
        raise NotImplementedError

    def declared_size(self, data: bytes) -> tuple[int, int] | None:
        """The (width, height) the payload's own header declares, read before
        any decoder allocates for it (``coding.CodingPath.decode`` checks it);
        HybridCodecError where it has none, or declares what hybridcodec does
        not decode (an animation, a CMYK JPEG); None without a ``size_reader``
        (only a codec without standard files, which ``register`` checks)."""
        if self.size_reader is None:
            return None
        try:
            width, height = type(self).size_reader(bytes(data))
        except (ValueError, struct.error, IndexError) as error:
            raise HybridCodecError(f"{self.name} payload does not decode: {error}") from None
        return int(width), int(height)

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
        # Decoders may return gray, gray+alpha or RGBA; the interface promises
        # RGB. The dtype is left as decoded: CodingPath.decode refuses all but uint8.
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim == 3 and image.shape[2] in (1, 2):
            image = np.repeat(image[:, :, :1], 3, axis=2)
        return np.ascontiguousarray(image[..., :3])


@register
class PNG(Codec):
    """Lossless reference backend: scale 1 and no networks."""

    name, codec_id, lossy, extension, extensions = "png", 0, False, ".png", (".png",)
    max_side = 2**31 - 1
    quality_grid = demo_qualities = ()
    library = "libpng"
    size_reader = native.png_size

    class _Encoder(Encoder):
        name = "imagecodecs"

        def encode(self, rgb, quality, effort):
            return bytes(_imagecodecs().png_encode(rgb, level=9))

    encoders = encoder_table(_Encoder())

    def available(self) -> bool:
        return bool(_imagecodecs().PNG.available)

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().png_decode(data))

    def encode_plane(self, plane: np.ndarray) -> bytes:
        """Losslessly code one (H, W) uint8 plane: the alpha channel."""
        # a copy, not ascontiguousarray: a 1x1 view keeps its parent's strides, which png_encode refuses
        return bytes(_imagecodecs().png_encode(np.array(plane, np.uint8), level=9))

    def decode_plane(self, data: bytes, width: int, height: int) -> np.ndarray:
        """The (height, width) uint8 alpha plane of ``encode_plane``; its PNG's
        own size is checked before decoding, as every payload's is."""
        try:
            declared = native.png_size(data)
        except (ValueError, struct.error) as error:
            raise HybridCodecError(f"alpha payload does not decode: {error}") from None
        if declared != (width, height):
            raise HybridCodecError("alpha payload does not match the image size")
        try:
            plane = _imagecodecs().png_decode(data)
        except Exception as error:
            reason = (str(error) or type(error).__name__).splitlines()[0]
            raise HybridCodecError(f"alpha payload does not decode: {reason}") from None
        plane = plane if plane.ndim == 2 else plane[:, :, 0]
        if plane.dtype != np.uint8 or plane.shape != (height, width):
            raise HybridCodecError(f"alpha payload decodes to {plane.dtype} {plane.shape}, not an 8-bit plane")
        return plane


# The default mozjpeg encoder's chroma quantizer steps, as a fraction of the
# luma steps. PSNR-RGB counts chroma errors about three times over (R and B
# carry Cr and Cb scaled by 1.4 and 1.8), and 4:2:0 codes a quarter as many
# chroma coefficients, so finer chroma steps buy more PSNR per byte than
# luma ones: on choose/, 0.6 saves 5.4% of the plain bytes against equal
# steps and 3.7% after restoration (results/chroma-steps-choose.json); 0.3,
# 4:4:4 and separate Cb and Cr tables do not pay (docs/ENCODERS.md).
CHROMA_STEP = 0.6


class LibjpegTurbo(Encoder):
    """libjpeg-turbo through imagecodecs, 4:2:0, Huffman tables optimized
    (the encoder of version-1 and -2 files). ``jpeg8_encode`` defaults to
    quality 95, so the level is always passed."""

    name, file_id = "turbo", 0

    def encode(self, rgb, quality, effort):
        return bytes(_imagecodecs().jpeg8_encode(rgb, level=quality, subsampling="420", optimize=True))


class MozJPEG(Encoder):
    """mozjpeg 4.0.3 as the ``jpeglib`` package ships it (Linux and macOS
    wheels only): its defaults (4:2:0, trellis quantization, progressive
    scans, optimized Huffman) with its quantization table ``table``, or,
    given ``chroma``, flat tables whose chroma steps are ``chroma`` times
    the luma steps. jpeglib writes through a file and switches its library
    for the whole process, so the switch is scoped to each call."""

    def __init__(self, name: str, file_id: int, quality_knots, table: int = 1, chroma: float | None = None,
                 described: str = ""):
        self.name, self.file_id, self.quality_knots = name, file_id, quality_knots
        self.table, self.chroma, self.described = table, chroma, described

    def installed(self) -> bool:
        return _has_module("jpeglib")

    def version(self) -> str:
        return f"mozjpeg 4.0.3 (jpeglib){self.described}"

    def encode(self, rgb, quality, effort):
        return _mozjpeg_encode(rgb, quality, self.table, self.chroma)


class Jpegli(Encoder):
    """libjxl's jpegli as the ``pyjpegli`` package writes it: quality its
    one setting (baseline, 4:2:0)."""

    name, file_id = "jpegli", 4
    # it writes fewer bytes than libjpeg-turbo at a quality (results/encoders-choose.json)
    quality_knots = ((1, 1), (15, 9), (20, 16), (30, 28), (40, 46), (50, 58), (60, 67), (70, 76),
                     (80, 84), (90, 92), (99, 99))

    def installed(self) -> bool:
        return _has_module("pyjpegli")

    def version(self) -> str:
        from importlib.metadata import version

        return f"jpegli (pyjpegli {version('pyjpegli')}), baseline 4:2:0"

    def encode(self, rgb, quality, effort):
        import pyjpegli

        height, width = rgb.shape[:2]
        return pyjpegli.encode(np.ascontiguousarray(rgb), width, height, quality=quality)


class _PillowJPEG(Encoder):
    """JPEG files as other software writes them, for the ``jpeg-tables``
    restoration networks to learn from (users bring such files); hybridcodec
    never writes its own files with them (no ``file_id``)."""

    file_id = None

    def encode(self, rgb, quality, effort):
        return _pillow_file(rgb, "JPEG", **self.options(quality))


class Turbo444(_PillowJPEG):
    """libjpeg (Pillow's) with the IJG tables and no chroma subsampling."""

    name = "turbo-444"

    def options(self, quality):
        return {"quality": quality, "subsampling": 0}


class CameraJPEG(_PillowJPEG):
    """4:2:2 and the IJG tables bent per frequency (by 0.7-1.4, seeded by the
    quality), as cameras' own tables are."""

    name = "camera"

    def options(self, quality):
        rng = np.random.default_rng(quality)
        tables = []
        for base in (_IJG_LUMA, _IJG_CHROMA):
            bent = np.asarray(base) * ijg_scale(quality) / 100 * rng.uniform(0.7, 1.4, 64)
            tables.append([int(v) for v in np.clip(np.rint(bent), 1, 255)])
        return {"qtables": tables, "subsampling": 1}


@register
class JPEG(Codec):
    """Baseline or progressive JPEG, 4:2:0 chroma, five encoders files name:

    * ``mozjpeg`` (the default, and the psnr tune's): ``MozJPEG`` with flat
      quantization tables (``cjpeg -quant-table 1``) whose chroma steps are
      ``CHROMA_STEP`` times the luma steps. About 29% fewer bytes than
      libjpeg-turbo at the same PSNR (docs/ENCODERS.md), a standard JPEG
      every decoder reads.
    * ``mozjpeg-flat``: the same with equal luma and chroma steps, the
      encoder of 0.6's files (id 1).
    * ``turbo``: ``LibjpegTurbo``, the encoder of version-1 and -2 files.
    * ``mozjpeg-default``: mozjpeg 4.0.3 at its own defaults, what ``cjpeg``
      and squoosh write (its default table 3). The perceptual tune's
      encoder (``TUNES``): on val-small it needs fewer bytes than
      ``mozjpeg`` for the same SSIMULACRA2 and Butteraugli, while
      ``mozjpeg`` needs fewer for the same PSNR (results/val-small-v080).
    * ``jpegli``: ``Jpegli``.

    And two that training learns from, ``turbo-444`` and ``camera``
    (``_PillowJPEG``).

    Decoding is libjpeg-turbo for all. The restoration networks of the
    ``jpeg-tables`` contract read the file's own tables (``table_features``),
    so they serve every encoder and foreign files alike.
    """

    name, codec_id, extension, extensions, native_files = "jpeg", 1, ".jpg", (".jpg", ".jpeg"), True
    quality_grid = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    library = "libjpeg_turbo"
    # Quality knots from results/encoders-choose.json: mozjpeg's flat table
    # writes more bytes than libjpeg-turbo at low qualities and fewer at high
    # ones; its table 3 fewer at every quality (beyond the measured knots:
    # the ends, 1 and 99).
    encoders = encoder_table(
        MozJPEG("mozjpeg", 2, ((1, 4), (2, 5), (5, 8), (10, 12), (15, 16), (20, 20), (30, 27), (40, 32), (50, 38),
                               (60, 44), (70, 55), (80, 67), (90, 80), (95, 88), (99, 97)), chroma=CHROMA_STEP),
        MozJPEG("mozjpeg-flat", 1, ((1, 4), (2, 5), (5, 8), (10, 13), (15, 18), (20, 22), (30, 29), (40, 36),
                                    (50, 42), (60, 49), (70, 60), (80, 71), (90, 81), (95, 89), (99, 97))),
        LibjpegTurbo(),
        MozJPEG("mozjpeg-default", 3, ((1, 4), (2, 6), (5, 9), (10, 17), (15, 24), (20, 31), (30, 46), (40, 57),
                                       (50, 66), (60, 72), (70, 78), (80, 85), (90, 93), (99, 99)),
                table=3, described=", its default table 3, 4:2:0, trellis, progressive"),
        Jpegli(),
        Turbo444(),
        CameraJPEG(),
    )
    tune_encoders = {"perceptual": "mozjpeg-default"}
    common_default = ("turbo", "default")
    size_reader = native.jpeg_size
    next_format = "webp"

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

    def table_features(self, data: bytes) -> list[float] | None:
        """The ``jpeg-tables`` restoration contract: 8 numbers a decoder reads
        from any JPEG, whatever encoder wrote it. For the luma table, then the
        chroma table: log2 of the geometric mean quantizer step over DC, over
        the 9 lowest AC frequencies (u + v <= 3) and over the rest, each
        divided by 8 (steps 1-255 map to 0-1); then the chroma subsampling,
        horizontal and vertical, minus 1 (4:2:0 is 1, 1; 4:4:4 is 0, 0).
        None if the file has no usable tables."""
        tables = native.jpeg_tables(data)
        if tables is None:
            return None
        features = []
        for table in (tables["luma"], tables["chroma"]):
            steps = np.log2(np.maximum(np.asarray(table, np.float64), 1)).reshape(8, 8)
            for group in FREQUENCY_GROUPS:
                features.append(float(steps[group].mean() / 8))
        features += [min(1.0, h - 1.0) for h in tables["subsampling"]]
        return features

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().jpeg8_decode(data))


def _pillow_file(rgb: np.ndarray, image_format: str, **options) -> bytes:
    """The bytes Pillow's ``image_format`` plugin writes for ``rgb`` with ``options``."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, image_format, **options)
    return buffer.getvalue()


def _mozjpeg_encode(rgb: np.ndarray, quality: int, table: int = 1, chroma: float | None = None) -> bytes:
    """mozjpeg 4.0.3's JPEG of ``rgb``: its defaults (4:2:0, trellis,
    progressive, optimized Huffman) with quantization table ``table``; with
    ``chroma``, explicit flat tables instead, the chroma steps ``chroma``
    times the luma steps (both scaled by ``quality`` as libjpeg scales)."""
    import tempfile
    from pathlib import Path

    import jpeglib

    options = dict(qt=quality, base_quant_tbl_idx=table)
    if chroma is not None:
        options = dict(qt=flat_tables(quality, chroma))
    with tempfile.TemporaryDirectory(prefix="hybridcodec-") as folder, jpeglib.version("mozjpeg403"):
        path = Path(folder) / "out.jpg"
        jpeglib.from_spatial(np.ascontiguousarray(rgb)).write_spatial(str(path), **options)
        return path.read_bytes()


def flat_tables(quality: int, chroma: float = 1.0) -> np.ndarray:
    """(2, 8, 8) uint16 luma and chroma tables: mozjpeg's flat table 1 (16
    everywhere) scaled to ``quality`` as libjpeg does (jcparam.c), the
    chroma one ``chroma`` times finer or coarser; baseline steps 1-255."""
    scale = int(ijg_scale(quality))  # libjpeg's integer percentage
    steps = [min(255, max(1, int(16 * factor * scale + 50) // 100)) for factor in (1.0, chroma)]
    return np.stack([np.full((8, 8), step) for step in steps]).astype(np.uint16)


def _frequency_groups():
    u, v = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    order = u + v
    return order == 0, (order >= 1) & (order <= 3), order > 3


# DC, the 9 lowest AC frequencies (u + v <= 3) and the rest: the groups of
# JPEG.table_features and of the rate proxy (rateproxy.py, diffjpeg.py).
FREQUENCY_GROUPS = _frequency_groups()


@register
class WebP(Codec):
    """libwebp lossy. ``lossless=False`` must be given: imagecodecs codes
    WebP losslessly otherwise, even when a level is passed. Effort picks the
    method: 6 by default (2.8% fewer bytes than cwebp's default 4 at the same
    PSNR on choose/, 1.2 times its time; docs/ENCODERS.md), 4 when fast. No binding
    here offers sharp YUV, so best is method 6 too."""

    name, codec_id, extension, extensions, native_files = "webp", 2, ".webp", (".webp",), True
    max_side = 16383
    quality_grid = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    library = "libwebp"

    class _Encoder(Encoder):
        name = "libwebp"

        def encode(self, rgb, quality, effort):
            return bytes(_imagecodecs().webp_encode(rgb, level=quality, lossless=False, method=effort))

    encoders = encoder_table(_Encoder())
    common_default = ("libwebp", "fast")  # method 4, cwebp's default
    next_format = "avif"
    effort_settings = {"fast": 4, "default": 6, "best": 6}  # libwebp method
    size_reader = native.webp_size

    def sniff(self, data: bytes) -> bool:
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"

    def embed(self, payload, header, width, height):
        return native.webp_embed(payload, header, width, height)

    def find_header(self, data):
        return native.webp_find(data)

    def available(self) -> bool:
        return bool(_imagecodecs().WEBP.available)

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().webp_decode(data, hasalpha=False))


@register
class AVIF(Codec):
    """libavif (AV1 intra, aom), 8-bit 4:2:0, two encoders:

    * ``libavif`` (default): imagecodecs' libavif at aom's default tune (the
      encoder of every earlier file).
    * ``libavif-psnr``: Pillow's libavif with aom's ``tune=psnr``. Measured
      on ``choose/`` it is not better here: +2.6% BD-rate on PSNR and +34.6%
      on MS-SSIM at speed 6 against the default (-2.6% on PSNR on 768x512
      crops of three of those photos), so it is not the default
      (docs/ENCODERS.md).

    Effort is the speed: 8 fast, 6 by default (imagecodecs' own default took
    about 20 s a megapixel here, speed 6 about 0.4 s), 4 best. Gray input is
    coded losslessly by imagecodecs, so callers always hand RGB (the
    interface demands it).
    """

    name, codec_id, extension, extensions, native_files = "avif", 3, ".avif", (".avif",), True
    quality_grid = (15, 20, 30, 40, 50, 60, 70, 80, 90)
    demo_qualities = (30, 60)
    library = "libavif"

    class _Imagecodecs(Encoder):
        name = "libavif"

        def encode(self, rgb, quality, effort):
            return bytes(_imagecodecs().avif_encode(rgb, level=quality, speed=effort, pixelformat="420"))

    class _PillowPSNR(Encoder):
        name, file_id = "libavif-psnr", 1
        # results/encoders-choose.json: tune=psnr spends more bytes at low qualities
        quality_knots = ((1, 4), (2, 5), (5, 6), (10, 10), (15, 13), (20, 17), (30, 25), (40, 35), (50, 47),
                         (60, 57), (70, 68), (80, 80), (90, 89), (95, 94), (99, 99))

        def installed(self) -> bool:
            return _pillow_has_avif()

        def version(self) -> str:
            from PIL import features

            return f"libavif {features.version('avif')} (Pillow), tune=psnr"

        def encode(self, rgb, quality, effort):
            return _pillow_file(rgb, "AVIF", quality=quality, speed=effort, subsampling="4:2:0",
                                advanced={"tune": "psnr"})

    encoders = encoder_table(_Imagecodecs(), _PillowPSNR())
    common_default = ("libavif", "default")
    effort_settings = {"fast": 8, "default": 6, "best": 4}  # aom speed
    size_reader = native.avif_size

    def sniff(self, data: bytes) -> bool:
        return data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis")

    def embed(self, payload, header, width, height):
        return native.avif_embed(payload, header, width, height)

    def find_header(self, data):
        return native.avif_find(data)

    def available(self) -> bool:
        # imagecodecs codes it, but a payload's size is read by Pillow's AVIF
        # plugin (native.avif_size): without it every AVIF payload is refused
        return bool(_imagecodecs().AVIF.available) and _pillow_has_avif()

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().avif_decode(data))


@register
class JPEGXL(Codec):
    """libjxl (VarDCT) at effort 7 by default, as cjxl uses (imagecodecs
    defaults to 5); 3 fast (+11.4% bytes on choose/), 9 best (+0.5% there, for
    2.6 times the time: nothing gained on these photos; docs/ENCODERS.md).
    Without a level imagecodecs codes losslessly, so the level is always passed."""

    name, codec_id, extension, extensions, native_files = "jpegxl", 4, ".jxl", (".jxl",), True
    max_side = 2**30
    quality_grid = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    library = "libjxl"

    class _Encoder(Encoder):
        name = "libjxl"

        def encode(self, rgb, quality, effort):
            return bytes(_imagecodecs().jpegxl_encode(rgb, level=quality, effort=effort))

    encoders = encoder_table(_Encoder())
    common_default = ("libjxl", "default")
    effort_settings = {"fast": 3, "default": 7, "best": 9}  # libjxl effort
    size_reader = native.jxl_size

    def sniff(self, data: bytes) -> bool:
        return data[:2] == b"\xff\x0a" or data[:12] == native.JXL_SIGNATURE

    def embed(self, payload, header, width, height):
        return native.jxl_embed(payload, header, width, height)

    def find_header(self, data):
        return native.jxl_find(data)

    def available(self) -> bool:
        return bool(_imagecodecs().JPEGXL.available)

    def decode(self, data: bytes) -> np.ndarray:
        return self._decoded_rgb(_imagecodecs().jpegxl_decode(data))


_IJG_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]  # natural order
_IJG_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
               47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


def ijg_scale(quality) -> float:
    """The percentage libjpeg scales its standard tables by at ``quality`` (jcparam.c)."""
    return 5000 / quality if quality < 50 else 200 - 2 * quality


def _ijg_distance(table, quality) -> int:
    """How far a luminance table is from the IJG table scaled to ``quality``."""
    scale = ijg_scale(quality)
    expected = [min(255, max(1, (t * scale + 50) // 100)) for t in _IJG_LUMA]
    return sum(abs(a - b) for a, b in zip(expected, table, strict=False))
