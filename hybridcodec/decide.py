"""The encoder's decisions: which path codes an image, and the one candidate scorer.

``encode_with`` reads the settings' scale words, each with one meaning:
``"table"`` is the table's operating point (``asked_point``), unchecked;
``"auto"`` is that point checked on the image (``_checked``; where no check
applies, a lossless codec or the user's own network, the table's point); a
number is that scale at exactly the quality. Each encode then gets one
operating point (assembly.encode_path never reads a scale word). pipeline.py
is the entry that calls this module; this module imports assembly.py, never
pipeline.py: no import cycle (tests/test_core.py). Rate control
(``fit_size``, ``reach_psnr``, ``search``, at the end) is built on
``encode_with`` and ``score``, and ``encode_as_asked`` picks among them and
a plain encode: every decision the encoder makes is here.

Every choice the encoder makes on the image it holds compares candidates
by ``score``: ``--scale auto``'s check (``_checked``: the table's
path, the full-size file, the plain picture, the pre-edited file), its
large-image form on sampled tiles, ``--target-size`` and ``--search``.
``--target-psnr`` is a PSNR target and is measured in PSNR under either
tune. The restoration's strength per tile is chosen by the tune's per-tile
measure (strength.choose: squared error; choose_by_ssim:
SSIM, the perceptual tune's fast proxy), then the whole image is scored
here.

* ``psnr``: PSNR-RGB (0.8's decisions, unchanged).
* ``perceptual``: SSIMULACRA 2.1 (metrics.ssimulacra2), the metric fitted
  to the eye that the encoder engineers tune for (issue #40): about 0.4 s
  of CPU for 768x512 a candidate, on top of the decoding; the check weighs
  2 to 5 candidates. Butteraugli, the other eye metric bench reports, is a
  Debian tool (libjxl-devtools), not something an encoder can rely on.
"""

from __future__ import annotations

import contextvars
import functools
import re
import warnings
from dataclasses import replace

import numpy as np

from . import codecs, runtime, strength, zoo
from . import scale as scales
from .assembly import Encoded, decode, eight_bit, encode_path, file_bytes, split_image, warn_native_scale
from .coding import CodingPath, run_pre
from .container import ModelRef
from .errors import HybridCodecError
from .metrics import psnr, ssimulacra2
from .scale import SCALES
from .settings import EncodeSettings

# Above this many pixels, --scale auto decides on a mosaic of SAMPLE_GRID^2
# tiles of SAMPLE_TILE pixels spread over the image, not on the whole image:
# its restorations are what an encode costs (12 megapixels: 41-44 s deciding
# on the whole image). Tiles start and end on multiples of 64 pixels, so
# every scale's coded tile keeps the codec's 16-pixel block grid.
SAMPLED_DECISION_PIXELS = 4_000_000
SAMPLE_TILE = 512
SAMPLE_GRID = 3


def encode_with(image: np.ndarray, settings: EncodeSettings) -> Encoded:
    """Encode ``image`` as ``settings`` say; the one way in below the callers.

    ``scale="auto"`` takes the table's path and then checks it on the image
    itself (``_checked``); ``scale="table"`` takes the table's path unchecked.
    """
    settings = settings.checked()
    if (settings.scale != "auto" or not settings.backend().lossy or settings.pre_model
            or settings.post_model):
        encoded = encode_path(image, settings, asked_point(settings))
    else:
        encoded = _checked(image, settings)
    _warn_unless_light(encoded, settings)
    return encoded


def _warn_unless_light(encoded: Encoded, settings: EncodeSettings) -> None:
    """``--decoder light`` where no light network serves the path kept: say so (the file names the full one)."""
    post = encoded.hc.header.model("post")
    if settings.decoder == zoo.DECODERS[0] or post is None or settings.post_model:
        return
    entry = zoo.find(sha256=post.sha256)
    base = zoo.find(entry.variant_of) if entry and entry.variant_of else entry
    if base is not None and not base.light_of:
        warnings.warn(f"no light network ships for {base.name} (this codec, tune and quality): "
                      "the file names the full network", stacklevel=3)


