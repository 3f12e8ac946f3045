"""BD-rate of one bench's hybridcodec curve against another's, on the same photos.

    python scripts/compare_benches.py results/val-small-v04 results/val-small-v05 --codec jpeg

The anchor is the first folder's ``hybrid`` curve (for issue #23: the
post-only release, or ``hybridcodec bench --no-pre-edit``), the test the
second's: mean curves over the photos, and per photo (the spread).
"""

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from hybridcodec.metrics import bd_rate


def curves(folder: Path, codec: str) -> dict:
    """photo -> quality -> (bpp, PSNR-RGB, MS-SSIM) of the hybrid method."""
    out = defaultdict(dict)
    with open(folder / f"{codec}-per-image.csv") as handle:
        for row in csv.DictReader(handle):
            if row["method"] == "hybrid":
                out[row["image"]][int(row["quality"])] = [float(row[k]) for k in ("bpp", "psnr-rgb", "ms-ssim-rgb")]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("anchor")
    parser.add_argument("test")
    parser.add_argument("--codec", default="jpeg")
    args = parser.parse_args()
    anchor, test = curves(Path(args.anchor), args.codec), curves(Path(args.test), args.codec)
    photos = sorted(set(anchor) & set(test))
    qualities = sorted(set.intersection(*(set(anchor[p]) & set(test[p]) for p in photos)))
    a = np.array([[anchor[p][q] for q in qualities] for p in photos])
    t = np.array([[test[p][q] for q in qualities] for p in photos])
    for metric, name in ((1, "PSNR-RGB"), (2, "MS-SSIM")):
        mean = bd_rate(a.mean(0)[:, 0], a.mean(0)[:, metric], t.mean(0)[:, 0], t.mean(0)[:, metric])
        per_photo = [bd_rate(a[i, :, 0], a[i, :, metric], t[i, :, 0], t[i, :, metric]) for i in range(len(photos))]
        measured = [b for b in per_photo if b is not None]
        print(f"{name}: BD-rate {mean:+.1f}% on the mean curves; per photo {min(measured):+.1f}% to "
              f"{max(measured):+.1f}% (median {np.median(measured):+.1f}%, {len(measured)} of {len(photos)})")


if __name__ == "__main__":
    main()
