"""What ``compress`` is asked to do: every encode setting, its default and its help, once.

``EncodeSettings`` is built by each way in (the command line's compress and
folder runs, ``hybridcodec.compress``, the Pillow plugin's ``save``, batch.py,
rate control, bench) and passed down whole: files.py, decide.py and
pipeline.py read it, none lists the options again. ``compress --help`` takes
its help and defaults from the fields' metadata (``help_text``), so a
default is written here only.

Adding a setting is one field here (default and ``help``) plus its use where
it acts; the command line needs its ``add_argument`` line (the argparse
details: type, choices, action), the Pillow plugin takes it where
``pillow=True``, and ``api=False`` keeps it to the command line and files.py.

The rules are checked here too, in two steps: ``checked`` (every encode:
quality, encoder, effort, scale word, precision) and ``check_request``
(compress as a command or files.compress_file: a lossless codec takes no
quality or scale, one target at a time). The messages are those the layers
gave before this module held them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from . import codecs
from . import scale as scales
from .container import DEFAULT_MAX_PIXELS
from .errors import HybridCodecError
from .runtime import DECODERS, PRECISIONS


def _setting(default, help: str, *, api: bool = True, pillow: bool = False):
    """A field with its default and its ``--help`` text (``{default}`` in it
    is the default as --help shows it); ``api``: ``hybridcodec.compress``
    takes it; ``pillow``: ``Image.save`` takes it."""
    return field(default=default, metadata={"help": help, "api": api, "pillow": pillow})


@dataclass(frozen=True)
class EncodeSettings:
    """Every encode setting (frozen: ``but`` makes a changed copy). Built by
    ``of`` from a caller's keywords, checked by ``checked`` and ``check_request``."""

    codec: str = _setting("webp", "codec backend (default: {default}, or the format -o names: x.jpg is a native JPEG)",
                          pillow=True)
    quality: int = _setting(  # 50: mid-range for every backend, about 0.4-0.7 bpp on photos
        50, "1-99 (default: {default}; not for png). With --scale auto: about the bytes of the common default "
        "encoder at this quality (libjpeg-turbo, libwebp, libavif, libjxl), whatever encoder codes it; the file "
        "stays within the plain file's size and hybridcodec picks the scale, codec quality and network that "
        "restore best in it. With --scale 1, 4/3 or 2: the encoder's own quality", pillow=True)
    scale: object = _setting(  # a word, a number or a scale.Scale (rate control's trials)
        "auto", "code at full (1), three-quarter (4/3) or half (2) size at exactly --quality; {default} (default) "
        "takes the table's path (models/manifest.json) and keeps it only if, on this image, it restores at least "
        "as well as the full-size file at --quality in no more bytes (else that file); table: the table's path "
        "unchecked (no network at encode)", pillow=True)
    encoder: str | None = _setting(
        None, "the codec's encoder (default: the tune's, else the one measured best, if installed; see "
        "docs/ENCODERS.md)")
    effort: str | None = _setting(
        None, "encode time against bytes: fast, default or best (webp method 4/6/6, avif speed 8/6/4, jpegxl "
        "effort 3/7/9; jpeg has one speed)")
    # Issue #40: perceptual, as cjpeg, cjxl and jpegli default to; docs/DECISIONS.md has the measurement.
    tune: str = _setting(
        codecs.TUNES[0], "what the encoder's choices aim at: perceptual, what people see (SSIMULACRA2; jpeg codes "
        "with mozjpeg's own defaults), or psnr, the mean squared error, as 0.8 coded (default: {default})",
        pillow=True)
    pre_model: object = _setting(None, "your own pre-processing .keras model (ComCNN contract)")
    post_model: object = _setting(None, "your own restoration .keras model to record in the file")
    # Issue #23: the rate-aware pre-editor missed its target (-4% BD-rate against
    # post-only; on 0.6.2's networks it was worth 0.3-0.4% on val-small/ and val/
    # for 1.6 times the encode time), so --scale auto tries it only when asked.
    pre_edit: bool = _setting(
        False, "--scale auto also tries the learned pre-editor before the codec, where the encoder has one "
        "(jpeg): 0.3% fewer bytes on val-small for 1.6 times the encode time; {default} by default, docs/MODELS.md")
    strengths: bool = _setting(
        True, "--scale auto without the restoration's strength per tile (a version-3 file, which hybridcodec 0.6 "
        "reads; docs/FORMAT.md)")
    precision: str = _setting(
        PRECISIONS[0], "the restoration network's arithmetic: {default} (default; about 3 times faster to decode "
        "on a CPU with VNNI or AMX, a few hundredths of a dB) or float32 (the exact network); the file names the "
        "one chosen (docs/ROBUSTNESS.md)", pillow=True)
    decoder: str = _setting(
        DECODERS[0], "the restoration network the file names: {default} (default) or light, a network of at most about "
        "30 kMAC per pixel for pages and CPUs without VNNI, where one ships (each codec's full-size path, jpeg "
        "under the perceptual tune; elsewhere the full one, with a warning; docs/DECISIONS.md)", pillow=True)
    keep_metadata: bool = _setting(False, "keep EXIF metadata (the ICC profile is always kept)", api=False)
    native: bool = _setting(
        False, "write a standard .jpg/.webp/.avif/.jxl that any viewer opens, with the hybridcodec header inside "
        "(default output: IN.hc.EXT; scale 1 unless --scale is given)", pillow=True)
    target_size: str | None = _setting(
        None, "best file not over this size (e.g. 30KB); searches quality and scale", api=False)
    target_bpp: float | None = _setting(None, "best file not over this many bits per pixel", api=False)
    target_psnr: float | None = _setting(
        None, "smallest file whose restored image reaches this PSNR (dB)", api=False)
    search: bool = _setting(
        False, "--scale auto widened: every scale at every codec quality on this image, best restoration within "
        "the full-size file's bytes at --quality (about 21 encodes, auto 2-4)", api=False)
    max_pixels: int = _setting(DEFAULT_MAX_PIXELS, "refuse larger images (default: 2^{default})")
    # What the file stores as it is: the image's own, set per file (files.py reads them from the image).
    icc: bytes = _setting(b"", "ICC profile stored in the file as it is")
    metadata: bytes = _setting(b"", "EXIF block stored in the file as it is")
    # the names a caller gave (``of``): compress's checks tell "--quality 50" from no --quality
    given: frozenset = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def of(cls, **options) -> EncodeSettings:
        """Settings from keywords, as callers have them: a None is "not given"
        (the default). An unknown name is a TypeError, as for a function."""
        given = {name: value for name, value in options.items() if value is not None}
        unknown = sorted(set(given) - set(names()))
        if unknown:
            raise TypeError(f"unknown encode setting(s): {', '.join(unknown)}")
        return cls(**given, given=frozenset(given))

    def but(self, **changes) -> EncodeSettings:
        """A copy with ``changes`` (rate control's trial qualities and scales, a decision's encoder)."""
        return replace(self, **changes)

    def named_codec(self) -> str | None:
        """The codec the caller named, None where the output's name may choose (files.compress_target)."""
        return self.codec if "codec" in self.given else None

    def backend(self) -> codecs.Codec:
        """The codec backend with this encoder (else the tune's) and effort; HybridCodecError if it has none such."""
        return codecs.get_codec(self.codec).tuned(self.tune, self.encoder, self.effort)

    def checked(self) -> EncodeSettings:
        """These settings if every encode may take them, with quality a plain
        int; else HybridCodecError. In the order the pipeline met them before:
        quality, encoder and effort, scale word, precision."""
        quality = codecs.check_quality(self.quality)
        self.backend()
        if str(self.scale) not in ("auto", "table"):
            try:
                scales.parse(self.scale)
            except ValueError as error:
                raise HybridCodecError(f"{error} (or auto, table)") from None
        if self.decoder not in DECODERS:
            raise HybridCodecError(f"unknown decoder {self.decoder!r}: one of {', '.join(DECODERS)}")
        if self.precision not in PRECISIONS:
            raise HybridCodecError(f"unknown precision {self.precision!r}: one of {', '.join(PRECISIONS)}")
        return self if quality is self.quality else replace(self, quality=quality)

    def check_request(self) -> None:
        """compress's own rules (the command line, as wrong usage, and
        files.compress_file): a lossless codec takes no quality or scale, and
        one target or --search at a time."""
        if not codecs.by_name(self.codec).lossy and ("quality" in self.given
                                                     or str(self.scale) not in ("auto", "table", "1")):
            raise HybridCodecError(f"{self.codec} is lossless: --quality and --scale do not apply")
        targets = [f"--{name.replace('_', '-')}" for name in ("target_size", "target_bpp", "target_psnr", "search")
                   if getattr(self, name)]
        if len(targets) > 1:
            raise HybridCodecError(f"{' and '.join(targets)} do not go together")


def names(api_only: bool = False, pillow_only: bool = False) -> list[str]:
    """The settings' names (not ``given``); ``api_only``: those ``hybridcodec.compress``
    takes; ``pillow_only``: those ``Image.save`` takes."""
    return [f.name for f in fields(EncodeSettings) if "help" in f.metadata
            and (f.metadata["api"] or not api_only) and (f.metadata["pillow"] or not pillow_only)]


def default(name: str):
    """A setting's default."""
    return next(f.default for f in fields(EncodeSettings) if f.name == name)


def shown_default(name: str) -> str:
    """A setting's default as ``--help`` words it: on/off for a switch, a power of two as 2^N."""
    value = default(name)
    if isinstance(value, bool):
        return "on" if value else "off"
    if name == "max_pixels":
        return str(value.bit_length() - 1)
    return str(value)


def help_text(name: str) -> str:
    """A setting's ``--help`` text, its default filled in."""
    text = next(f.metadata["help"] for f in fields(EncodeSettings) if f.name == name)
    return text.replace("{default}", shown_default(name))
