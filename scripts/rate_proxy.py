"""Fit the JPEG rate proxy (hybridcodec/rateproxy.py) to the shipped JPEG
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

from hybridcodec import codecs, native, rateproxy
from hybridcodec.images import list_images, read_rgb

QUALITIES = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)  # the user's scale, mapped to the encoder's


def crops(folder, side=256, per_image=4, seed=0):
    rng = np.random.default_rng(seed)
    for path in list_images(folder):
        image = read_rgb(path)
        h, w = image.shape[:2]
        for _ in range(per_image):
            y, x = 8 * rng.integers(0, (h - side) // 8 + 1), 8 * rng.integers(0, (w - side) // 8 + 1)
            yield np.ascontiguousarray(image[y : y + side, x : x + side])


def measure(folder, backend, seed):
    rows, sizes, qualities = [], [], []
    for crop in crops(folder, seed=seed):
        for q in QUALITIES:
            data = backend.encode(crop, backend.encoder_quality(q))
            tables = native.jpeg_tables(data)
            rows.append(rateproxy.features(crop, tables["luma"], tables["chroma"], tables["subsampling"]))
            sizes.append(len(data))
            qualities.append(q)
    return np.array(rows), np.array(sizes, np.float64), np.array(qualities)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fit_folder")
    parser.add_argument("test_folder")
    parser.add_argument("--encoder", default=None, help="JPEG encoder (default: the default one)")
    parser.add_argument("--out", default="results/rate-proxy-jpeg.json")
    args = parser.parse_args()
    backend = codecs.get_codec("jpeg").configured(args.encoder)
    fit_rows, fit_sizes, _ = measure(args.fit_folder, backend, seed=0)
    weights = rateproxy.fit(fit_rows, fit_sizes)
    rows, sizes, qualities = measure(args.test_folder, backend, seed=1)
    predicted = np.maximum(rateproxy.predict(rows, weights), 1)
    per_quality = {}
    for q in QUALITIES:
        k = qualities == q
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
