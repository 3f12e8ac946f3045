"""The ``.hc`` file: a small header, the codec's payload, optional alpha, ICC, metadata and strength parts.

The byte layout is specified in docs/FORMAT.md; this module is its only
reader and writer. It imports neither TensorFlow nor imagecodecs, so
``hybridcodec info`` is instant. Codec and scale bytes come from their own
homes, codecs.py and scale.py.
"""

from __future__ import annotations

import contextlib
import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import codecs
from . import scale as scales
from .errors import HybridCodecError, printable
from .scale import Scale

MAGIC = b"\x89HCODEC\n"  # 8 bytes; the high first byte and newline catch text-mode mangling
VERSION = 3  # what this writer writes where a file has no strength part (hybridcodec 0.6 reads it)
STRENGTHS_VERSION = 4  # what it writes where a file has one (strength.py); the newest version
MAX_SIDE = 65535  # largest width or height a file may declare (16 bits in version 2)
# ~67 megapixels (8192x8192); decompression-bomb guard, raisable per call. Within it
# decompress peaks under 2 GB: 1.45 GB measured for the worst kind of file at this
# size (docs/ROBUSTNESS.md, Limits); 2**28 would have allowed about 6 GB.
DEFAULT_MAX_PIXELS = 2**26
ROLES = {0: "pre", 1: "post"}
# The codec byte is each codec's ``codec_id`` (codecs.py), the scale byte each
# scale's ``file_id`` (scale.py); neither is ever reused.

# Version 2 spends 15 fewer bytes a file than version 1: 16-bit sides, and
# lengths only for the optional parts that are present. (Its encoder also
# leaves out the names of shipped models, which the zoo knows by their hash.)
_FIXED = {1: struct.Struct("<8sBBBBIIBBB"), 2: struct.Struct("<8sBBBBHHBBB")}  # magic .. model count
# Version 3 adds two bytes after the model count: the encoder (each codec's
# ``encoders`` id; 0 is what versions 1 and 2 used) and the effort (``EFFORTS``).
_SETTINGS_V3 = struct.Struct("<BB")
_FIXED[3] = _FIXED[4] = _FIXED[2]
_LENGTHS_V1 = struct.Struct("<IIII")  # payload, alpha, icc, metadata
_PART_LENGTH = struct.Struct("<I")  # from version 2, each optional part's length field
PART_LENGTH_BYTES = _PART_LENGTH.size  # what a part adds to a file besides its bytes (strength.overhead)
OPTIONAL = ("alpha", "icc", "metadata", "strengths")  # bit k of the flags byte says OPTIONAL[k] is present
# Version 4 adds the strength part (strength.py: the restoration's strength
# per tile); a file without one is written as version 3, which 0.6 reads.
OPTIONAL_BY_VERSION = {2: 3, VERSION: 3, STRENGTHS_VERSION: 4}  # how many of OPTIONAL a version knows
# The strength part: one byte k (tiles of 2**k pixels a side, row-major over
# the image), then a 2-bit code a tile, four to a byte, lowest bits first.
# strength.py chooses and applies it.
STRENGTHS = (0.0, 0.5, 1.0, 1.5)  # code 0..3
WHOLE_IMAGE_LOG2 = 16  # one tile covers any image (sides up to 65535)


@dataclass(frozen=True)
class ModelRef:
    """A network needed to decode: its role, name and the SHA-256 of its weights."""

    role: str  # "pre" or "post"
    name: str  # for messages only; "" when the file does not say and the zoo does not know it
    sha256: str  # 64 hex digits


@dataclass
class Header:
    codec: str
    quality: int
    width: int
    height: int
    channels: int  # 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
    scale: Scale = scales.FULL
    bits: int = 8  # bits per sample of the original (16-bit inputs are coded at 8)
    models: list[ModelRef] = field(default_factory=list)
    encoder: str = ""  # the codec's encoder that wrote the payload; "": its first (versions 1 and 2)
    effort: str = "default"

    def __post_init__(self):
        with contextlib.suppress(ValueError):  # 1, "4/3", 2 become their Scale; pack refuses the rest
            self.scale = scales.parse(self.scale)
        with contextlib.suppress(HybridCodecError):  # an unknown codec: pack refuses it
            self.encoder = self.encoder or codecs.by_name(self.codec).first_encoder

    def model(self, role: str) -> ModelRef | None:
        return next((m for m in self.models if m.role == role), None)


@dataclass
class HCFile:
    header: Header
    payload: bytes
    alpha: bytes = b""  # PNG-coded alpha plane at full size, or empty
    icc: bytes = b""
    metadata: bytes = b""  # EXIF, only with --keep-metadata
    strengths: bytes = b""  # the restoration's strength per tile (strength.py), or empty


def sniff(data: bytes) -> bool:
    """True if ``data`` (at least its first 9 bytes) starts like a ``.hc`` file."""
    return data[:8] == MAGIC


