"""Rate control: the best file under a size, or the smallest that reaches a PSNR;
and ``--search``: the best path for this image within the plain codec's size.

Like ``cwebp -size``, a search: for each scale (full, three-quarter and half
size), a bisection over the quality, each step a real encode (and, for a PSNR
target, a real decode and restoration). About 7 encodes per scale, so rate
control takes roughly 21 times a plain encode, more with a PSNR target.
"""

from __future__ import annotations

import contextvars
import functools
import re
import warnings

import numpy as np

from . import codecs, runtime
from .errors import HybridCodecError
from .metrics import psnr
from .pipeline import Encoded, decode, eight_bit, encode, warn_native_scale
from .scale import SCALES

_UNITS = {"": 1, "B": 1, "KB": 1000, "K": 1000, "KIB": 1024, "MB": 1000**2, "M": 1000**2, "MIB": 1024**2}


def parse_size(text: str) -> int:
    """'30KB' -> 30000, '1.5MiB' -> 1572864, '800' -> 800 (bytes)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise HybridCodecError(f"cannot read the size {text!r}: use e.g. 800, 30KB or 1.5MiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _bisect(ok, low=1, high=99):
    """Largest q in [low, high] with ok(q) true, given ok is true up to a point; None if none."""
    if not ok(low):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        if ok(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _restored_psnr(reference: np.ndarray, encoded: Encoded, **options) -> float:
    """PSNR of the restored file against ``reference``, the image at 8 bits
    (``eight_bit``): a 16-bit input compared as it is scores about -43 dB."""
    out = decode(encoded.data, post_model=options.get("post_model")).image
    return psnr(reference, out)


# The search's progress (runtime.progress): one count of encodes for the
# whole search, --search's inner fit_size included.
_ENCODES = contextvars.ContextVar("hybridcodec_encodes", default=None)


def _counting_encodes(search_function):
    """Count ``search_function``'s trial encodes on one progress bar."""

    @functools.wraps(search_function)
    def counted(*args, **kwargs):
        if _ENCODES.get() is not None:  # an outer search counts them
            return search_function(*args, **kwargs)
        with runtime.progress("rate control", unit=" encodes") as step:
            token = _ENCODES.set(step)
            try:
                return search_function(*args, **kwargs)
            finally:
                _ENCODES.reset(token)

    return counted


def _candidate(image, codec: str, quality: int, scale, options) -> Encoded:
    """One trial encode; warnings wait for the file chosen (``_chosen``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoded = encode(image, codec, quality, scale, **options)
    step = _ENCODES.get()
    if step is not None:
        step()
    return encoded


def _chosen(best: Encoded, options) -> Encoded:
    if options.get("native"):
        warn_native_scale(best.hc.header.scale)
    return best


@_counting_encodes
def fit_size(image, codec: str, max_bytes: int, **options) -> Encoded:
    """The file of at most ``max_bytes`` with the highest PSNR after restoration."""
    image = np.asarray(image)
    reference = eight_bit(image)
    best, best_psnr = None, -np.inf
    for scale in SCALES:
        cache = {}

        def encoded(q, scale=scale, cache=cache):
            if q not in cache:
                cache[q] = _candidate(image, codec, q, scale, options)
            return cache[q]

        q = _bisect(lambda q: len(encoded(q).data) <= max_bytes)
        if q is None:
            continue
        value = _restored_psnr(reference, encoded(q), **options)
        if value > best_psnr:
            best, best_psnr = encoded(q), value
    if best is None:
        raise HybridCodecError(f"no {codec} file of this image fits in {max_bytes} bytes")
    return _chosen(best, options)


@_counting_encodes
def reach_psnr(image, codec: str, target_db: float, **options) -> Encoded:
    """The smallest file whose restored image reaches ``target_db`` PSNR."""
    image = np.asarray(image)
    reference = eight_bit(image)
    best = None
    for scale in SCALES:
        cache = {}

        def value(q, scale=scale, cache=cache):
            if q not in cache:
                enc = _candidate(image, codec, q, scale, options)
                cache[q] = (enc, _restored_psnr(reference, enc, **options))
            return cache[q]

        # largest q that still misses the target, plus one, is the smallest that reaches it
        if value(99)[1] < target_db:
            continue
        below = _bisect(lambda q: value(q)[1] < target_db)
        q = 1 if below is None else below + 1
        candidate = value(q)[0]
        if best is None or len(candidate.data) < len(best.data):
            best = candidate
    if best is None:
        raise HybridCodecError(f"{codec} cannot reach {target_db} dB PSNR on this image")
    return _chosen(best, options)


@_counting_encodes
def search(image, codec: str, quality: int, **options) -> Encoded:
    """``--search``: ``--scale auto``'s check widened to every codec quality.

    The budget is the size of the full-size file at ``quality`` (the plain
    codec's payload plus the header, as ``--scale auto`` has it); within it,
    every scale is searched at every codec quality (each with the network
    that serves it), and the result of ``--scale auto`` (which also weighs
    the plain picture with no network, and may add a strength part, header
    like the rest, to the budget) competes with them: the file whose
    restored image has the highest PSNR wins. About 21 encodes and 4
    restorations, where auto takes 2-4 encodes.
    """
    image = np.asarray(image)
    backend = codecs.get_codec(codec).configured(options.get("encoder"), options.get("effort"))
    budget = len(_candidate(image, codec, backend.encoder_quality(quality), SCALES[0], options).data)
    searched = fit_size(image, codec, budget, **options)
    auto = _candidate(image, codec, quality, "auto", options)
    reference = eight_bit(image)
    if _restored_psnr(reference, auto, **options) > _restored_psnr(reference, searched, **options):
        return _chosen(auto, options)
    return searched
