"""Rate control: the best file under a size, or the smallest that reaches a PSNR;
and ``--search``: the best path for this image within the plain codec's size.

Like ``cwebp -size``, a search: for each scale (full, three-quarter and half
size), a bisection over the quality, each step a real encode (and, for a PSNR
target, a real decode and restoration). About 7 encodes per scale, so rate
control takes roughly 21 times a plain encode, more with a PSNR target.

Each search takes the encode's ``settings.EncodeSettings`` (or, for a caller
at a prompt, a codec name and the settings as keywords) and varies only its
quality and scale. A decision of its own, kept here: each trial is one
decide.encode_with, each candidate scored by decide.score.
"""

from __future__ import annotations

import contextvars
import functools
import re
import warnings

import numpy as np

from . import decide, runtime
from .assembly import Encoded, eight_bit, warn_native_scale
from .errors import HybridCodecError
from .scale import SCALES
from .settings import EncodeSettings

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


def _settings(settings: EncodeSettings | str, options: dict) -> EncodeSettings:
    """``settings`` as they are, or built from a codec name and keywords."""
    if isinstance(settings, EncodeSettings):
        return settings.but(**options) if options else settings
    return EncodeSettings.of(codec=settings, **options)


def _restored(reference: np.ndarray, encoded: Encoded, settings: EncodeSettings, tune: str | None = None) -> float:
    """The restored file's score against ``reference``, the image at 8 bits
    (``eight_bit``: a 16-bit input compared as it is scores about -43 dB):
    decide.restored, the decisions' one scorer."""
    return decide.restored(reference, encoded.data, settings, tune)[0]


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


def _candidate(image, settings: EncodeSettings, quality: int, scale) -> Encoded:
    """One trial encode; warnings wait for the file chosen (``_chosen``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoded = decide.encode_with(image, settings.but(quality=quality, scale=scale))
    step = _ENCODES.get()
    if step is not None:
        step()
    return encoded


def _chosen(best: Encoded, settings: EncodeSettings) -> Encoded:
    if settings.native:
        warn_native_scale(best.hc.header.scale)
    return best


@_counting_encodes
def fit_size(image, settings: EncodeSettings | str, max_bytes: int, **options) -> Encoded:
    """The file of at most ``max_bytes`` that restores best (decide.score under the tune)."""
    settings = _settings(settings, options)
    image = np.asarray(image)
    reference = eight_bit(image)
    best, best_score = None, -np.inf
    for scale in SCALES:
        cache = {}

        def encoded(q, scale=scale, cache=cache):
            if q not in cache:
                cache[q] = _candidate(image, settings, q, scale)
            return cache[q]

        q = _bisect(lambda q: len(encoded(q).data) <= max_bytes)
        if q is None:
            continue
        value = _restored(reference, encoded(q), settings)
        if value > best_score:
            best, best_score = encoded(q), value
    if best is None:
        raise HybridCodecError(f"no {settings.codec} file of this image fits in {max_bytes} bytes")
    return _chosen(best, settings)


@_counting_encodes
def reach_psnr(image, settings: EncodeSettings | str, target_db: float, **options) -> Encoded:
    """The smallest file whose restored image reaches ``target_db`` PSNR."""
    settings = _settings(settings, options)
    image = np.asarray(image)
    reference = eight_bit(image)
    best = None
    for scale in SCALES:
        cache = {}

        def value(q, scale=scale, cache=cache):
            if q not in cache:
                enc = _candidate(image, settings, q, scale)
                cache[q] = (enc, _restored(reference, enc, settings, "psnr"))
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
        raise HybridCodecError(f"{settings.codec} cannot reach {target_db} dB PSNR on this image")
    return _chosen(best, settings)


@_counting_encodes
def search(image, settings: EncodeSettings | str, quality: int, **options) -> Encoded:
    """``--search``: ``--scale auto``'s check widened to every codec quality.

    The budget is the size of the full-size file at ``quality`` (the plain
    codec's payload plus the header, as ``--scale auto`` has it); within it,
    every scale is searched at every codec quality (each with the network
    that serves it), and the result of ``--scale auto`` (which also weighs
    the plain picture with no network, and may add a strength part, header
    like the rest, to the budget) competes with them: the file whose
    restored image scores highest under the tune (decide.score) wins. About 21 encodes and 4
    restorations, where auto takes 2-4 encodes.
    """
    settings = _settings(settings, options)
    image = np.asarray(image)
    budget = len(_candidate(image, settings, settings.backend().encoder_quality(quality), SCALES[0]).data)
    searched = fit_size(image, settings, budget)
    auto = _candidate(image, settings, quality, "auto")
    reference = eight_bit(image)
    if _restored(reference, auto, settings) > _restored(reference, searched, settings):
        return _chosen(auto, settings)
    return searched