def pack(hc: HCFile) -> bytes:
    h = hc.header
    codec_id = codecs.by_name(h.codec).codec_id
    if not isinstance(h.scale, Scale):
        raise HybridCodecError(f"unsupported scale {h.scale!r}")
    scale_id = h.scale.file_id
    check_dimensions(h.width, h.height)
    codec = codecs.by_name(h.codec)
    encoder = codec.encoders.get(h.encoder)
    encoder_id = (encoder.file_id if encoder else None) if h.encoder else 0
    if encoder_id is None or h.effort not in codecs.Codec.EFFORTS:
        raise HybridCodecError(f"unknown {h.codec} encoder {h.encoder!r} or effort {h.effort!r}")
    if hc.strengths and h.model("post") is None:
        raise HybridCodecError("a strength part needs a restoration network")
    version = STRENGTHS_VERSION if hc.strengths else VERSION
    parts = [
        _FIXED[version].pack(MAGIC, version, codec_id, h.quality, scale_id, h.width, h.height,
                             h.channels, h.bits, len(h.models)),
        _SETTINGS_V3.pack(encoder_id, codecs.Codec.EFFORTS[h.effort]),
    ]
    role_ids = {name: i for i, name in ROLES.items()}
    for ref in h.models:
        name = ref.name.encode("utf-8")
        if len(name) > 255:
            raise HybridCodecError(f"model name too long: {ref.name!r}")
        parts.append(bytes([role_ids[ref.role], len(name)]) + name + bytes.fromhex(ref.sha256))
    optional = [getattr(hc, name) for name in OPTIONAL]
    flags = sum(1 << k for k, part in enumerate(optional) if part)
    parts.append(struct.pack("<BI", flags, len(hc.payload)))
    parts += [_PART_LENGTH.pack(len(part)) for part in optional if part]
    parts += [hc.payload, *optional]
    body = b"".join(parts)
    return body + struct.pack("<I", zlib.crc32(body))


