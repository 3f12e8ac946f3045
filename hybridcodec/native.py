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
metadata; codecs.extract_native treats that as "no header".
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


def jpeg_tables(data: bytes) -> dict | None:
    """What a JPEG's decoder is told about its coding, from the markers before
    the first scan: ``luma`` and ``chroma``, the quantization tables of the
    first and second components (64 values each, natural row-major order; a
    gray file's chroma is its luma), and ``subsampling``, how many luma
    samples each chroma sample spans (horizontal, vertical: (2, 2) is 4:2:0).
    None if the file has no frame header or names a table it does not hold."""
    tables, components = {}, None
    for marker, body in jpeg_segments(data):
        if marker == 0xDB:  # one DQT segment may hold several tables
            pos = 0
            while pos < len(body):
                precision, table_id = body[pos] >> 4, body[pos] & 15
                size = 2 if precision else 1
                values = body[pos + 1 : pos + 1 + 64 * size]
                if len(values) < 64 * size:
                    return None  # truncated table
                zigzagged = [int.from_bytes(values[k * size : (k + 1) * size], "big") for k in range(64)]
                table = [0] * 64
                for k, position in enumerate(zigzag()):
                    table[position] = zigzagged[k]
                tables[table_id] = table
                pos += 1 + 64 * size
        elif marker in (0xC0, 0xC1, 0xC2) and len(body) >= 6:  # baseline, extended, progressive
            count = body[5]
            fields = body[6 : 6 + 3 * count]
            if len(fields) < 3 * count or count == 0:
                return None
            # (sampling byte, table id) per component
            components = [(fields[3 * k + 1], fields[3 * k + 2]) for k in range(count)]
            break
    if not components or any(table_id not in tables for _, table_id in components[:2]):
        return None
    luma_sampling, luma_table = components[0]
    chroma_sampling, chroma_table = components[min(1, len(components) - 1)]
    if chroma_sampling >> 4 == 0 or chroma_sampling & 15 == 0:
        return None
    subsampling = ((luma_sampling >> 4) // (chroma_sampling >> 4), (luma_sampling & 15) // (chroma_sampling & 15))
    return {"luma": tables[luma_table], "chroma": tables[chroma_table], "subsampling": subsampling}


def jpeg_luma_table(data: bytes) -> list[int] | None:
    """The luminance quantization table of a JPEG (natural order); None if none."""
    tables = jpeg_tables(data)
    return None if tables is None else tables["luma"]


def zigzag():
    order = sorted(((x, y) for x in range(8) for y in range(8)),
                   key=lambda p: (p[0] + p[1], -p[1] if (p[0] + p[1]) % 2 else p[1]))
    return [y * 8 + x for x, y in order]


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
