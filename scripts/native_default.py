"""Should `compress` write a native file by default? Bytes and PSNR of the
.hc file (--scale auto: the smaller scales allowed) against the native file
(which viewers show at full size, so it is coded at scale 1), at the
qualities where the operating-point table picks a smaller scale.

    python scripts/native_default.py ../shared/data/val-small
"""

import sys

import numpy as np

import hybridcodec
from hybridcodec.images import list_images, read_rgb
from hybridcodec.metrics import bpp, psnr

POINTS = {"jpeg": [5, 10, 15], "webp": [1, 5, 10], "jpegxl": [5, 10, 15]}  # where the table uses scale 2 or 4/3


def main(folder):
    images = [read_rgb(p) for p in list_images(folder)]
    print("| codec | quality | .hc bpp | .hc PSNR | native bpp | native PSNR | native bytes vs .hc |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for codec, qualities in POINTS.items():
        for q in qualities:
            rows = {"hc": [], "native": []}
            for rgb in images:
                h, w = rgb.shape[:2]
                for kind in rows:
                    data = hybridcodec.compress(rgb, codec, q, native=kind == "native")
                    rows[kind].append((bpp(len(data), w, h), psnr(rgb, hybridcodec.decompress(data))))
            hc, nat = (np.mean(rows[k], axis=0) for k in ("hc", "native"))
            print(f"| {codec} | {q} | {hc[0]:.3f} | {hc[1]:.2f} | {nat[0]:.3f} | {nat[1]:.2f} | "
                  f"{100 * (nat[0] / hc[0] - 1):+.0f}% |")


if __name__ == "__main__":
    main(sys.argv[1])