def check_dimensions(width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise HybridCodecError(f"image size {width}x{height} is outside 1..{MAX_SIDE} pixels a side")
    if width * height > max_pixels:
        raise HybridCodecError(
            f"image of {width}x{height} = {width * height} pixels exceeds the limit of {max_pixels} "
            "(raise it with --max-pixels)"
        )


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise HybridCodecError(
                f"truncated file: needs at least {self.pos + n} bytes, has {len(self.data)}"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def unpack(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> HCFile:
    """Parse and check a ``.hc`` file. Raises HybridCodecError with a one-line reason."""
    data = bytes(data)
    if len(data) >= 8 and not sniff(data):
        raise HybridCodecError("not a hybridcodec file (wrong magic bytes)")
    reader = _Reader(data)
    magic, version = reader.take(9)[:8], data[8]
    if magic != MAGIC:  # shorter than 8 bytes
        raise HybridCodecError("not a hybridcodec file (wrong magic bytes)")
    if version not in _FIXED:
        raise HybridCodecError(f"unsupported .hc format version {version} (this reader knows 1 to "
                               f"{STRENGTHS_VERSION})")
    reader.pos = 0
    (_, _, codec_id, quality, scale_id, width, height, channels, bits, count) = _FIXED[version].unpack(
        reader.take(_FIXED[version].size)
    )
    encoder_id, effort_id = _SETTINGS_V3.unpack(reader.take(_SETTINGS_V3.size)) if version >= 3 else (0, 1)
    models = []
    for _ in range(count):
        role_id, name_length = reader.take(2)
        # The name is shown to the user only (the hash identifies the model): kept printable
        name = printable(reader.take(name_length).decode("utf-8", errors="replace"))
        sha = reader.take(32).hex()
        if role_id not in ROLES:
            raise HybridCodecError(f"unknown model role {role_id} in file")
        models.append(ModelRef(ROLES[role_id], name, sha))
    if version == 1:
        lengths = list(_LENGTHS_V1.unpack(reader.take(_LENGTHS_V1.size)))
    else:
        flags, payload_length = struct.unpack("<BI", reader.take(5))
        known = OPTIONAL_BY_VERSION[version]
        if flags >> known:
            raise HybridCodecError(f"invalid header: unknown flags {flags:#04x}")
        lengths = [payload_length] + [
            _PART_LENGTH.unpack(reader.take(PART_LENGTH_BYTES))[0] if flags & (1 << k) else 0 for k in range(known)
        ]
    lengths += [0] * (1 + len(OPTIONAL) - len(lengths))
    payload, alpha, icc, metadata, strengths = (reader.take(n) for n in lengths)
    body_end = reader.pos
    (crc,) = struct.unpack("<I", reader.take(4))
    if reader.pos != len(data):
        raise HybridCodecError(f"{len(data) - reader.pos} unexpected bytes after the end of the file")
    if zlib.crc32(data[:body_end]) != crc:
        raise HybridCodecError("CRC mismatch: the file is corrupt")
    check_dimensions(width, height, max_pixels)
    backend = codecs.codec_by_id(codec_id)
    codec = backend.name
    encoder = backend.encoder_by_id(encoder_id)
    effort = next((n for n, i in codecs.Codec.EFFORTS.items() if i == effort_id), None)
    if encoder is None or effort is None:
        raise HybridCodecError(f"invalid header: unknown {codec} encoder {encoder_id} or effort {effort_id}")
    scale = scales.by_file_id(scale_id)
    if channels not in (1, 2, 3, 4) or scale is None or bits not in (8, 16):
        raise HybridCodecError(f"invalid header: channels={channels}, scale={scale_id}, bits={bits}")
    if (channels in (2, 4)) != bool(alpha):
        raise HybridCodecError("invalid header: alpha payload does not match the channel count")
    header = Header(codec, quality, width, height, channels, scale, bits, models, encoder, effort)
    if strengths:
        if header.model("post") is None:
            raise HybridCodecError("invalid header: a strength part without a restoration network")
        unpack_strengths(strengths, width, height)  # refuses one that does not fit the image
    return HCFile(header, payload, alpha, icc, metadata, strengths)


def strength_tiles(width: int, height: int, k: int) -> tuple[int, int]:
    """(columns, rows) of the strength part's 2**k-pixel tiles."""
    side = 1 << k
    return math.ceil(width / side), math.ceil(height / side)


def pack_strengths(codes, k: int) -> bytes:
    """The strength part for ``codes`` (one per tile, row-major) of 2**k-pixel tiles."""
    data = bytearray([k]) + bytearray(math.ceil(len(codes) / 4))
    for i, code in enumerate(codes):
        data[1 + i // 4] |= int(code) << (2 * (i % 4))
    return bytes(data)


def unpack_strengths(part: bytes, width: int, height: int) -> tuple[int, np.ndarray]:
    """(k, the (rows, columns) array of codes) of a strength part; refuses
    one whose length does not fit the image in one line."""
    if not part or not 4 <= part[0] <= WHOLE_IMAGE_LOG2:
        raise HybridCodecError("invalid strength part: tile size byte outside 4..16")
    k = part[0]
    columns, rows = strength_tiles(width, height, k)
    if len(part) != 1 + math.ceil(rows * columns / 4):
        raise HybridCodecError(f"invalid strength part: {len(part)} bytes for {rows * columns} tiles")
    bits = np.frombuffer(part[1:], np.uint8)
    codes = (bits[:, None] >> np.array([0, 2, 4, 6], np.uint8)) & 3
    return k, codes.reshape(-1)[: rows * columns].reshape(rows, columns)


def _strength_line(hc: HCFile) -> str:
    """``info``'s line for the strength part."""
    if hc.header.model("post") is None:
        return "none (no restoration network)"
    if not hc.strengths:
        return "1 (as restored)"
    k, codes = unpack_strengths(hc.strengths, hc.header.width, hc.header.height)
    if codes.size == 1:
        return f"{STRENGTHS[int(codes[0, 0])]:g} (whole image)"
    counts = np.bincount(codes.reshape(-1), minlength=len(STRENGTHS))
    spread = ", ".join(f"{s:g} x{n}" for s, n in zip(STRENGTHS, counts, strict=True) if n)
    return f"per {1 << k}-pixel tile: {spread}"


def _tune_line(h: Header) -> str:
    """``info``'s tune: the file does not record it (a decoder needs it not),
    so it is the tune whose encoder wrote the payload, where the tunes'
    encoders differ (JPEG: codecs.JPEG.tune_encoders)."""
    codec = codecs.by_name(h.codec)
    own = [tune for tune in codecs.TUNES if codec.tune_encoders.get(tune, codec.encoder) == h.encoder]
    if len(own) == 1:
        return f"{own[0]} (its encoder, {h.encoder})"
    if own:
        return f"not recorded (both tunes code with {h.encoder}; the decoder needs none)"
    return f"not recorded ({h.encoder} is no tune's own encoder; the decoder needs none)"


def describe(hc: HCFile, size: int | None = None) -> dict:
    """What ``hybridcodec info`` prints: the header and the decoding path."""
    h = hc.header
    pre, post = h.model("pre"), h.model("post")
    pixels = h.width * h.height
    total = size if size is not None else len(pack(hc))
    return {
        "codec": h.codec,
        "encoder": f"{h.encoder}, effort {h.effort}",
        "tune": _tune_line(h),
        "quality": h.quality,
        "width": h.width,
        "height": h.height,
        "channels": h.channels,
        "original_bits": h.bits,
        "scale": h.scale.label,
        "pre": f"network {pre.name or '(not installed)'} (sha256 {pre.sha256[:12]})" if pre else
               ("none" if h.scale.is_full else "area downscale (classical)"),
        "post": f"network {post.name or '(not installed)'} (sha256 {post.sha256[:12]})" if post else
                ("none" if h.scale.is_full else "bicubic upscale (classical)"),
        "payload_bytes": len(hc.payload),
        "alpha_bytes": len(hc.alpha),
        "icc_bytes": len(hc.icc),
        "metadata_bytes": len(hc.metadata),
        "strength": _strength_line(hc),
        "file_bytes": total,
        "bpp": round(8 * total / pixels, 4),
    }
