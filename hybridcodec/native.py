"""Native files: where each standard format keeps application data, at the byte level.

A native file is a standard .jpg, .webp, .avif or .jxl that every viewer
opens, with the hybridcodec header inside. The header travels as a complete
``.hc`` file with an empty payload (magic, version, fields, CRC: see
docs/FORMAT.md), wrapped per format:

* JPEG: an APP11 segment right after SOI, ``FF EB``, length, ``HYBRIDCODEC\\0``, header.
* WebP: a ``HYBC`` RIFF chunk after the image data; a simple (VP8-only) file
  becomes an extended one (a VP8X chunk first), as the WebP container
  specification requires for any extra chunk.
* AVIF: a top-level ``uuid`` box appended after everything else, so no offset
  in the file changes; ISOBMFF readers skip unknown boxes.
* JPEG XL: the codestream is wrapped in the ISO BMFF container (signature,
  ``ftyp``, ``jxlc``) and a ``hybc`` box follows; decoders skip unknown boxes.

This module knows bytes only; which codec uses which wrapper is said by the
codec classes in codecs.py (``sniff``, ``embed``, ``find_header``). The
``*_find`` functions raise struct.error, IndexError or ValueError on damaged
metadata; codecs.extract_native treats that as "no header". The ``*_size``
functions read the size a file declares, and nothing else, before any
decoder runs (``Codec.declared_size``); JPEG's markers and AVIF's boxes are
read by Pillow's parsers (libavif's for AVIF), the rest here.
"""

from __future__ import annotations

import struct

from .errors import HybridCodecError

JPEG_APP_ID = b"HYBRIDCODEC\x00"
WEBP_CHUNK = b"HYBC"
AVIF_UUID = bytes.fromhex("6879627269646364ec0d4a1f8e0a0001")  # "hybridcd" + random tail
JXL_BOX = b"hybc"
JXL_SIGNATURE = bytes.fromhex("0000000c4a584c200d0a870a")



# -- JPEG ---------------------------------------------------------------------


def jpeg_embed(payload, header, width, height):
    body = JPEG_APP_ID + header
    if len(body) + 2 > 0xFFFF:
        raise HybridCodecError("header too large for a JPEG APP segment (ICC profile over 64 KB?)")
    return payload[:2] + b"\xff\xeb" + struct.pack(">H", len(body) + 2) + body + payload[2:]


def jpeg_segments(data):
    """(marker, segment body) for each marker segment before the scan data."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte: any marker may be preceded by several
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:  # malformed: a length counts its own two bytes
            return
        yield marker, data[pos + 4 : pos + 2 + length]
        pos += 2 + length


def jpeg_find(data):
    for marker, body in jpeg_segments(data):
        if marker == 0xEB and body.startswith(JPEG_APP_ID):
            return body[len(JPEG_APP_ID) :]
    return None


def jpeg_frame(data: bytes):
    """Pillow's reading of a JPEG's markers up to the first scan, nothing
    decoded (a ``JpegImageFile``: ``size``, ``layer``, one (id, horizontal
    and vertical sampling, table id) per component, ``quantization``, the
    tables by id in natural order). Pillow finds DQT segments wherever they
    are before the scan, skips fill bytes and junk between segments as
    libjpeg does, and reads only the first image of an MPO. Raises
    ValueError with Pillow's reason where it finds no frame header."""
    import io

    from PIL import JpegImagePlugin

    try:  # the class itself, not Image.open: no decompression-bomb check (ours comes after)
        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    except Exception as error:  # SyntaxError, OSError, struct.error, ... on damaged markers
        raise ValueError(str(error).splitlines()[0] if str(error) else type(error).__name__) from None


