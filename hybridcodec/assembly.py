"""Files in and out: one encode on one given path, and reading and decoding files.

encode_path: image -> pre-process (ComCNN, or area downscale, or nothing)
                   -> uint8 -> codec -> .hc, on the operating point it is given
decode:      .hc -> codec -> post-process (restoration network, or bicubic
                   upscale, or nothing) -> crop to the original size

The steps themselves are a ``coding.CodingPath``; this module adds what a
file needs around them: channels, alpha, the header, native wrapping, and
the networks an operating point names (zoo.py). Which path an image gets is
decided in decide.py; pipeline.py is the entry (compress, decompress).
Here, not in pipeline.py, so that decide.py can use it with no import cycle.

Shipped networks run in ONNX Runtime (runtime.py); TensorFlow is imported
only for a user's own ``.keras`` network.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from . import codecs, strength, zoo
from . import scale as scales
from .coding import CodingPath
from .container import DEFAULT_MAX_PIXELS, HCFile, Header, ModelRef, check_dimensions, pack, sniff, unpack
from .errors import HybridCodecError
from .settings import EncodeSettings

# --------------------------------------------------------------------------
# Arrays in and out
# --------------------------------------------------------------------------


def split_image(image: np.ndarray):
    """(rgb uint8 (H, W, 3), alpha uint8 (H, W) or None, channels, bits) of an input array.

    Accepts (H, W), (H, W, 1..4), uint8 or uint16 (16-bit is coded at 8 bits:
    the backends are 8-bit).
    """
    image = np.asarray(image)
    bits = 8
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        bits = 16
    elif image.dtype != np.uint8:
        raise HybridCodecError(f"expected a uint8 or uint16 image, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4) or 0 in image.shape:
        raise HybridCodecError(f"expected an image of shape (H, W) or (H, W, 1-4), got {image.shape}")
    channels = image.shape[2]
    color = image[:, :, : 1 if channels <= 2 else 3]
    alpha = image[:, :, -1] if channels in (2, 4) else None
    rgb = np.ascontiguousarray(np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color)
    if rgb.size == 3:  # a 1x1 view keeps its parent's strides, which imagecodecs' encoders refuse
        rgb = rgb.copy()
    return rgb, alpha, channels, bits


def eight_bit(image: np.ndarray) -> np.ndarray:
    """The image as hybridcodec codes it (8 bits a sample, the same channels):
    what a restored image is compared with."""
    rgb, alpha, channels, _ = split_image(image)
    return join_image(rgb, alpha, channels)


def join_image(rgb: np.ndarray, alpha: np.ndarray | None, channels: int) -> np.ndarray:
    """Inverse of split_image: gray images come back as (H, W), colour as (H, W, 3 or 4)."""
    # gray: the rounded mean, in integers ((sum + 1) // 3 never meets a tie): a float32 copy cost 16 bytes a pixel
    color = ((rgb.sum(axis=2, dtype=np.uint16) + 1) // 3).astype(np.uint8)[:, :, None] if channels <= 2 else rgb
    if alpha is not None:
        color = np.concatenate([color, alpha[:, :, None]], axis=2)
    return color[:, :, 0] if color.shape[2] == 1 else np.ascontiguousarray(color)


# --------------------------------------------------------------------------
# One encode
# --------------------------------------------------------------------------


@dataclass
class Encoded:
    data: bytes
    hc: HCFile



def warn_native_scale(scale: scales.Scale) -> None:
    """A native file coded smaller than the image shows smaller in other viewers: say so."""
    if not scale.is_full:
        warnings.warn(f"a native file at scale {scale} shows at {scale.words} in other viewers", stacklevel=3)


def encode_path(image: np.ndarray, settings: EncodeSettings, point: zoo.OperatingPoint,
                compact: np.ndarray | None = None) -> Encoded:
    """One encode on one given path: the operating ``point`` (scale, codec
    quality, networks), which the caller chose (decide.asked_point reads the
    settings' scale words); ``settings.scale`` is not read here. A user's
    ``pre_model`` fixes the scale itself. ``settings.precision``: the
    restoration network's twin the file names (zoo.with_precision);
    ``compact``: the picture the codec codes, where the caller pre-processed
    it already."""
    settings = settings.checked()
    codec, quality, native, pre_model, post_model = (settings.codec, settings.quality, settings.native,
                                                      settings.pre_model, settings.post_model)
    backend = settings.backend()
    if native:
        codecs.native_codec(codec)
        warn_native_scale(point.scale)  # a viewer shows a native file as it is: full size
    rgb, alpha, channels, bits = split_image(image)
    height, width = rgb.shape[:2]
    check_dimensions(width, height, settings.max_pixels)

    refs: list[ModelRef] = []
    pre = None
    if backend.lossy and pre_model is not None:
        pre, ref = zoo.load_user_model(pre_model, "pre")
        scale = scales.parse(pre.get_config().get("scale", 1))  # the pre-processor fixes the scale
        refs.append(ref)
        point = zoo.operating_point(codec, quality, scale, backend.encoder)
    use_scale, quality = point.scale, point.codec_quality
    if backend.lossy:
        # A shipped model is stored by its hash alone (the zoo knows its name):
        # 20-25 bytes less a file. A user's model keeps its name, for messages.
        if pre is None and point.pre is not None:
            pre = zoo.load(point.pre)
            refs.append(ModelRef("pre", "", point.pre.sha256))
        if post_model is not None:
            refs.append(zoo.load_user_model(post_model, "post")[1])
        elif point.post is not None:
            post = zoo.with_decoder(point.post, settings.decoder)
            refs.append(ModelRef("post", "", zoo.with_precision(post, settings.precision).sha256))

    path = CodingPath(backend, quality, use_scale, pre=pre)
    payload = path.encode(rgb) if compact is None else path.encode_compact(compact)
    alpha_payload = codecs.get_codec("png").encode_plane(alpha) if alpha is not None else b""
    header = Header(codec, quality, width, height, channels, use_scale, bits, refs, backend.encoder, backend.effort)
    hc = HCFile(header, payload, alpha_payload, bytes(settings.icc or b""), bytes(settings.metadata or b""))
    # before naming: the file keeps a shipped model's hash alone
    return Encoded(file_bytes(hc, native), zoo.named(hc))


def file_bytes(hc: HCFile, native: bool) -> bytes:
    """The bytes of ``hc``: a ``.hc`` file, or the codec's own file with the header inside."""
    if not native:
        return pack(hc)
    h = hc.header
    coded_w, coded_h = h.scale.coded_size(h.width, h.height)
    return codecs.get_codec(h.codec).embed(hc.payload, pack(replace(hc, payload=b"")), coded_w, coded_h)


# --------------------------------------------------------------------------
# Reading and decoding
# --------------------------------------------------------------------------


@dataclass
class Decoded:
    image: np.ndarray
    hc: HCFile


def read_file(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, quality: int | None = None) -> HCFile:
    """Parse a ``.hc`` file, a native file with a hybridcodec header, or a plain
    JPEG/WebP/AVIF/JPEG XL file (whose quality is estimated from a JPEG's
    quantization tables, or must be given)."""
    data = bytes(data)
    if sniff(data) or codecs.sniff_native(data) is None:
        return zoo.named(unpack(data, max_pixels))
    backend, blob = codecs.extract_native(data)
    if blob is not None:
        hc = zoo.named(unpack(blob, max_pixels))
        if hc.header.codec != backend.name:
            raise HybridCodecError(f"header says {hc.header.codec} but the file is {backend.name}")
        return replace(hc, payload=data)
    # A plain file: restore it with the network that serves its codec and quality.
    given = codecs.check_quality(quality) if quality is not None else None
    quality = backend.estimate_quality(data)  # a JPEG's own tables say it: a quality given is not used
    if quality is None:
        quality = given
    elif given is not None:
        warnings.warn(f"quality {given} ignored: this {backend.name} file's quantization tables say {quality}",
                      stacklevel=3)
    if quality is None:
        raise HybridCodecError(f"plain {backend.name} file without a hybridcodec header: give its --quality")
    width, height = backend.declared_size(data)  # its own header, before any decoder allocates
    check_dimensions(width, height, max_pixels)
    quality = codecs.clamp_quality(quality)
    network = zoo.plain_file_network(backend.name, quality)
    if network is not None and backend.name == "jpeg" and backend.table_features(data) is None:
        # legal, rare: a table first defined between scans, after the first one (where the reader stops)
        warnings.warn("this JPEG's quantization tables are not all before its first scan: "
                      "decoded without a restoration network", stacklevel=3)
        network = None
    models = [network.ref] if network is not None else []
    return HCFile(Header(backend.name, quality, width, height, 3, scales.FULL, 8, models), data)


def decode(data: bytes, pre_model=None, post_model=None, max_pixels: int = DEFAULT_MAX_PIXELS,
           allow_model_mismatch: bool = False, quality: int | None = None) -> Decoded:
    """decompress, also returning the parsed file (ICC profile, metadata, header)."""
    hc = read_file(data, max_pixels, quality)
    h = hc.header
    needed = h.model("post")
    model = None
    if post_model is not None:
        model, ref = zoo.load_user_model(post_model, "post")
        if needed is not None and ref.sha256 != needed.sha256 and not allow_model_mismatch:
            raise HybridCodecError(
                f"model {ref.name} is not the one this file was made for: it needs {needed.name or 'a model'} "
                f"(weights sha256 {needed.sha256[:16]}...)"
            )
    elif needed is not None:
        model = zoo.resolve(needed)
    path = CodingPath(codecs.get_codec(h.codec), h.quality, h.scale, post=model)
    decoded = path.decode(hc.payload, h.width, h.height)
    rgb = path.restore(decoded, h.width, h.height, hc.payload)
    if hc.strengths:  # the container checked that a restoration network is named
        rgb = strength.apply(hc.strengths, replace(path, post=None).restore(decoded, h.width, h.height), rgb)
    del decoded  # not held while alpha and channels are joined: memory is per declared pixel (docs/ROBUSTNESS.md)
    alpha = None
    if hc.alpha:
        alpha = codecs.get_codec("png").decode_plane(hc.alpha, h.width, h.height)
    from .images import upright  # a plain camera file's EXIF orientation, applied after restoration

    return Decoded(upright(join_image(rgb, alpha, h.channels), data), hc)


def decompress(data: bytes, **options) -> np.ndarray:
    """Decode the bytes of a ``.hc`` file (or of a native or plain codec file) to a uint8 array with the original's
    channel count: (H, W) gray, (H, W, 2) gray+alpha, (H, W, 3) RGB or (H, W, 4) RGBA.
    Raises HybridCodecError on a corrupt, truncated or refused file.

    ``options``: post_model (a ``.keras`` path or Keras model to use instead of
    the one the file names), max_pixels, allow_model_mismatch, quality (of a
    plain WebP/AVIF/JPEG XL file).
    """
    return decode(data, **options).image
