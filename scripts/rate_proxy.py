"""Fit the JPEG rate proxy (hybridcodec/tools/rateproxy.py) to the shipped JPEG
encoder's real file sizes on crops of one folder, and test it on another.

    python scripts/rate_proxy.py ../shared/data/train ../shared/data/choose --out results/rate-proxy-jpeg.json

Issue #23's bar: on the photos that did not fit it, the correlation of log
proxy rate with log real bytes within each quality at least 0.9, and the
median relative error at most 10%.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from hybridcodec import codecs
from hybridcodec.images import list_images, read_rgb
from hybridcodec.tools import rateproxy

QUALITIES = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)  # the user's scale, mapped to the encoder's


def read_all(folder):
    return [read_rgb(p) for p in list_images(folder)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit_folder")
    parser.add_argument("test_folder")
    parser.add_argument("--encoder", default=None, help="JPEG encoder (default: the default one)")
    parser.add_argument("--out", default="results/rate-proxy-jpeg.json")
    args = parser.parse_args()
    backend = codecs.get_codec("jpeg").configured(args.encoder)
    own = [backend.encoder_quality(q) for q in QUALITIES]  # the encoder's own qualities
    weights = rateproxy.calibrate(read_all(args.fit_folder), backend, own, seed=0)
    rows, sizes, qualities = rateproxy.measure(read_all(args.test_folder), backend, own, seed=1)
    predicted = np.maximum(rateproxy.predict(rows, weights), 1)
    per_quality = {}
    for q, own_q in zip(QUALITIES, own, strict=True):
        k = qualities == own_q
        per_quality[q] = {"log_correlation": float(np.corrcoef(np.log(predicted[k]), np.log(sizes[k]))[0, 1]),
                          "median_relative_error": float(np.median(np.abs(predicted[k] / sizes[k] - 1))),
                          "crops": int(k.sum())}
    report = {"encoder": backend.library_version(), "fit": args.fit_folder, "test": args.test_folder,
              "crop": 256, "weights": weights.tolist(), "per_quality": per_quality,
              "median_relative_error": float(np.median(np.abs(predicted / sizes - 1)))}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print("| quality | log correlation | median relative error |")
    print("|---:|---:|---:|")
    for q, r in per_quality.items():
        print(f"| {q} | {r['log_correlation']:.3f} | {100 * r['median_relative_error']:.1f}% |")
    print(f"all: median relative error {100 * report['median_relative_error']:.1f}%")


if __name__ == "__main__":
    main()