def asked_point(settings: EncodeSettings) -> zoo.OperatingPoint:
    """The operating point the settings' scale names, unchecked: the table's
    for ``"auto"`` and ``"table"`` (a native file: the full-size point at the
    encoder's own quality, as a viewer shows it full size), else that scale
    at ``quality``."""
    codec, quality, backend = settings.codec, settings.quality, settings.backend()
    table = settings.scale in ("auto", "table")
    scale = "auto" if table else scales.parse(settings.scale)  # zoo's "auto": its table
    if settings.native:
        codecs.native_codec(codec)
        if table:
            return zoo.operating_point(codec, backend.encoder_quality(quality), scales.FULL, backend.encoder)
    return zoo.operating_point(codec, quality, scale, backend.encoder)


def _checked(image, settings: EncodeSettings) -> Encoded:
    """``--scale auto`` on this image. Candidates: the table's path; the
    full-size file at ``quality`` (the encoder's own quality for it, see
    ``Codec.encoder_quality``) with the network that serves it; that file
    restored by nothing (exactly the plain codec's picture); and, where the
    user named no encoder and the default one is not the codec's first, the
    first encoder's table path (JPEG: libjpeg-turbo at scale 2 or 4/3, whose
    networks were trained on it); and, where the encoder has a pre-editing
    pair (``zoo.pre_edit_point``) and ``pre_edit``, the pre-edited file at
    the highest codec quality that fits the budget (``_pre_edited``). The
    one whose restored image scores highest (``score``, the tune's metric) wins, among those no
    larger than the full-size file with a network's header, so the result is
    never worse than the plain codec at ``quality``, in its bytes plus our
    header. Then, with ``strengths``, the restoration's strength per tile
    where it pays (``_with_strengths``; a version-4 file whose strength
    part, header too, is the one thing that may add bytes to the budget). Large images
    decide on sampled tiles (``_decided_on_tiles``), without strengths.

    Why: the table was fixed on mean results over a few photos; on a smaller
    or a different photo its scale or network can lose to the plain file (WebP
    q10 on 768x512 photos: -0.5 dB). Cost: two or three encodes (and up to
    three of a smaller picture), up to three restorations and four decodes;
    with a pre-editing pair, one pre-editor run, up to four encodes and one
    more restoration.
    """
    codec, quality = settings.codec, settings.quality
    reference = eight_bit(image)  # also refuses a bad array in one line
    if image.shape[0] * image.shape[1] > SAMPLED_DECISION_PIXELS and min(image.shape[:2]) >= 2 * SAMPLE_TILE:
        return _decided_on_tiles(image, settings)
    with warnings.catch_warnings():  # trial encodes: warnings wait for the file kept
        warnings.simplefilter("ignore")
        backend, full_point, full = _full_size(image, settings)
        table_point = zoo.operating_point(codec, quality, "auto", backend.encoder)
        same = settings.native or table_point == full_point  # a native file is full size anyway
        tables = [full if same else encode_path(image, settings, point=table_point)]
        first = backend.first_encoder
        if settings.encoder is None and backend.encoder != first and not settings.native:
            first_point = zoo.operating_point(codec, quality, "auto", first)
            if not first_point.scale.is_full and _serves_tier(first_point, settings.decoder):
                tables.append(encode_path(image, settings.but(encoder=first), point=first_point))
        # A table aims at the plain file's size on average; where its file is
        # larger on this image, step its codec quality down (at most 3 encodes
        # of the smaller picture) rather than lose its path.
        for k, table in enumerate(tables):
            point = table.hc.header  # what the table chose: scale, codec quality, encoder
            for step in range(1, 4):
                if len(table.data) <= len(full.data) or point.scale.is_full or point.quality - step < 1:
                    break
                lower = zoo.operating_point(codec, point.quality - step, point.scale, point.encoder)
                table = encode_path(image, settings.but(encoder=point.encoder), point=lower)
            tables[k] = table
        point = zoo.pre_edit_point(codec, full_point.codec_quality, backend.encoder) if settings.pre_edit else None
        edited = _pre_edited(image, settings, point, len(full.data)) if point else None
    candidates = [full] + [t for t in tables if t.data != full.data] + ([edited] if edited else [])
    if full.hc.header.models:
        bare = replace(full.hc, header=replace(full.hc.header, models=[]))
        candidates.append(Encoded(file_bytes(bare, settings.native), bare))
    scored = [(*restored(reference, c.data, settings), -len(c.data), -k, c)
              for k, c in enumerate(candidates) if len(c.data) <= len(full.data)]
    value, image, _, _, best = max(scored, key=lambda s: (s[0], *s[2:4]))  # ties: the smaller, the earlier
    return _with_strengths(reference, best, image, settings, value) if settings.strengths else best


