"""compress and decompress: the one path the CLI, the Python API and the Pillow plugin share.

compress:   image -> pre-process (ComCNN, or area downscale, or nothing)
                  -> uint8 -> codec -> .hc
decompress: .hc -> codec -> post-process (restoration network, or bicubic
                  upscale, or nothing) -> crop to the original size

At scale 4/3 the decoder upscales (bicubic) before a full-size network
restores; at scale 2 the network upsamples itself.

TensorFlow is imported only when a network actually runs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import codecs, zoo
from . import native as native_format
from .container import DEFAULT_MAX_PIXELS, HCFile, Header, ModelRef, check_dimensions, pack, sniff, unpack
from .errors import HybridCodecError
from .resize import area_downscale, bicubic_upscale, coded_size, network_input, network_scale, parse_scale

DEFAULT_CODEC = "webp"
DEFAULT_QUALITY = 50  # mid-range for every backend: about 0.4-0.7 bpp on photos


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
    return rgb, alpha, channels, bits


def join_image(rgb: np.ndarray, alpha: np.ndarray | None, channels: int) -> np.ndarray:
    """Inverse of split_image: gray images come back as (H, W), colour as (H, W, 3 or 4)."""
    if channels <= 2:
        color = np.rint(rgb.astype(np.float32).mean(axis=2)).astype(np.uint8)[:, :, None]
    else:
        color = rgb
    if alpha is not None:
        color = np.concatenate([color, alpha[:, :, None]], axis=2)
    return color[:, :, 0] if color.shape[2] == 1 else np.ascontiguousarray(color)


# --------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------


# Networks run on tiles of at most TILE x TILE input pixels with OVERLAP pixels
# of context on each side, so memory stays flat however large the image. The
# overlap exceeds the receptive field of every shipped network (RecCNN.paper():
# 20 px at full size; RecUNet with 3 blocks: about 30), and tile origins are
# multiples of 16, so the codec's block grid and the phase of every stride-2
# layer are the same as on the whole image.
TILE = 768
OVERLAP = 32


def _to_float(image: np.ndarray) -> np.ndarray:
    return image[None].astype(np.float32) / 255.0


def _to_uint8(batch) -> np.ndarray:
    return np.clip(np.rint(np.asarray(batch)[0] * 255.0), 0, 255).astype(np.uint8)


def run_tiled(fn, image: np.ndarray, up: int = 1, down: int = 1, tile: int = TILE,
              overlap: int = OVERLAP) -> np.ndarray:
    """Apply ``fn`` (uint8 image -> uint8 image, ``up/down`` times its size) tile by tile."""
    h, w = image.shape[:2]
    if h <= tile + 2 * overlap and w <= tile + 2 * overlap:
        return fn(image)
    out_h, out_w = -(-h * up // down), -(-w * up // down)
    out = np.zeros((out_h, out_w, 3), np.uint8)
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            y0, x0 = max(0, y - overlap), max(0, x - overlap)
            y1, x1 = min(h, y + tile + overlap), min(w, x + tile + overlap)
            result = fn(image[y0:y1, x0:x1])
            # the part of the result that belongs to this tile, in output pixels
            oy, ox = (y - y0) * up // down, (x - x0) * up // down
            ty, tx = y * up // down, x * up // down
            th = min(out_h, -(-min(h, y + tile) * up // down)) - ty
            tw = min(out_w, -(-min(w, x + tile) * up // down)) - tx
            out[ty : ty + th, tx : tx + tw] = result[oy : oy + th, ox : ox + tw]
    return out


def run_pre(model, rgb: np.ndarray, tile: int = TILE) -> np.ndarray:
    """The compact uint8 image a pre-processing network makes of ``rgb``."""
    scale = int(getattr(model, "scale", 1))
    return run_tiled(lambda part: _to_uint8(model(_to_float(part), training=False)), rgb, 1, scale,
                     tile=tile - tile % (16 * scale))


def run_post(model, decoded: np.ndarray, quality: int, width: int, height: int,
             tile: int = TILE) -> np.ndarray:
    """Restore ``decoded`` (coded size) to a ``width`` x ``height`` uint8 image."""
    quality_input = np.array([[quality / 100.0]], np.float32)
    scale = int(getattr(model, "scale", 1))

    def restore(part):
        return _to_uint8(model([_to_float(part), quality_input], training=False))

    restored = run_tiled(restore, decoded, scale, 1, tile=tile - tile % 16)
    if restored.shape[0] < height or restored.shape[1] < width:
        raise HybridCodecError(
            f"restoration model returned {restored.shape[1]}x{restored.shape[0]}, "
            f"smaller than the image ({width}x{height}): wrong scale for this file?"
        )
    return np.ascontiguousarray(restored[:height, :width])


def load_user_model(model, role: str):
    """(keras model, ModelRef) for a user's model: a ``.keras`` path or a Keras model."""
    from . import models  # noqa: F401  (registers hybridcodec's layers for safe-mode loading)
    from .models import weights_sha256

    if isinstance(model, (str, Path)):
        import keras

        path = Path(model)
        if not path.is_file():
            raise HybridCodecError(f"model file not found: {path}")
        try:
            model = keras.models.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise HybridCodecError(f"cannot load model {path}: {str(error).splitlines()[0]}") from None
        name = path.stem
    else:
        name = model.name
    return model, ModelRef(role, name, weights_sha256(model))


