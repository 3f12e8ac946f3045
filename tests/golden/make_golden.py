"""Write the golden .hc files and their expected decodes. Run by hand, once per
new case: the files already here must keep decoding the same forever.

    python tests/golden/make_golden.py NAME...
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

import hybridcodec

HERE = Path(__file__).parent


def cases():
    photo = np.ascontiguousarray(data.astronaut()[100:196, 150:278])
    alpha = np.tile(np.linspace(0, 255, 128, dtype=np.uint8), (96, 1))
    return {
        "jpeg-q20-classical-half": (photo, dict(codec="jpeg", quality=20, scale=2)),
        "webp-q50-rgba": (np.dstack([photo, alpha]), dict(codec="webp", quality=50, scale=1)),
        "avif-q60-gray-odd": (photo[:95, :127, 1], dict(codec="avif", quality=60, scale=1)),
        "png-lossless": (photo[:31, :17], dict(codec="png")),
        # format version 2, scale 4/3 (no WebP network serves 4/3)
        "webp-q40-classical-three-quarter": (photo[:, :127], dict(codec="webp", quality=40, scale="4/3")),
        # network paths: these pin the shipped models' weights by hash
        "jpeg-q10-reccnn-jpeg-s2": (photo, dict(codec="jpeg", quality=10)),
        "jpeg-q40-reccnn-jpeg-s1": (photo, dict(codec="jpeg", quality=40)),
        "jpeg-q12-reccnn-jpeg-s43-d16": (photo, dict(codec="jpeg", quality=12)),  # scale 4/3
        # format version 3: encoder and effort recorded; the jpeg-tables contract
        "jpeg-q30-mozjpeg-tables": (photo, dict(codec="jpeg", quality=30, scale=1, encoder="mozjpeg-flat")),
        "avif-q40-libavif-psnr-fast": (photo, dict(codec="avif", quality=40, scale=1, encoder="libavif-psnr",
                                                   effort="fast")),
        # an int8 twin (the default precision since 0.6): pinned to within a level on every CPU
        "jpeg-q30-mozjpeg-int8": (photo, dict(codec="jpeg", quality=30, scale=1, encoder="mozjpeg-flat")),
        # 0.7's default JPEG encoder (id 2, finer chroma steps) and its 20x32 twin
        "jpeg-q30-mozjpeg-chroma-int8": (photo, dict(codec="jpeg", quality=30, scale=1, encoder="mozjpeg")),
        # format version 4: a strength part, every code on one of the 2 x 2 tiles of 64 pixels
        "webp-q40-strengths": (photo, dict(codec="webp", quality=40, scale=1)),
    }


# Parts the encoder would choose only on some photos: set by hand here.
STRENGTHS = {"webp-q40-strengths": (6, [0, 1, 2, 3])}


def main(names):
    for name, (image, options) in cases().items():
        if name not in names:
            continue
        blob = hybridcodec.compress(image, **options)
        if name in STRENGTHS:
            from dataclasses import replace

            from hybridcodec import container, strength

            k, codes = STRENGTHS[name]
            blob = container.pack(replace(container.unpack(blob), strengths=strength.pack(codes, k)))
        (HERE / f"{name}.hc").write_bytes(blob)
        Image.fromarray(hybridcodec.decompress(blob)).save(HERE / f"{name}.expected.png")
        print(name, len(blob), "bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
