"""Choose the mozjpeg encoder's chroma quantizer step (``codecs.CHROMA_STEP``)
on a folder (``choose/``): BD-rate (PSNR-RGB and MS-SSIM) of each chroma
step against equal luma and chroma steps (``mozjpeg-flat``), on the plain
files and, with ``--restore``, on what the decoder restores from them with
the networks of the shipped table at each encoder quality.

    python scripts/chroma_steps.py ../shared/data/choose --restore --out results/chroma-steps-choose.json

Each step is the ``mozjpeg`` encoder of codecs.py with its ``chroma`` set
to it, so what is measured is what would ship.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hybridcodec import codecs, zoo
from hybridcodec import scale as scales
from hybridcodec.coding import CodingPath
from hybridcodec.images import list_images, read_rgb
from hybridcodec.metrics import bd_rate, bpp, ms_ssim, psnr

QUALITIES = (8, 13, 22, 36, 49, 71)  # mozjpeg's own qualities (0.6's map of user q 5-80)


def measure(images, encoder: str, restore: bool) -> dict:
    """Mean bpp, PSNR and MS-SSIM per quality, plain and (``restore``) restored."""
    backend = codecs.get_codec("jpeg").configured(encoder)
    table = {"bpp": [], "plain": {"psnr": [], "ms_ssim": []}, "restored": {"psnr": [], "ms_ssim": []}}
    for q in QUALITIES:
        point = zoo.operating_point("jpeg", q, scales.FULL, "mozjpeg")
        post = zoo.load(point.post) if restore and point.post else None
        figures = []
        for image in images:
            path = CodingPath(backend, q, scales.FULL, post=post)
            data = path.encode(image)
            decoded = path.decode(data)
            row = [bpp(len(data), image.shape[1], image.shape[0]), psnr(image, decoded), ms_ssim(image, decoded)]
            if post is not None:
                out = path.restore(decoded, image.shape[1], image.shape[0], data)
                row += [psnr(image, out), ms_ssim(image, out)]
            figures.append(row)
        mean = np.mean(figures, axis=0)
        table["bpp"].append(float(mean[0]))
        for k, (kind, metric) in enumerate([("plain", "psnr"), ("plain", "ms_ssim"),
                                            ("restored", "psnr"), ("restored", "ms_ssim")][: len(mean) - 1]):
            table[kind][metric].append(float(mean[k + 1]))
        chroma = codecs.JPEG.encoders[encoder].chroma
        print(f"  {encoder} chroma {chroma} q{q}: {mean[0]:.3f} bpp {mean[1]:.2f} dB", file=sys.stderr)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--steps", type=float, nargs="+", default=[0.4, 0.5, 0.6, 0.7, 0.8])
    parser.add_argument("--restore", action="store_true", help="also restore with the shipped networks")
    parser.add_argument("--out", default="results/chroma-steps-choose.json")
    args = parser.parse_args()
    images = [read_rgb(p) for p in list_images(args.folder)]
    anchor = measure(images, "mozjpeg-flat", args.restore)
    report = {"folder": str(args.folder), "images": len(images), "qualities": QUALITIES,
              "anchor": {"encoder": "mozjpeg-flat", **anchor}, "steps": []}
    print("| chroma step | BD-rate PSNR plain | MS-SSIM plain | PSNR restored | MS-SSIM restored |")
    print("|---:|---:|---:|---:|---:|")
    for step in args.steps:
        codecs.JPEG.encoders["mozjpeg"].chroma = step  # the encoder object holds its step
        table = measure(images, "mozjpeg", args.restore)
        entry = {"chroma_step": step, **table}
        cells = []
        for kind in ("plain", "restored"):
            for metric in ("psnr", "ms_ssim"):
                if table[kind][metric]:
                    value = bd_rate(anchor["bpp"], anchor[kind][metric], table["bpp"], table[kind][metric])
                    entry[f"bd_rate_{kind}_{metric}"] = value
                    cells.append(f"{value:+.1f}%")
                else:
                    cells.append("")
        report["steps"].append(entry)
        print(f"| {step} | " + " | ".join(cells) + " |", flush=True)
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