# --------------------------------------------------------------------------
# compress / decompress
# --------------------------------------------------------------------------


@dataclass
class Encoded:
    data: bytes
    hc: HCFile


def warn_native_scale(scale) -> None:
    """A native file coded smaller than the image shows smaller in other viewers: say so."""
    if scale != 1:
        size = "half" if scale == 2 else "three-quarter"
        warnings.warn(f"a native file at scale {scale} shows at {size} size in other viewers", stacklevel=3)


def encode(
    image: np.ndarray,
    codec: str = DEFAULT_CODEC,
    quality: int = DEFAULT_QUALITY,
    scale="auto",
    pre_model=None,
    post_model=None,
    icc: bytes = b"",
    metadata: bytes = b"",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    native: bool = False,
) -> Encoded:
    """compress, also returning the parsed file (for ``info``-style reporting)."""
    backend = codecs.get_codec(codec)
    if scale != "auto":
        try:
            scale = parse_scale(scale)
        except ValueError as error:
            raise HybridCodecError(f"{error} (or auto)") from None
    if native and not backend.lossy:
        raise HybridCodecError("--native needs a lossy codec: jpeg, webp, avif or jpegxl")
    if native and scale == "auto":
        scale = 1  # a viewer shows a native file as it is: full size
    elif native:
        warn_native_scale(scale)
    rgb, alpha, channels, bits = split_image(image)
    height, width = rgb.shape[:2]
    check_dimensions(width, height, max_pixels)
    quality = codecs.clamp_quality(quality)

    refs: list[ModelRef] = []
    pre = None
    if backend.lossy and pre_model is not None:
        pre, ref = load_user_model(pre_model, "pre")
        scale = parse_scale(pre.get_config().get("scale", 1))  # the pre-processor fixes the scale
        refs.append(ref)
    point = zoo.operating_point(codec, quality, scale)
    use_scale, quality = point.scale, point.codec_quality
    if backend.lossy:
        # A shipped model is stored by its hash alone (the zoo knows its name):
        # 20-25 bytes less a file. A user's model keeps its name, for messages.
        if pre is None and point.pre is not None:
            pre = zoo.load(point.pre)
            refs.append(ModelRef("pre", "", point.pre.sha256))
        if post_model is not None:
            refs.append(load_user_model(post_model, "post")[1])
        elif point.post is not None:
            refs.append(ModelRef("post", "", point.post.sha256))

    coded_w, coded_h = coded_size(width, height, use_scale)
    backend.check_size(coded_w, coded_h)
    compact = run_pre(pre, rgb) if pre is not None else area_downscale(rgb, use_scale)
    try:
        payload = backend.encode(np.ascontiguousarray(compact), quality)
    except Exception as error:  # imagecodecs raises its own error types
        raise HybridCodecError(f"{codec} cannot code this {coded_w}x{coded_h} image: {error}") from None
    alpha_payload = codecs.get_codec("png").encode_plane(alpha) if alpha is not None else b""
    header = Header(codec, quality, width, height, channels, use_scale, bits, refs)
    hc = HCFile(header, payload, alpha_payload, bytes(icc or b""), bytes(metadata or b""))
    if native:
        blob = pack(HCFile(header, b"", hc.alpha, hc.icc, hc.metadata))
        return Encoded(native_format.embed(codec, payload, blob, coded_w, coded_h), zoo.named(hc))
    data = pack(hc)  # before naming: the file keeps a shipped model's hash alone
    return Encoded(data, zoo.named(hc))


def compress(image: np.ndarray, codec: str = DEFAULT_CODEC, quality: int = DEFAULT_QUALITY,
             scale="auto", **options) -> bytes:
    """Compress an image array (uint8 or uint16; gray, gray+alpha, RGB or RGBA)
    to the bytes of a ``.hc`` file. Raises HybridCodecError on bad input.

    ``options``: pre_model, post_model (a ``.keras`` path or Keras model),
    icc, metadata (bytes stored as they are), max_pixels, native (a standard
    JPEG/WebP/AVIF/JPEG XL file with the header inside, see native.py).
    """
    return encode(image, codec, quality, scale, **options).data


