"""Crops at about 0.25 bpp of each codec's old and new encoder settings, side by
side, for docs/ENCODERS.md: a PSNR-tuned setting can look worse, so look.

    python scripts/encoder_crops.py ../shared/data/choose/034.png
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from hybridcodec import codecs
from hybridcodec.images import read_rgb
from hybridcodec.metrics import psnr

PAIRS = {"jpeg": [("turbo", "default"), ("mozjpeg-flat", "default"), ("mozjpeg", "default")],
         "avif": [("libavif", "default"), ("libavif-psnr", "default")]}
TARGET_BPP = 0.25


def at_bpp(backend, image, target):
    """The file nearest ``target`` bpp (bisection over quality)."""
    h, w = image.shape[:2]
    best = None
    for q in range(2, 99, 3):
        data = backend.encode(image, q)
        if best is None or abs(8 * len(data) / (h * w) - target) < abs(8 * len(best[1]) / (h * w) - target):
            best = (q, data)
    return best


def main(path, out="docs/img"):
    image = read_rgb(path)
    h, w = image.shape[:2]
    crop = (slice(h // 2 - 128, h // 2 + 128), slice(w // 2 - 192, w // 2 + 192))
    for codec, pairs in PAIRS.items():
        tiles = [image[crop]]
        labels = ["original"]
        for encoder, effort in pairs:
            backend = codecs.get_codec(codec).configured(encoder, effort)
            q, data = at_bpp(backend, image, TARGET_BPP)
            decoded = backend.decode(data)
            tiles.append(decoded[crop])
            labels.append(f"{encoder} q{q}: {8 * len(data) / (h * w):.3f} bpp, {psnr(image, decoded):.2f} dB")
        canvas = Image.fromarray(np.concatenate(tiles, axis=1))
        draw = ImageDraw.Draw(canvas)
        for k, label in enumerate(labels):
            draw.text((k * 384 + 4, 4), label, fill=(255, 255, 0))
        canvas.save(Path(out) / f"encoder-crops-{codec}.png")
        print(codec, labels)


if __name__ == "__main__":
    main(*sys.argv[1:])
