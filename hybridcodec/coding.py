"""The coding path: pre-process, code, decode, restore. Its one home.

    image -> pre-process (ComCNN, or area downscale at the scale, or nothing)
          -> uint8 -> codec -> payload
    payload -> codec -> decoded -> restore (network, or bicubic upscale, or
          nothing) -> the image's size

At scale 4/3 the restoring network is given the bicubic upscale of the
decoded picture (``Scale.network_input``); at scale 2 it upsamples itself.
The pipeline (files), training (its coded caches), the zoo tools (paths
weighed for the table), bench and rate control all code through a
``CodingPath``, so they cannot drift apart.

Networks run tile by tile (``run_tiled``), so memory stays flat however
large the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import scale as scales
from .codecs import Codec
from .errors import HybridCodecError
from .runtime import progress
from .scale import Scale

# What a restoration network is told of the coding besides the decoded
# picture, by contract name: the length of the vector it takes (models.py).
CONDITIONS = {"quality": 1, "jpeg-tables": 8}


def condition_vector(contract: str, codec: Codec, quality: int, payload: bytes | None) -> np.ndarray:
    """The (1, K) float32 condition a ``contract`` network is given for a
    payload that ``codec`` coded at ``quality``."""
    if contract == "quality":
        return np.array([[quality / 100.0]], np.float32)
    if contract == "jpeg-tables":
        features = codec.table_features(payload) if payload is not None and codec.name == "jpeg" else None
        if features is None:
            raise HybridCodecError("this restoration network needs the JPEG file's quantization tables")
        return np.asarray(features, np.float32)[None]
    raise HybridCodecError(f"restoration network of unknown contract {contract!r}: upgrade hybridcodec")


@dataclass(frozen=True)
class CodingPath:
    """One way through a codec: ``codec`` at ``quality`` (its own scale) on a
    picture ``scale`` times smaller than the image; ``pre`` and ``post`` are
    networks called as Keras models are (a shipped one in the runtime,
    ``runtime.Network``, or a user's Keras model), or None (the classical
    resampling)."""

    codec: Codec
    quality: int
    scale: Scale = scales.FULL
    pre: object = None
    post: object = None

    # -- encoder side ------------------------------------------------------

    def compact(self, rgb: np.ndarray) -> np.ndarray:
        """The uint8 picture the codec codes."""
        if self.pre is not None:
            return run_pre(self.pre, rgb, self.quality)
        return self.scale.downscale(rgb)

    def encode_compact(self, compact: np.ndarray) -> bytes:
        """The codec's payload of an already pre-processed picture."""
        height, width = compact.shape[:2]
        self.codec.check_size(width, height)
        try:
            return self.codec.encode(np.ascontiguousarray(compact), self.quality)
        except Exception as error:  # imagecodecs raises its own error types
            raise HybridCodecError(f"{self.codec.name} cannot code this {width}x{height} image: {error}") from None

    def encode(self, rgb: np.ndarray) -> bytes:
        """The codec's payload for an (H, W, 3) uint8 image."""
        height, width = rgb.shape[:2]
        self.codec.check_size(*self.scale.coded_size(width, height))  # before a pre-processing network runs
        return self.encode_compact(self.compact(rgb))

    # -- decoder side ------------------------------------------------------

    def decode(self, payload: bytes, width: int | None = None, height: int | None = None) -> np.ndarray:
        """The codec's decoded picture, an (h, w, 3) uint8 array of the coded
        size of a ``width`` x ``height`` image (if given; else of the size the
        payload declares). The one check of every decoder's output:

        * before decoding, the size the payload's own header declares
          (``Codec.declared_size``) must be the coded size, which the caller
          checked against ``max_pixels`` (issue #38: a 631-byte JPEG
          declaring 60000x60000 took 10 GB and 64 s before this check). For
          JPEG, PNG, WebP and AVIF items that header bounds what the decoder
          allocates; a JPEG XL file is checked only at its SizeHeader: its
          frames (layers, crops) may be larger, and libjxl decodes them at
          their full size;
        * after, the array must be uint8 RGB of that size: a 16-bit PNG,
          10-bit AVIF or 16-bit JPEG XL payload (uint16), or one that decodes
          to another size, is refused, never handed on."""
        name = self.codec.name
        declared = self.codec.declared_size(payload)
        expected = self.scale.coded_size(width, height) if width is not None else declared
        if declared is not None and declared != expected:
            raise HybridCodecError(f"{name} payload declares {declared[0]}x{declared[1]}, "
                                   f"header says {expected[0]}x{expected[1]}")
        try:
            decoded = self.codec.decode(payload)
        except Exception as error:  # imagecodecs raises its own error types
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise HybridCodecError(f"{name} payload does not decode: {reason}") from None
        if decoded.dtype != np.uint8 or decoded.ndim != 3 or decoded.shape[2] != 3:
            raise HybridCodecError(f"{name} payload decodes to {decoded.dtype} of shape {decoded.shape}, "
                                   "not 8-bit RGB")
        if expected is not None and decoded.shape[:2] != (expected[1], expected[0]):
            raise HybridCodecError(f"{name} payload is {decoded.shape[1]}x{decoded.shape[0]}, "
                                   f"header says {expected[0]}x{expected[1]}")
        return decoded

    def restore(self, decoded: np.ndarray, width: int, height: int, payload: bytes | None = None) -> np.ndarray:
        """The ``width`` x ``height`` uint8 image restored from the decoded
        picture; ``payload``, the codec's file, for networks that read it."""
        if self.post is None:
            return self.scale.upscale(decoded, width, height)
        return self.restore_input(self.scale.network_input(decoded, width, height), width, height, payload)

    def condition(self, payload: bytes | None) -> np.ndarray:
        """What the restoration network is told of the coding (``CONDITIONS``)."""
        return condition_vector(getattr(self.post, "condition", "quality"), self.codec, self.quality, payload)

    def restore_input(self, seen: np.ndarray, width: int, height: int, payload: bytes | None = None) -> np.ndarray:
        """``restore`` given what the network sees (``Scale.network_input``), for
        callers that restore one decoded picture with several networks."""
        model_scale = int(getattr(self.post, "scale", 1))
        if model_scale != self.scale.network_factor:
            raise HybridCodecError(f"the restoration model is for scale {model_scale}, "
                                   f"the file is coded at scale {self.scale}")
        return run_post(self.post, seen, self.condition(payload), width, height)

    def round_trip(self, rgb: np.ndarray) -> tuple[bytes, np.ndarray]:
        """(payload, restored image) of an (H, W, 3) uint8 image."""
        height, width = rgb.shape[:2]
        payload = self.encode(rgb)
        return payload, self.restore(self.decode(payload, width, height), width, height, payload)