def jpeg_tables(data: bytes) -> dict | None:
    """What a JPEG's decoder is told about its coding, from the markers before
    the first scan: ``luma`` and ``chroma``, the quantization tables of the
    first and second components (64 values each, natural row-major order; a
    gray file's chroma is its luma), and ``subsampling``, how many luma
    samples each chroma sample spans (horizontal, vertical: (2, 2) is 4:2:0).
    None if the file has no frame header or names a table it does not hold."""
    try:
        frame = jpeg_frame(data)
    except ValueError:
        return None
    components, tables = frame.layer, frame.quantization
    if not components or any(table_id not in tables for *_, table_id in components[:2]):
        return None
    _, luma_h, luma_v, luma_table = components[0]
    _, chroma_h, chroma_v, chroma_table = components[min(1, len(components) - 1)]
    if chroma_h == 0 or chroma_v == 0:
        return None
    subsampling = (luma_h // chroma_h, luma_v // chroma_v)
    return {"luma": list(tables[luma_table]), "chroma": list(tables[chroma_table]), "subsampling": subsampling}


def jpeg_luma_table(data: bytes) -> list[int] | None:
    """The luminance quantization table of a JPEG (natural order); None if none."""
    tables = jpeg_tables(data)
    return None if tables is None else tables["luma"]


# -- WebP ---------------------------------------------------------------------


def _riff_chunks(data):
    pos = 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        yield kind, data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)


def _chunk(kind, body):
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def webp_embed(payload, header, width, height):
    chunks = list(_riff_chunks(payload))
    if chunks[0][0] != b"VP8X":
        vp8x = struct.pack("<I", 0) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", vp8x))
    body = b"WEBP" + b"".join(_chunk(k, b) for k, b in chunks) + _chunk(WEBP_CHUNK, header)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_find(data):
    for kind, body in _riff_chunks(data):
        if kind == WEBP_CHUNK:
            return body
    return None


# -- ISO BMFF: AVIF and JPEG XL -------------------------------------------------


def _boxes(data, start=0):
    pos = start
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = len(data) - pos
        if size < header:
            raise ValueError("bad box size")
        yield kind, data[pos + header : pos + size]
        pos += size


def _box(kind, body):
    return struct.pack(">I4s", len(body) + 8, kind) + body


def avif_embed(payload, header, width, height):
    return payload + _box(b"uuid", AVIF_UUID + header)


def avif_find(data):
    for kind, body in _boxes(data):
        if kind == b"uuid" and body[:16] == AVIF_UUID:
            return body[16:]
    return None


def jxl_embed(payload, header, width, height):
    if not payload.startswith(JXL_SIGNATURE):
        ftyp = _box(b"ftyp", b"jxl " + struct.pack(">I", 0) + b"jxl ")
        payload = JXL_SIGNATURE + ftyp + _box(b"jxlc", payload)
    return payload + _box(JXL_BOX, header)


def jxl_find(data):
    if not data.startswith(JXL_SIGNATURE):
        return None  # a bare codestream has nowhere to keep a header
    for kind, body in _boxes(data):
        if kind == JXL_BOX:
            return body
    return None


# -- The size a file declares ---------------------------------------------------
# Each reader returns (width, height) from the file's own header, reading no
# pixel data, and raises ValueError (or struct.error, IndexError) where there
# is none, or where it declares what hybridcodec does not decode (an
# animation, a CMYK JPEG). The size is checked before any decoder runs: a
# 631-byte JPEG declaring 60000x60000 made libjpeg-turbo take 10 GB before
# the check that then ran after decoding (issue #38), and an AVIF whose
# ``ispe`` box says 16000x16000 over a 16x16 picture decodes to a 768 MB array.


# libjpeg-turbo passes over every block of the image once a scan, data or
# not: 10,000 empty 10-byte scans in a 125 KB progressive JPEG of 2048x2048
# took 36 s (0.2 s without them). Encoders write 3-10 scans (libjpeg's and
# mozjpeg's progressive mode 10, baseline 1, non-interleaved 3); libjpeg-turbo's
# own fuzzers stop at 500, djpeg's -maxscans is the same guard.
JPEG_MAX_SCANS = 100


