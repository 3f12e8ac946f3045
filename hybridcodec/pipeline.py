"""compress and decompress: the one path the CLI, the Python API and the Pillow plugin share.

compress:   image -> pre-process (ComCNN, or area downscale, or nothing)
                  -> uint8 -> codec -> .hc
decompress: .hc -> codec -> post-process (restoration network, or bicubic
                  upscale, or nothing) -> crop to the original size

The steps themselves are a ``coding.CodingPath``; this module adds what a
file needs around them: channels, alpha, the header, native wrapping, and
which networks serve a codec and quality (zoo.py).

Shipped networks run in ONNX Runtime (runtime.py); TensorFlow is imported
only for a user's own ``.keras`` network.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from . import codecs, decide, strength, zoo
from . import scale as scales
from .coding import CodingPath, run_pre
from .container import DEFAULT_MAX_PIXELS, HCFile, Header, ModelRef, check_dimensions, pack, sniff, unpack
from .errors import HybridCodecError
from .settings import EncodeSettings, names

DEFAULT_CODEC = EncodeSettings.codec  # the defaults are settings.py's
DEFAULT_QUALITY = EncodeSettings.quality

# Above this many pixels, --scale auto decides on a mosaic of SAMPLE_GRID^2
# tiles of SAMPLE_TILE pixels spread over the image, not on the whole image:
# its restorations are what an encode costs (12 megapixels: 41-44 s deciding
# on the whole image). Tiles start and end on multiples of 64 pixels, so
# every scale's coded tile keeps the codec's 16-pixel block grid.
SAMPLED_DECISION_PIXELS = 4_000_000
SAMPLE_TILE = 512
SAMPLE_GRID = 3


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
# compress / decompress
# --------------------------------------------------------------------------


@dataclass
class Encoded:
    data: bytes
    hc: HCFile


PRE_EDIT = EncodeSettings.pre_edit  # off: settings.py says why


def warn_native_scale(scale: scales.Scale) -> None:
    """A native file coded smaller than the image shows smaller in other viewers: say so."""
    if not scale.is_full:
        warnings.warn(f"a native file at scale {scale} shows at {scale.words} in other viewers", stacklevel=3)


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


def encode_with(image: np.ndarray, settings: EncodeSettings) -> Encoded:
    """Encode ``image`` as ``settings`` say; the one way in below the callers.

    ``scale="auto"`` takes the table's path and then checks it on the image
    itself (``_checked``); ``scale="table"`` takes the table's path unchecked.
    """
    settings = settings.checked()
    if (settings.scale != "auto" or not settings.backend().lossy or settings.pre_model
            or settings.post_model):
        encoded = _encode(image, settings)
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
        warnings.warn(f"no light network ships for {base.name} (this codec, tune and quality): the file names it",
                      stacklevel=3)


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
    one whose restored image has the highest PSNR wins, among those no
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
        tables = [full if same else _encode(image, settings, point=table_point)]
        first = backend.first_encoder
        if settings.encoder is None and backend.encoder != first and not settings.native:
            first_point = zoo.operating_point(codec, quality, "auto", first)
            if not first_point.scale.is_full:
                tables.append(_encode(image, settings.but(encoder=first), point=first_point))
        # A table aims at the plain file's size on average; where its file is
        # larger on this image, step its codec quality down (at most 3 encodes
        # of the smaller picture) rather than lose its path.
        for k, table in enumerate(tables):
            point = table.hc.header  # what the table chose: scale, codec quality, encoder
            for step in range(1, 4):
                if len(table.data) <= len(full.data) or point.scale.is_full or point.quality - step < 1:
                    break
                lower = zoo.operating_point(codec, point.quality - step, point.scale, point.encoder)
                table = _encode(image, settings.but(encoder=point.encoder), point=lower)
            tables[k] = table
        point = zoo.pre_edit_point(codec, full_point.codec_quality, backend.encoder) if settings.pre_edit else None
        edited = _pre_edited(image, settings, point, len(full.data)) if point else None
    candidates = [full] + [t for t in tables if t.data != full.data] + ([edited] if edited else [])
    if full.hc.header.models:
        bare = replace(full.hc, header=replace(full.hc.header, models=[]))
        candidates.append(Encoded(_file_bytes(bare, settings.native), bare))
    scored = [(*_restored(reference, c.data, settings), -len(c.data), -k, c)
              for k, c in enumerate(candidates) if len(c.data) <= len(full.data)]
    value, restored, _, _, best = max(scored, key=lambda s: (s[0], *s[2:4]))  # ties: the smaller, the earlier
    return _with_strengths(reference, best, restored, settings, value) if settings.strengths else best


def _restored(reference: np.ndarray, data: bytes, settings: EncodeSettings) -> tuple[float, np.ndarray]:
    """(score under the tune, decide.score; image) of a candidate file as the
    decoder restores it; then its network's working memory goes back
    (runtime.Network.release): a decision runs several."""
    decoded = decode(data, max_pixels=settings.max_pixels)
    for ref in decoded.hc.header.models:
        if ref.role == "post":
            zoo.resolve(ref).release()
    return decide.score(settings.tune, reference, decoded.image), decoded.image


def _with_strengths(reference: np.ndarray, encoded: Encoded, restored: np.ndarray, settings: EncodeSettings,
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
        part = strength.choose(reference, classical, restored, len(encoded.data))
    else:
        part = strength.choose_by_ssim(reference, classical, restored)
        if part and decide.score(settings.tune, reference, strength.apply(part, classical, restored)) <= value:
            part = b""
    if not part:
        return encoded
    # as _encode writes it: shipped models (all, here) by their hash alone
    raw = replace(hc, strengths=part, header=replace(h, models=[ModelRef(m.role, "", m.sha256) for m in h.models]))
    return Encoded(_file_bytes(raw, settings.native), replace(hc, strengths=part))


def _full_size(image, settings: EncodeSettings):
    """(backend, point, file) of the full-size file at ``quality`` (the
    encoder's own quality for it) with the network that serves it: the
    budget of ``--scale auto`` and one of its candidates."""
    backend = settings.backend()
    point = zoo.operating_point(settings.codec, backend.encoder_quality(settings.quality), scales.FULL,
                                backend.encoder)
    return backend, point, _encode(image, settings, point=point)


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
    down (at most 3 encodes), else the full-size file is kept. The PSNR is
    compared on the tiles only: the whole image is never restored here."""
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
            kept = _encode(image, chosen, point=replace(point, codec_quality=point.codec_quality - step))
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
        encoded = _encode(image, settings, point=replace(point, codec_quality=q), compact=edited)
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


def _encode(image: np.ndarray, settings: EncodeSettings, point: zoo.OperatingPoint | None = None,
            compact: np.ndarray | None = None) -> Encoded:
    """One encode on one path: the table's (scale "auto" or "table"), the
    settings' scale, or the given operating ``point`` (scale, codec quality,
    networks). ``settings.precision``: the restoration network's twin the
    file names (zoo.with_precision); ``compact``: the picture the codec
    codes, where the caller pre-processed it already."""
    settings = settings.checked()
    codec, quality, native, pre_model, post_model = (settings.codec, settings.quality, settings.native,
                                                      settings.pre_model, settings.post_model)
    backend = settings.backend()
    scale = "auto" if settings.scale in ("auto", "table") else scales.parse(settings.scale)
    if native:
        codecs.native_codec(codec)
    if native and scale == "auto" and point is None:
        point = zoo.operating_point(codec, backend.encoder_quality(quality), scales.FULL, backend.encoder)
    elif native:  # a viewer shows a native file as it is: full size
        warn_native_scale(point.scale if point is not None else scale)
    rgb, alpha, channels, bits = split_image(image)
    height, width = rgb.shape[:2]
    check_dimensions(width, height, settings.max_pixels)

    refs: list[ModelRef] = []
    pre = None
    if backend.lossy and pre_model is not None:
        pre, ref = zoo.load_user_model(pre_model, "pre")
        scale = scales.parse(pre.get_config().get("scale", 1))  # the pre-processor fixes the scale
        refs.append(ref)
        point = None
    if point is None:
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
    return Encoded(_file_bytes(hc, native), zoo.named(hc))


def _file_bytes(hc: HCFile, native: bool) -> bytes:
    """The bytes of ``hc``: a ``.hc`` file, or the codec's own file with the header inside."""
    if not native:
        return pack(hc)
    h = hc.header
    coded_w, coded_h = h.scale.coded_size(h.width, h.height)
    return codecs.get_codec(h.codec).embed(hc.payload, pack(replace(hc, payload=b"")), coded_w, coded_h)


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
    encoder, effort, pre_edit, strengths, precision. ``encode_with`` takes
    an ``EncodeSettings`` itself.
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