def _serves_tier(point: zoo.OperatingPoint, decoder: str) -> bool:
    """Whether ``point`` restores in the ``decoder`` tier: classically, or by a network with a
    network of that tier (--decoder light tries no path it would have to restore with a full one)."""
    return point.post is None or decoder == zoo.DECODERS[0] or zoo.with_decoder(point.post, decoder) is not point.post


def restored(reference: np.ndarray, data: bytes, settings: EncodeSettings,
             tune: str | None = None) -> tuple[float, np.ndarray]:
    """(score under ``tune``, default the settings', ``score``; image) of a
    candidate file as the decoder restores it: the one candidate scorer of
    every decision, rate control's too. Then a shipped network's working
    memory goes back (runtime.Network.release): a decision runs several."""
    decoded = decode(data, max_pixels=settings.max_pixels, post_model=settings.post_model)
    if settings.post_model is None:
        for ref in decoded.hc.header.models:
            if ref.role == "post":
                zoo.resolve(ref).release()
    return score(tune or settings.tune, reference, decoded.image), decoded.image


def _with_strengths(reference: np.ndarray, encoded: Encoded, image: np.ndarray, settings: EncodeSettings,
                    value: float) -> Encoded:
    """``encoded`` with the strength part worth its bytes, if any: the
    restoration's strength per tile, chosen on the original (psnr tune:
    strength.choose; perceptual: strength.choose_by_ssim, kept only where
    the image with it scores above ``value``, the score without it). RGB
    files with a restoration network only; no second restoration (the
    decision's image is reused), one decode of the payload."""
    hc = encoded.hc
    if hc.header.channels != 3 or hc.header.model("post") is None:
        return encoded
    h = hc.header
    path = CodingPath(codecs.get_codec(h.codec), h.quality, h.scale)
    classical = path.restore(path.decode(hc.payload, h.width, h.height), h.width, h.height)
    if settings.tune == "psnr":
        part = strength.choose(reference, classical, image, len(encoded.data))
    else:
        part = strength.choose_by_ssim(reference, classical, image)
        if part and score(settings.tune, reference, strength.apply(part, classical, image)) <= value:
            part = b""
    if not part:
        return encoded
    # as encode_path writes it: shipped models (all, here) by their hash alone
    raw = replace(hc, strengths=part, header=replace(h, models=[ModelRef(m.role, "", m.sha256) for m in h.models]))
    return Encoded(file_bytes(raw, settings.native), replace(hc, strengths=part))


def _full_size(image, settings: EncodeSettings):
    """(backend, point, file) of the full-size file at ``quality`` (the
    encoder's own quality for it) with the network that serves it: the
    budget of ``--scale auto`` and one of its candidates."""
    backend = settings.backend()
    point = zoo.operating_point(settings.codec, backend.encoder_quality(settings.quality), scales.FULL,
                                backend.encoder)
    return backend, point, encode_path(image, settings, point=point)


