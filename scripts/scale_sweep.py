"""Which coding scale wins at which rate: the classical path (area down, codec,
bicubic up; no network) at several downscale factors, PSNR-RGB interpolated
at fixed bpp over a folder of photos. This is the measurement behind the
4/3 scale (docs/MODELS.md, "A third scale").

    python scripts/scale_sweep.py ../shared/data/val --codec jpeg
"""

import argparse

import cv2
import numpy as np

from hybridcodec import codecs
from hybridcodec.images import list_images, read_rgb
from hybridcodec.metrics import psnr

FACTORS = (1.0, 1.25, 4 / 3, 1.5, 1.6, 2.0)
TARGET_BPP = (0.12, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def curve(images, backend, factor, qualities):
    """Mean (bpp, PSNR) per codec quality at one downscale factor."""
    points = []
    for q in qualities:
        figures = []
        for image in images:
            h, w = image.shape[:2]
            small = image if factor == 1 else cv2.resize(
                image, (round(w / factor), round(h / factor)), interpolation=cv2.INTER_AREA)
            payload = backend.encode(small, q)
            decoded = backend.decode(payload)
            up = decoded if factor == 1 else cv2.resize(decoded, (w, h), interpolation=cv2.INTER_CUBIC)
            figures.append((8 * len(payload) / (w * h), psnr(image, up)))
        points.append(np.mean(figures, axis=0))
    return np.array(points)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--codec", default="jpeg")
    parser.add_argument("--qualities", type=int, nargs="+", default=list(range(10, 80, 5)))
    args = parser.parse_args()
    backend = codecs.get_codec(args.codec)
    images = [read_rgb(p) for p in list_images(args.folder)]
    curves = {f: curve(images, backend, f, args.qualities) for f in FACTORS}
    print("| bpp | " + " | ".join(f"scale {f:.3g}" for f in FACTORS) + " |")
    print("|---|" + "---:|" * len(FACTORS))
    for target in TARGET_BPP:
        cells = []
        for f in FACTORS:
            bpp, db = curves[f][:, 0], curves[f][:, 1]
            inside = bpp[0] <= target <= bpp[-1]
            cells.append(f"{np.interp(np.log(target), np.log(bpp), db):.2f}" if inside else "")
        print(f"| {target} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