# --------------------------------------------------------------------------
# Running networks, tile by tile
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
    tiles = -(-h // tile) * -(-w // tile)
    with progress("network", tiles, unit="tile") as step:  # a bar on a terminal (cli.py), closed on an error too
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
                step()
    return out


def takes_quality(model) -> bool:
    """True for a pre-processor told the codec quality (models.PreEditor's contract)."""
    return len(getattr(model, "inputs", ())) == 2


def run_pre(model, rgb: np.ndarray, quality: int | None = None, tile: int = TILE) -> np.ndarray:
    """The compact uint8 image a pre-processing network makes of ``rgb``, to
    be coded at the codec's own ``quality`` (which a PreEditor is told)."""
    scale = int(getattr(model, "scale", 1))
    if takes_quality(model):
        if quality is None:
            raise HybridCodecError("this pre-processing network needs the codec quality")
        condition = np.array([[quality / 100.0]], np.float32)

        def edit(part):
            return _to_uint8(model([_to_float(part), condition], training=False))
    else:

        def edit(part):
            return _to_uint8(model(_to_float(part), training=False))

    return run_tiled(edit, rgb, 1, scale, tile=tile - tile % (16 * scale))


def run_post(model, decoded: np.ndarray, condition: np.ndarray, width: int, height: int,
             tile: int = TILE) -> np.ndarray:
    """Restore ``decoded`` (what the network sees) to a ``width`` x ``height``
    uint8 image; ``condition``, the (1, K) vector of ``condition_vector``."""
    quality_input = np.asarray(condition, np.float32)
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