def sample_mosaic(image: np.ndarray) -> np.ndarray:
    """SAMPLE_GRID x SAMPLE_GRID tiles of SAMPLE_TILE pixels, spread evenly
    over ``image`` (at least twice SAMPLE_TILE on each side), side by side."""
    h, w = image.shape[:2]
    ys = [int(y) // 64 * 64 for y in np.linspace(0, h - SAMPLE_TILE, SAMPLE_GRID)]
    xs = [int(x) // 64 * 64 for x in np.linspace(0, w - SAMPLE_TILE, SAMPLE_GRID)]
    rows = [np.concatenate([image[y : y + SAMPLE_TILE, x : x + SAMPLE_TILE] for x in xs], axis=1) for y in ys]
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def _decided_on_tiles(image, settings: EncodeSettings) -> Encoded:
    """``--scale auto`` on a large image: the per-image decision runs on its
    ``sample_mosaic`` (2.4 megapixels), and the path it keeps (scale, codec
    quality, encoder, networks or none) codes the whole image, once. The
    budget is checked on the whole image: where the kept path's file is
    larger than the full-size file at ``quality``, its codec quality steps
    down (at most 3 encodes), else the full-size file is kept. Candidates
    are scored on the tiles only: the whole image is never restored here."""
    choice = _checked(sample_mosaic(image), settings).hc.header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backend, full_point, full = _full_size(image, settings)
        entry = {ref.role: zoo.find(sha256=ref.sha256) for ref in choice.models}
        point = zoo.OperatingPoint(choice.scale, choice.quality, entry.get("pre"), entry.get("post"))
        if point == full_point and choice.encoder == backend.encoder:
            return full
        chosen = settings.but(encoder=choice.encoder)
        for step in range(4):
            if point.codec_quality - step < 1:
                break
            kept = encode_path(image, chosen, point=replace(point, codec_quality=point.codec_quality - step))
            if len(kept.data) <= len(full.data):
                return kept
    return full


def _pre_edited(image, settings: EncodeSettings, point: zoo.OperatingPoint, budget: int) -> Encoded | None:
    """The pre-edited file at the highest codec quality within ``budget``
    bytes, starting at ``point``'s: a pre-editor trades bits for distortion,
    so its gain shows as a higher codec quality in the same bytes. At most 3
    steps up (or 2 down where the first does not fit), one encode each; the
    winner alone is restored. The pre-editor runs once, told the starting
    quality: a step or three of codec quality hardly changes its edit, and
    each run costs about an int8 restoration (0.24 s for 768x512 here)."""
    pre = zoo.load(point.pre)
    edited = run_pre(pre, split_image(image)[0], point.codec_quality)
    pre.release()

    def trial(q: int) -> Encoded | None:
        if not 1 <= q <= 99:
            return None
        encoded = encode_path(image, settings, point=replace(point, codec_quality=q), compact=edited)
        return encoded if len(encoded.data) <= budget else None

    start = point.codec_quality
    best = trial(start)
    if best is None:  # larger than the budget on this image: step down
        for q in (start - 1, start - 2):
            best = trial(q)
            if best is not None:
                break
        return best
    for q in range(start + 1, start + 4):
        higher = trial(q)
        if higher is None:
            break
        best = higher
    return best


def score(tune: str, reference: np.ndarray, image: np.ndarray) -> float:
    """How close ``image`` is to ``reference`` under ``tune`` (codecs.TUNES):
    higher is closer; comparable within a tune only."""
    if tune == "perceptual":
        return ssimulacra2(reference, image)
    return psnr(reference, image)


# --------------------------------------------------------------------------
# Rate control: the best file under a size, or the smallest that reaches a
# PSNR; and ``--search``: the best path for this image within the plain
# codec's size. Like ``cwebp -size``, a search: for each scale (full,
# three-quarter and half size), a bisection over the quality, each step a
# real encode (and, for a PSNR target, a real decode and restoration). About
# 7 encodes per scale, so rate control takes roughly 21 times a plain
# encode, more with a PSNR target. Each search takes the encode's settings
# (or, for a caller at a prompt, a codec name and the settings as keywords)
# and varies only its quality and scale; each trial is one ``encode_with``.
# --------------------------------------------------------------------------


def encode_as_asked(pixels, settings: EncodeSettings) -> Encoded:
    """The encode ``compress`` asked for: a size, bpp or PSNR target, --search, or plain."""
    if settings.target_size or settings.target_bpp:
        height, width = pixels.shape[:2]
        limit = (parse_size(settings.target_size) if settings.target_size
                 else int(settings.target_bpp * width * height / 8))
        return fit_size(pixels, settings, limit)
    if settings.target_psnr:
        return reach_psnr(pixels, settings, settings.target_psnr)
    if settings.search:
        return search(pixels, settings, settings.quality)
    return encode_with(pixels, settings)


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


def _score_of(reference: np.ndarray, encoded: Encoded, settings: EncodeSettings, tune: str | None = None) -> float:
    """The restored file's score against ``reference``, the image at 8 bits
    (``eight_bit``: a 16-bit input compared as it is scores about -43 dB)."""
    return restored(reference, encoded.data, settings, tune)[0]


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
        encoded = encode_with(image, settings.but(quality=quality, scale=scale))
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
    """The file of at most ``max_bytes`` that restores best (``score`` under the tune)."""
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
        value = _score_of(reference, encoded(q), settings)
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
                cache[q] = (enc, _score_of(reference, enc, settings, "psnr"))
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
    restored image scores highest under the tune (``score``) wins. About 21 encodes and 4
    restorations, where auto takes 2-4 encodes.
    """
    settings = _settings(settings, options)
    image = np.asarray(image)
    budget = len(_candidate(image, settings, settings.backend().encoder_quality(quality), SCALES[0]).data)
    searched = fit_size(image, settings, budget)
    auto = _candidate(image, settings, quality, "auto")
    reference = eight_bit(image)
    if _score_of(reference, auto, settings) > _score_of(reference, searched, settings):
        return _chosen(auto, settings)
    return searched