def jpeg_size(data: bytes) -> tuple[int, int]:
    """The size in a JPEG's frame header (``jpeg_frame``); gray or YCbCr only
    (libjpeg-turbo hands a CMYK file's four channels back unconverted), and at
    most ``JPEG_MAX_SCANS`` scans, so decoding takes time in proportion to the
    size. Start-of-scan markers are counted after the first (where Pillow
    stopped reading; entropy-coded data never holds FF DA, an ICC profile
    before it may) up to the first end-of-image marker: data after it (a
    Motion Photo's MP4, an MPO's second image) is not decoded, and random
    bytes hold FF DA once in 64 KB (an 8 MB tail: 120 "scans")."""
    frame = jpeg_frame(data)
    if frame.layers not in (1, 3):
        raise ValueError(f"a {frame.mode} JPEG ({frame.layers} components): only gray and colour ones decode")
    start = frame.fp.tell()
    end = data.find(b"\xff\xd9", start)
    scans = 1 + data.count(b"\xff\xda", start, end if end >= 0 else len(data))
    if scans > JPEG_MAX_SCANS:
        raise ValueError(f"{scans} scans, more than the {JPEG_MAX_SCANS} a JPEG is allowed here")
    return frame.size


def png_size(data: bytes) -> tuple[int, int]:
    """The size in a PNG's IHDR chunk, which the format puts first."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        raise ValueError("no PNG header")
    return struct.unpack(">II", data[16:24])


def webp_size(data: bytes) -> tuple[int, int]:
    """The size of a still WebP's VP8 or VP8L bitstream, which must equal
    the VP8X canvas where there is one (libwebp demands that of a still
    image). An animation is refused: ``webp_decode`` would hand its first
    frame back. Read here, not by Pillow: its WebP plugin sets up libwebp's
    animation decoder, which reserves the canvas twice (1.1 GB of address
    space for an animation whose VP8X says 12001x12001, untouched but
    refused under ``ulimit -v``)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    canvas = None
    for kind, body in _riff_chunks(data):
        if kind == b"VP8X" and len(body) >= 10:
            if body[0] & 2:  # the animation flag
                raise ValueError("an animated WebP: hybridcodec decodes still images")
            canvas = (1 + int.from_bytes(body[4:7], "little"), 1 + int.from_bytes(body[7:10], "little"))
        elif kind in (b"ANIM", b"ANMF"):
            raise ValueError("an animated WebP: hybridcodec decodes still images")
        elif kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":  # a key frame's start code
            width, height = struct.unpack("<HH", body[6:10])
            size = (width & 0x3FFF, height & 0x3FFF)  # the top 2 bits are upscaling hints
            break
        elif kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
            bits = int.from_bytes(body[1:5], "little")
            size = ((bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1)
            break
    else:
        raise ValueError("no VP8 or VP8L image data")
    if canvas is not None and canvas != size:
        raise ValueError(f"its canvas is {canvas[0]}x{canvas[1]} but its image {size[0]}x{size[1]}")
    return size


def avif_size(data: bytes) -> tuple[int, int]:
    """The primary image's ``ispe`` size, as libavif parses it (Pillow's
    AVIF plugin: a parse, nothing decoded). An image sequence is refused:
    imagecodecs decodes every frame into one array (and crashed with
    ``index=0``)."""
    import io

    from PIL import AvifImagePlugin

    if not AvifImagePlugin.SUPPORTED:
        raise ValueError("reading its size needs Pillow with AVIF support")
    try:
        image = AvifImagePlugin.AvifImageFile(io.BytesIO(data))
    except Exception as error:  # SyntaxError, ValueError, OSError: libavif's parse failed
        raise ValueError(str(error).splitlines()[0] if str(error) else type(error).__name__) from None
    if image.n_frames != 1:
        raise ValueError(f"an image sequence of {image.n_frames} frames: hybridcodec decodes still images")
    width, height = image.size
    # The AV1 data has its own size, which libavif decodes whatever ispe says
    # (then crops): a 790-byte file whose ispe said 16x16 over a 6000x6000
    # frame took 3 s. Every AV1 item (the image, a grid's tiles, alpha) must
    # fit in the declared area.
    for frame_width, frame_height in _av1_frame_sizes(data):
        if frame_width * frame_height > width * height:
            raise ValueError(f"its AV1 data is up to {frame_width}x{frame_height}, its header says {width}x{height}")
    return width, height


def _av1_frame_sizes(data: bytes):
    """The largest frame size each ``av01`` item's sequence header allows:
    items from ``iinf``, their first bytes through ``iloc`` (ISO/IEC 14496-12
    8.11.3 and 8.11.6)."""
    meta = next((body for kind, body in _boxes(data) if kind == b"meta"), None)
    if meta is None:
        raise ValueError("no meta box")
    boxes = {}
    for kind, body in _boxes(meta, 4):
        boxes.setdefault(kind, body)
    iinf, iloc = boxes.get(b"iinf"), boxes.get(b"iloc")
    if iinf is None or iloc is None:
        raise ValueError("no item information or locations")
    av1_items = set()
    for kind, infe in _boxes(iinf, 6 if iinf[0] == 0 else 8):
        if kind == b"infe" and infe[0] >= 2:
            id_size = 2 if infe[0] == 2 else 4
            if infe[4 + id_size + 2 : 4 + id_size + 6] == b"av01":
                av1_items.add(int.from_bytes(infe[4 : 4 + id_size], "big"))
    reader = _Fields(iloc, 4)
    version, sizes = iloc[0], reader.take(2)
    offset_size, length_size, base_size = sizes >> 12, sizes >> 8 & 15, sizes >> 4 & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    wide = 4 if version == 2 else 2
    for _ in range(reader.take(wide)):
        item = reader.take(wide)
        method = reader.take(2) & 15 if version in (1, 2) else 0
        reader.take(2)  # data reference index
        base = reader.take(base_size)
        count = reader.take(2)
        if count > 1 and offset_size + length_size + index_size == 0:
            raise ValueError("malformed item locations")
        head = b""
        for _ in range(count):
            reader.take(index_size)
            offset, length = reader.take(offset_size), reader.take(length_size)
            if item in av1_items and len(head) < 64:
                source = data if method == 0 else boxes.get(b"idat", b"")
                start = base + offset
                head += source[start : start + min(length or 64, 64)]
        if item in av1_items:
            yield _av1_max_frame(head)


class _Fields:
    """Big-endian unsigned fields of ``size`` bytes, in order; ValueError past the end."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, size: int) -> int:
        if self.pos + size > len(self.data):
            raise ValueError("truncated item locations")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value


class _MsbBits:
    """AV1's bit reader: most significant bit first."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        if self.pos + n > 8 * len(self.data):
            raise ValueError("truncated AV1 sequence header")
        value = 0
        for _ in range(n):
            value = value << 1 | self.data[self.pos // 8] >> (7 - self.pos % 8) & 1
            self.pos += 1
        return value

    def uvlc(self) -> None:
        zeros = 0
        while not self.read(1):
            zeros += 1
            if zeros >= 32:
                return
        self.read(zeros)


def _av1_max_frame(data: bytes) -> tuple[int, int]:
    """(max_frame_width, max_frame_height) of the sequence header OBU that
    starts an AV1 temporal unit (AV1 specification 5.3 and 5.5)."""
    pos = 0
    while pos < len(data):
        header = data[pos]
        obu_type, extension, has_size = header >> 3 & 15, header >> 2 & 1, header >> 1 & 1
        pos += 1 + extension
        size = len(data) - pos
        if has_size:
            size = shift = 0
            while True:  # leb128
                if pos >= len(data) or shift > 56:
                    raise ValueError("truncated AV1 data")
                size |= (data[pos] & 0x7F) << shift
                pos, shift = pos + 1, shift + 7
                if not data[pos - 1] & 0x80:
                    break
        if obu_type == 1:
            return _sequence_header_size(_MsbBits(data[pos:]))
        pos += size
    raise ValueError("AV1 data without a sequence header")


def _sequence_header_size(bits: _MsbBits) -> tuple[int, int]:
    bits.read(3)  # seq_profile
    bits.read(1)  # still_picture
    if bits.read(1):  # reduced_still_picture_header
        bits.read(5)
    else:
        decoder_model = False
        if bits.read(1):  # timing_info_present_flag
            bits.read(64)
            if bits.read(1):  # equal_picture_interval
                bits.uvlc()
            decoder_model = bits.read(1)
            if decoder_model:
                delay_length = bits.read(5) + 1
                bits.read(32 + 5 + 5)
        display_delay = bits.read(1)
        for _ in range(bits.read(5) + 1):  # operating points
            bits.read(12)
            if bits.read(5) > 7:  # seq_level_idx
                bits.read(1)
            if decoder_model and bits.read(1):
                bits.read(2 * delay_length + 1)
            if display_delay and bits.read(1):
                bits.read(4)
    width_bits, height_bits = bits.read(4) + 1, bits.read(4) + 1
    return bits.read(width_bits) + 1, bits.read(height_bits) + 1


class _Bits:
    """JPEG XL's bit reader: least significant bit first."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos * 8

    def read(self, n: int) -> int:
        if self.pos + n > 8 * len(self.data):
            raise ValueError("truncated JPEG XL header")
        value = int.from_bytes(self.data[self.pos // 8 : (self.pos + n + 7) // 8 + 1], "little")
        value = (value >> self.pos % 8) & ((1 << n) - 1)
        self.pos += n
        return value

    def u32(self, *choices: tuple[int, int]) -> int:
        """The spec's U32: a 2-bit selector, then (offset, bits) of the choice."""
        offset, bits = choices[self.read(2)]
        return offset + self.read(bits)


# JPEG XL's SizeHeader ratios, width / height, by their 3-bit code
_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def _jxl_size_header(bits: _Bits) -> tuple[int, int]:
    small = bits.read(1)

    def side():
        return (bits.read(5) + 1) * 8 if small else bits.u32((1, 9), (1, 13), (1, 18), (1, 30))

    height = side()
    ratio = bits.read(3)
    if ratio == 0:
        return side(), height
    numerator, denominator = _JXL_RATIOS[ratio]
    return height * numerator // denominator, height


def _jxl_skip_preview(bits: _Bits) -> None:
    div8 = bits.read(1)
    sizes = ((16, 0), (32, 0), (1, 5), (33, 9)) if div8 else ((1, 6), (65, 8), (321, 10), (1345, 12))
    bits.u32(*sizes)
    if bits.read(3) == 0:  # no ratio: the width is coded too
        bits.u32(*sizes)


def jxl_size(data: bytes) -> tuple[int, int]:
    """The size in a JPEG XL codestream's SizeHeader (in a bare codestream,
    or in the container's ``jxlc`` or ``jxlp`` boxes), as the decoder hands
    the image back: orientations 5-8 (a transpose) swap the sides, as
    libjxl applies them. An animation is refused (ImageMetadata's flag,
    which comes just after): ``jpegxl_decode`` returns every frame."""
    codestream = data
    if data.startswith(JXL_SIGNATURE):
        parts = []
        for kind, body in _boxes(data):
            if kind == b"jxlc":
                parts = [body]
                break
            if kind == b"jxlp":  # a partial codestream box: a 4-byte index, then its part
                parts.append(body[4:])
        codestream = b"".join(parts)
    if codestream[:2] != b"\xff\x0a":
        raise ValueError("no JPEG XL codestream")
    bits = _Bits(codestream, 2)
    width, height = _jxl_size_header(bits)
    if not bits.read(1) and bits.read(1):  # not all_default, extra_fields
        orientation = 1 + bits.read(3)
        if bits.read(1):  # an intrinsic size
            _jxl_size_header(bits)
        if bits.read(1):  # a preview
            _jxl_skip_preview(bits)
        if bits.read(1):
            raise ValueError("an animated JPEG XL: hybridcodec decodes still images")
        if orientation > 4:
            width, height = height, width
    return width, height
