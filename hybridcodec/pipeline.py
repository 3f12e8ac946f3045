"""compress and decompress: the one path the CLI, the Python API and the Pillow plugin share.

compress:   image -> the path decide.py chooses for it (``--scale auto``'s
                  check, or the path the settings name) -> .hc
decompress: .hc -> codec -> post-process -> crop to the original size

Three modules, no import cycle: this entry imports decide.py (which path,
and the one scorer; ``encode_with`` is decide's) and assembly.py (one encode
on one given path, reading and decoding files); decide.py imports
assembly.py, never this module (tests/test_core.py walks every import, a
function's too, so a lazy import back would still be a cycle). The
assembly's names are re-exported here, where callers have always found them.
"""

from __future__ import annotations

import numpy as np

from .assembly import (
    Decoded,
    Encoded,
    decode,
    decompress,
    eight_bit,
    join_image,
    read_file,
    split_image,
    warn_native_scale,
)
from .decide import encode_with  # re-exported as it is: a warning's stack level stays the caller's
from .settings import EncodeSettings, names

__all__ = ["DEFAULT_CODEC", "DEFAULT_QUALITY", "Decoded", "Encoded", "api_settings", "compress",
           "decode", "decompress", "eight_bit", "encode", "encode_with", "join_image", "read_file", "split_image",
           "warn_native_scale"]

DEFAULT_CODEC = EncodeSettings.codec  # the defaults are settings.py's
DEFAULT_QUALITY = EncodeSettings.quality


def encode(image: np.ndarray, codec: str = DEFAULT_CODEC, quality: int = DEFAULT_QUALITY, scale="auto",
           **options) -> Encoded:
    """compress, also returning the parsed file (for ``info``-style reporting)."""
    return encode_with(image, api_settings(codec, quality, scale, options))


def api_settings(codec, quality, scale, options: dict) -> EncodeSettings:
    """The settings of ``compress(image, codec, quality, scale, **options)``;
    a setting the API does not take (``settings.names``) is a TypeError, as before."""
    refused = sorted(set(options) - set(names(api_only=True)))
    if refused:
        raise TypeError(f"compress() got an unexpected keyword argument {refused[0]!r}")
    return EncodeSettings.of(**options).but(codec=codec, quality=quality, scale=scale)


def compress(image: np.ndarray, codec: str = DEFAULT_CODEC, quality: int = DEFAULT_QUALITY,
             scale="auto", **options) -> bytes:
    """Compress an image array (uint8 or uint16; gray, gray+alpha, RGB or RGBA)
    to the bytes of a ``.hc`` file. Raises HybridCodecError on bad input,
    ``quality`` outside 1-99 or not a whole number included.

    ``scale``: "auto" (the table's path, kept only where it restores this
    image at least as well as the full-size file at ``quality`` in no more
    bytes), "table" (the table's path unchecked), or 1, "4/3", 2 (that scale
    at exactly ``quality``).

    Gray comes back from ``decompress`` as (H, W), whether it went in as
    (H, W) or (H, W, 1): the file records one channel, not the array's shape.

    ``options``: the other fields of ``settings.EncodeSettings`` that the API
    takes (``settings.names(api_only=True)``), each with its default and help
    there: pre_model, post_model (a ``.keras`` path or Keras model), icc,
    metadata (bytes stored as they are), max_pixels, native (a standard
    JPEG/WebP/AVIF/JPEG XL file with the header inside, see native.py),
    encoder, effort, tune, decoder, pre_edit, strengths, precision. ``encode_with`` takes
    an ``EncodeSettings`` itself.
    """
    return encode(image, codec, quality, scale, **options).data
