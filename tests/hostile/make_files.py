"""Writes the small hostile and unusual files in this folder (issue #38).

    python tests/hostile/make_files.py

Each is the smallest file that showed one defect of the decoder; the tests in
tests/test_hostile_payloads.py read them. Made with Pillow and imagecodecs,
so a rerun with other library versions may write other bytes; the tests
depend only on what each file is, which the table in README.md says.
"""

import io
import struct
from pathlib import Path

import imagecodecs
import numpy as np
from PIL import Image

from hybridcodec import container

HERE = Path(__file__).parent


def pillow(image, kind, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def hc(codec, payload, width, height, channels=3, alpha=b"") -> bytes:
    return container.pack(container.HCFile(container.Header(codec, 50, width, height, channels), payload, alpha))


def segments_moved(jpeg: bytes) -> bytes:
    """``jpeg`` with its DQT segments moved after the frame header (SOF0)."""
    pos, parts, tables = 2, [], []
    while jpeg[pos + 1] != 0xDA:
        length = struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        segment = jpeg[pos : pos + 2 + length]
        (tables if jpeg[pos + 1] == 0xDB else parts).append(segment)
        if jpeg[pos + 1] == 0xC0:
            parts.append(None)  # the tables go here
        pos += 2 + length
    middle = b"".join(b"".join(tables) if p is None else p for p in parts)
    return jpeg[:2] + middle + jpeg[pos:]


def main():
    rng = np.random.default_rng(38)
    picture = Image.fromarray(rng.integers(0, 256, (24, 32, 3), np.uint8))
    frames = [Image.new("RGB", (16, 16), (60 * k, 90, 30)) for k in range(3)]
    files = {}

    jpeg = bytearray(pillow(Image.new("RGB", (16, 16)), "JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)  # height, width in the frame header
    files["jpeg-declares-60000x60000.jpg"] = bytes(jpeg)
    files["hc-jpeg-declares-60000x60000.hc"] = hc("jpeg", bytes(jpeg), 16, 16)

    files["hc-png-16-bit.hc"] = hc("png", bytes(imagecodecs.png_encode(np.zeros((8, 8, 3), np.uint16))), 8, 8)
    files["hc-png-gray-alpha.hc"] = hc("png", bytes(imagecodecs.png_encode(np.full((8, 8, 2), 200, np.uint8))), 8, 8)
    files["hc-avif-10-bit.hc"] = hc("avif", bytes(imagecodecs.avif_encode(np.full((8, 8, 3), 700, np.uint16),
                                                                         level=50, bitspersample=10)), 8, 8)
    files["hc-jpegxl-16-bit.hc"] = hc("jpegxl", bytes(imagecodecs.jpegxl_encode(np.full((8, 8, 3), 7000, np.uint16),
                                                                               level=50)), 8, 8)
    files["hc-alpha-16-bit.hc"] = hc("png", bytes(imagecodecs.png_encode(np.zeros((8, 8, 3), np.uint8))), 8, 8, 4,
                                     bytes(imagecodecs.png_encode(np.zeros((8, 8), np.uint16))))

    files["avif-sequence.avifs"] = pillow(frames[0], "AVIF", save_all=True, append_images=frames[1:], quality=30)
    files["webp-animated.webp"] = pillow(frames[0], "WEBP", save_all=True, append_images=frames[1:], quality=30)
    files["jpegxl-animated.jxl"] = bytes(imagecodecs.jpegxl_encode(np.stack([np.asarray(f) for f in frames]),
                                                                  level=50, photometric="rgb"))

    plain = pillow(picture, "JPEG", quality=60)
    files["jpeg-tables-after-frame-header.jpg"] = segments_moved(plain)
    sof = plain.index(b"\xff\xc0")
    junk = plain[:sof] + b"\xff\xff\xff" + plain[sof:]  # fill bytes before the frame header
    dht = junk.index(b"\xff\xc4")
    files["jpeg-fill-bytes-and-junk.jpg"] = junk[:dht] + b"junk" + junk[dht:]  # libjpeg warns and skips it
    files["two-images.mpo"] = pillow(picture, "MPO", save_all=True, append_images=[frames[0]], quality=60)
    files["jpeg-cmyk.jpg"] = pillow(picture.convert("CMYK"), "JPEG", quality=60)

    for name, data in files.items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
