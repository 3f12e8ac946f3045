"""Crops at equal bytes, per codec: the original, the best plain encoder of
the format by SSIMULACRA2, hybridcodec ``--tune psnr`` and ``--tune
perceptual`` (issue #40, item 6). Each file is the one of its method whose
size is nearest the target bits per pixel (a sweep over quality); every
label carries its bpp, PSNR-RGB and SSIMULACRA2, measured on the whole image.

    python scripts/tune_crops.py ../shared/data/val/045.png --bpp 0.3 0.8 --out docs/img
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import hybridcodec
from hybridcodec import codecs
from hybridcodec.coding import CodingPath
from hybridcodec.images import read_rgb
from hybridcodec.metrics import psnr, ssimulacra2

# The plain encoder each format's user who judges by eye picks (bench's
# best_plain_by_metric on SSIMULACRA2, results/val-small-v080 for JPEG).
BEST_PLAIN = {"jpeg": "mozjpeg-default", "webp": None, "avif": None, "jpegxl": None}
CROP = (256, 384)  # height, width


def plain(codec, encoder):
    backend = codecs.get_codec(codec).configured(encoder)

    def code(image, q):
        data = backend.encode(image, q)
        return data, CodingPath(backend, q).decode(data)

    return code


def hybrid(codec, tune):
    def code(image, q):
        data = hybridcodec.compress(image, codec=codec, quality=q, tune=tune)
        return data, hybridcodec.decompress(data)

    return code


GRID = range(4, 97, 4)


def nearest(code, image, target_bpp):
    """(quality, bytes, decoded) of the file nearest ``target_bpp`` on GRID:
    a bisection for where the size crosses the target (sizes grow with the
    quality), then the nearer of the two files beside it; what a sweep of
    the whole grid finds, in about 6 encodes instead of 24."""
    h, w = image.shape[:2]
    coded = {}

    def at(k):
        if k not in coded:
            coded[k] = (GRID[k], *code(image, GRID[k]))
        return coded[k]

    def bpp(k):
        return 8 * len(at(k)[1]) / (h * w)

    low, high = 0, len(GRID) - 1  # the first grid point at or above the target, by bisection
    while low < high:
        mid = (low + high) // 2
        if bpp(mid) < target_bpp:
            low = mid + 1
        else:
            high = mid
    beside = [k for k in (low - 1, low) if 0 <= k < len(GRID)]
    return at(min(beside, key=lambda k: abs(bpp(k) - target_bpp)))


def busiest_crop(image):
    """The crop window with the most local detail (the mean absolute gradient), on a 64-px grid."""
    gray = image.astype(np.float32).mean(axis=2)
    detail = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1]
    ch, cw = CROP
    windows = [(detail[y : y + ch, x : x + cw].mean(), y, x)
               for y in range(0, gray.shape[0] - ch, 64) for x in range(0, gray.shape[1] - cw, 64)]
    _, y, x = max(windows)
    return slice(y, y + ch), slice(x, x + cw)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--codecs", nargs="+", default=["jpeg", "webp", "avif", "jpegxl"])
    parser.add_argument("--bpp", type=float, nargs="+", default=[0.3, 0.8])
    parser.add_argument("--out", default="docs/img")
    args = parser.parse_args()
    image = read_rgb(args.image)
    h, w = image.shape[:2]
    crop = busiest_crop(image)
    for codec in args.codecs:
        default = codecs.get_codec(codec).tuned("psnr").encoder
        methods = {f"plain {BEST_PLAIN[codec] or default}": plain(codec, BEST_PLAIN[codec]),
                   "--tune psnr": hybrid(codec, "psnr"), "--tune perceptual": hybrid(codec, "perceptual")}
        rows = []
        for target in args.bpp:
            tiles, labels = [image[crop]], ["original"]
            for name, code in methods.items():
                q, data, decoded = nearest(code, image, target)
                tiles.append(decoded[crop])
                labels.append(f"{name} q{q}: {8 * len(data) / (h * w):.2f} bpp, {psnr(image, decoded):.1f} dB, "
                              f"SSIMU2 {ssimulacra2(image, decoded):.1f}")
            row = Image.fromarray(np.concatenate(tiles, axis=1))
            draw = ImageDraw.Draw(row)
            for k, label in enumerate(labels):
                draw.rectangle((k * CROP[1], 0, k * CROP[1] + CROP[1] - 1, 13), fill=(0, 0, 0))
                draw.text((k * CROP[1] + 3, 1), label, fill=(255, 255, 0))
            rows.append(np.asarray(row))
            print(codec, target, labels[1:])
        path = Path(args.out) / f"tune-crops-{codec}.png"
        Image.fromarray(np.concatenate(rows, axis=0)).save(path)
        print("wrote", path)


if __name__ == "__main__":
    main()
