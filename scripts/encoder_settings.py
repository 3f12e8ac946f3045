"""Measure each codec's encoder settings on a folder (``choose/``): BD-rate
(PSNR-RGB and MS-SSIM) and encode time against the common default, and the
quality map that gives ``--quality`` one meaning across encoders.

    python scripts/encoder_settings.py ../shared/data/choose --out results/encoders-choose.json

Every setting is a ``Codec.configured(encoder, effort)`` of codecs.py, so
what is measured is what ships. The quality map: for each user quality q,
the encoder quality whose files are, summed over the folder, as large as the
common default's at q (linear in log bytes between measured qualities);
codecs.py's ``quality_knots`` are these numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hybridcodec import codecs
from hybridcodec.images import list_images, read_rgb
from hybridcodec.metrics import bd_rate, bpp, ms_ssim, psnr

# (codec, encoder, effort); the first of each codec is its common default
SETTINGS = {
    "jpeg": [("turbo", "default"), ("mozjpeg", "default"), ("mozjpeg-flat", "default"), ("mozjpeg-default", "default"),
             ("jpegli", "default")],
    "webp": [("libwebp", "fast"), ("libwebp", "default")],
    "avif": [("libavif", "default"), ("libavif-psnr", "default"), ("libavif-psnr", "fast"),
             ("libavif-psnr", "best")],
    "jpegxl": [("libjxl", "default"), ("libjxl", "fast"), ("libjxl", "best")],
}
QUALITIES = (2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
# slow settings are measured at fewer qualities (BD-rate only, no quality map)
FEW = (10, 30, 50, 70, 90)


def measure(images, codec, encoder, effort, qualities):
    backend = codecs.get_codec(codec).configured(encoder, effort)
    rows = []
    for q in qualities:
        sizes, psnrs, ssims, ms = [], [], [], []
        for image in images:
            start = time.perf_counter()
            data = backend.encode(image, q)
            ms.append(1000 * (time.perf_counter() - start))
            decoded = backend.decode(data)
            sizes.append(len(data))
            psnrs.append(psnr(image, decoded))
            ssims.append(ms_ssim(image, decoded))
        pixels = [i.shape[0] * i.shape[1] for i in images]
        rows.append({"quality": q, "bytes": int(sum(sizes)),
                     "bpp": float(np.mean([bpp(s, 1, p) for s, p in zip(sizes, pixels, strict=True)])),
                     "psnr": float(np.mean(psnrs)), "ms_ssim": float(np.mean(ssims)),
                     "encode_ms_per_mp": float(np.median([m / (p / 1e6) for m, p in zip(ms, pixels, strict=True)]))})
        last = rows[-1]
        print(f"  {codec} {encoder} {effort} q{q}: {last['bpp']:.3f} bpp {last['psnr']:.2f} dB", file=sys.stderr)
    return rows


def quality_map(reference, rows):
    """(user quality, encoder quality) knots: equal total bytes, log-linear between measurements."""
    ref_q = [r["quality"] for r in reference]
    ref_b = np.log([r["bytes"] for r in reference])
    own_q = [r["quality"] for r in rows]
    own_b = np.log([r["bytes"] for r in rows])
    knots = []
    for q, b in zip(ref_q, ref_b, strict=True):
        if own_b[0] <= b <= own_b[-1]:
            knots.append((q, int(round(float(np.interp(b, own_b, own_q))))))
    return knots


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--codecs", nargs="+", default=list(SETTINGS))
    parser.add_argument("--out", default="results/encoders-choose.json")
    args = parser.parse_args()
    images = [read_rgb(p) for p in list_images(args.folder)]
    report = {"folder": str(args.folder), "images": len(images), "codecs": {}}
    if Path(args.out).exists():  # measuring some codecs keeps the others' figures
        report["codecs"] = json.loads(Path(args.out).read_text())["codecs"]
    for codec in args.codecs:
        results = []
        for k, (encoder, effort) in enumerate(SETTINGS[codec]):
            slow = codec == "avif" and effort == "best"
            rows = measure(images, codec, encoder, effort, FEW if slow else QUALITIES)
            backend = codecs.get_codec(codec).configured(encoder, effort)
            entry = {"encoder": encoder, "effort": effort, "library": backend.library_version(), "rows": rows}
            if k:
                ref = results[0]["rows"]
                ref_at = [r for r in ref if r["quality"] in {x["quality"] for x in rows}]
                for metric in ("psnr", "ms_ssim"):
                    entry[f"bd_rate_{metric}"] = bd_rate([r["bpp"] for r in ref_at], [r[metric] for r in ref_at],
                                                         [r["bpp"] for r in rows], [r[metric] for r in rows])
                entry["time_ratio"] = float(np.median([r["encode_ms_per_mp"] for r in rows])
                                            / np.median([r["encode_ms_per_mp"] for r in ref_at]))
                if not slow:
                    entry["quality_knots"] = quality_map(ref, rows)
            results.append(entry)
        report["codecs"][codec] = results
        Path(args.out).write_text(json.dumps(report, indent=1))
    for codec, results in report["codecs"].items():
        print(f"\n{codec} (against {results[0]['encoder']} effort {results[0]['effort']})")
        print("| encoder | effort | BD-rate PSNR | BD-rate MS-SSIM | encode ms/MP | time ratio |")
        print("|---|---|---:|---:|---:|---:|")
        for e in results:
            ms = np.median([r["encode_ms_per_mp"] for r in e["rows"]])
            bd = [f"{e[k]:+.1f}%" if e.get(k) is not None else ("anchor" if e is results[0] else "n/a")
                  for k in ("bd_rate_psnr", "bd_rate_ms_ssim")]
            print(f"| {e['encoder']} | {e['effort']} | {bd[0]} | {bd[1]} | {ms:.0f} | {e.get('time_ratio', 1):.2f} |")
        for e in results[1:]:
            if "quality_knots" in e:
                print(f"  knots {e['encoder']}/{e['effort']}: {e['quality_knots']}")


if __name__ == "__main__":
    main()