@dataclass
class Decoded:
    image: np.ndarray
    hc: HCFile


def read_file(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, quality: int | None = None) -> HCFile:
    """Parse a ``.hc`` file, a native file with a hybridcodec header, or a plain
    JPEG/WebP/AVIF/JPEG XL file (whose quality is estimated from a JPEG's
    quantization tables, or must be given)."""
    data = bytes(data)
    if sniff(data) or native_format.sniff(data) is None:
        return zoo.named(unpack(data, max_pixels))
    codec, payload, blob = native_format.extract(data)
    if blob is not None:
        hc = zoo.named(unpack(blob, max_pixels))
        if hc.header.codec != codec:
            raise HybridCodecError(f"header says {hc.header.codec} but the file is {codec}")
        hc.payload = payload
        return hc
    # A plain file: restore it with the network that serves its codec and quality.
    if quality is None and codec == "jpeg":
        quality = native_format.jpeg_quality(data)
    if quality is None:
        raise HybridCodecError(f"plain {codec} file without a hybridcodec header: give its --quality")
    decoded = _decode_payload(codecs.get_codec(codec), payload)
    height, width = decoded.shape[:2]
    check_dimensions(width, height, max_pixels)
    quality = codecs.clamp_quality(quality)
    point = zoo.operating_point(codec, quality, 1)
    models = [point.post.ref] if point.post is not None else []
    return HCFile(Header(codec, quality, width, height, 3, 1, 8, models), payload)


def _decode_payload(backend, payload: bytes) -> np.ndarray:
    try:
        return backend.decode(payload)
    except Exception as error:  # imagecodecs raises its own error types
        raise HybridCodecError(f"{backend.name} payload does not decode: {str(error).splitlines()[0]}") from None


def decode(data: bytes, pre_model=None, post_model=None, max_pixels: int = DEFAULT_MAX_PIXELS,
           allow_model_mismatch: bool = False, quality: int | None = None) -> Decoded:
    """decompress, also returning the parsed file (ICC profile, metadata, header)."""
    hc = read_file(data, max_pixels, quality)
    h = hc.header
    backend = codecs.get_codec(h.codec)
    needed = h.model("post")
    model = None
    if post_model is not None:
        model, ref = load_user_model(post_model, "post")
        if needed is not None and ref.sha256 != needed.sha256 and not allow_model_mismatch:
            raise HybridCodecError(
                f"model {ref.name} is not the one this file was made for: it needs {needed.name or 'a model'} "
                f"(weights sha256 {needed.sha256[:16]}...)"
            )
    elif needed is not None:
        model = zoo.resolve(needed)
    decoded = _decode_payload(backend, hc.payload)
    coded_w, coded_h = coded_size(h.width, h.height, h.scale)
    if decoded.shape[:2] != (coded_h, coded_w):
        raise HybridCodecError(
            f"payload is {decoded.shape[1]}x{decoded.shape[0]}, header says {coded_w}x{coded_h}"
        )
    if model is not None:
        if int(getattr(model, "scale", 1)) != network_scale(h.scale):
            raise HybridCodecError(f"the restoration model is for scale {getattr(model, 'scale', 1)}, "
                                   f"the file is coded at scale {h.scale}")
        rgb = run_post(model, network_input(decoded, h.scale, h.width, h.height), h.quality, h.width, h.height)
    else:
        rgb = bicubic_upscale(decoded, h.scale, h.width, h.height)
    alpha = None
    if hc.alpha:
        alpha = codecs.get_codec("png").decode_plane(hc.alpha)
        if alpha.shape != (h.height, h.width):
            raise HybridCodecError("alpha payload does not match the image size")
    return Decoded(join_image(rgb, alpha, h.channels), hc)


def decompress(data: bytes, **options) -> np.ndarray:
    """Decode the bytes of a ``.hc`` file (or of a native or plain codec file) to a uint8 array with the original's
    channel count: (H, W) gray, (H, W, 2) gray+alpha, (H, W, 3) RGB or (H, W, 4) RGBA.
    Raises HybridCodecError on a corrupt, truncated or refused file.

    ``options``: post_model (a ``.keras`` path or Keras model to use instead of
    the one the file names), max_pixels, allow_model_mismatch, quality (of a
    plain WebP/AVIF/JPEG XL file).
    """
    return decode(data, **options).image
