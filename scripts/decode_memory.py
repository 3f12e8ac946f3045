"""Peak memory of decompress per declared pixel (docs/ROBUSTNESS.md, Limits).

    python scripts/decode_memory.py 0.7 2 12 25 67

For each size in megapixels, writes two files and decodes each in a fresh
process, printing its peak RSS (``resource.getrusage``): an RGB JPEG at
scale 1 with its network (the common case), and the worst kind of file, gray
with alpha at scale 4/3 with a strength part, whose decoder holds the
decoded picture, its upscale, the restored and classical images and the
alpha plane at once. Pictures are tiles of scikit-image's astronaut.
"""

import argparse
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import imagecodecs
import numpy as np
from skimage import data

import hybridcodec
from hybridcodec import codecs, container, strength

MEASURE = """
import sys, time
import hybridcodec
from hybridcodec.tools.peak import peak_rss_mb  # not ru_maxrss: that holds the parent's peak
blob = open(sys.argv[1], "rb").read()
start = time.perf_counter()
hybridcodec.decompress(blob, max_pixels=1 << 30)
print(round(time.perf_counter() - start, 1), round(peak_rss_mb()))
"""


def tiles(width: int, height: int, channels: int = 3) -> np.ndarray:
    picture = data.astronaut()[:, :, :channels]
    return np.ascontiguousarray(np.tile(picture, (-(-height // 512), -(-width // 512), 1))[:height, :width])


def files(megapixels: float, folder: Path) -> dict[str, Path]:
    height = int((megapixels * 1e6 * 3 / 4) ** 0.5) // 16 * 16
    width = int(megapixels * 1e6 / height) // 16 * 16
    # a small coded file names the networks; the payloads are libjpeg-turbo's, made directly (fast)
    rgb = container.unpack(hybridcodec.compress(tiles(256, 192), codec="jpeg", quality=40, scale=1))
    gray = container.unpack(hybridcodec.compress(tiles(256, 192, 1)[:, :, 0], codec="jpeg", quality=40,
                                                 scale="4/3"))
    out = {}
    for name, hc, channels in (("rgb-s1", rgb, 3), ("gray-alpha-s43-strengths", gray, 2)):
        coded_w, coded_h = hc.header.scale.coded_size(width, height)
        picture = tiles(coded_w, coded_h, 1 if channels == 2 else 3)
        payload = bytes(imagecodecs.jpeg8_encode(np.dstack([picture[:, :, 0]] * 3) if channels == 2 else picture,
                                                 level=40, subsampling="420"))
        fields = dict(payload=payload, header=replace(hc.header, width=width, height=height, channels=channels))
        if channels == 2:
            rows, cols = strength.tiles(width, height, 6)
            fields["strengths"] = strength.pack(np.random.default_rng(0).integers(0, 4, rows * cols), 6)
            fields["alpha"] = codecs.get_codec("png").encode_plane(np.full((height, width), 200, np.uint8))
        path = folder / f"{name}-{megapixels}mp.hc"
        path.write_bytes(container.pack(replace(hc, **fields)))
        out[f"{name} {width}x{height}"] = path
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("megapixels", type=float, nargs="+")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hybridcodec-memory-") as folder:
        for megapixels in args.megapixels:
            for name, path in files(megapixels, Path(folder)).items():
                seconds, peak = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True,
                                               text=True, check=True).stdout.split()
                pixels = int(name.split()[1].split("x")[0]) * int(name.split("x")[1])
                print(f"{name}: {seconds} s, peak {peak} MB, {(int(peak) - 400) * 2**20 / pixels:.1f} bytes a pixel "
                      "above 400 MB", flush=True)
                path.unlink()


if __name__ == "__main__":
    main()
