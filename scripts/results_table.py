"""Print the README's results tables from `hybridcodec bench` output in a folder.

    python scripts/results_table.py results/
    python scripts/results_table.py results/val-small
"""

import csv
import json
import sys
import warnings
from pathlib import Path

from hybridcodec import bench

TARGETS = {"jpeg": -15, "webp": -8, "avif": -5, "jpegxl": -6}  # against the same encoder plain (issue #22)


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def main(folder="results"):
    print("| codec | BD-rate PSNR | target | BD-PSNR | BD-rate MS-SSIM | header bytes "
          "| encode s plain / hybrid | decode s plain / hybrid |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for codec, target in TARGETS.items():
        path = Path(folder) / f"{codec}-summary.json"
        if not path.exists():
            continue
        s = json.loads(path.read_text())
        enc, dec = s["mean_encoding_time_s"], s["mean_decoding_time_s"]
        print(f"| {codec} | {fmt(s['bd_rate_psnr_percent'], '+.1f')}% | {target}% | "
              f"{fmt(s['bd_psnr_db'], '+.2f')} dB | {fmt(s['bd_rate_ms_ssim_percent'], '+.1f')}% | "
              f"{s['header_bytes_mean']:.0f} | {enc['plain']:.3f} / {enc['hybrid']:.3f} | "
              f"{dec['plain']:.3f} / {dec['hybrid']:.3f} |")

    print()
    print("| codec | vs same encoder plain: PSNR / MS-SSIM | vs common default | vs next format plain |")
    print("|---|---:|---:|---:|")
    for codec in TARGETS:
        path = Path(folder) / f"{codec}-summary.json"
        if not path.exists() or "bd_rate_by_reference" not in json.loads(path.read_text()):
            continue
        refs = json.loads(path.read_text())["bd_rate_by_reference"]
        cells = [f"{fmt(refs[m]['psnr'], '+.1f')}% / {fmt(refs[m]['ms_ssim'], '+.1f')}%" if m in refs else "n/a"
                 for m in ("plain", "common", "next")]
        print(f"| {codec} | {' | '.join(cells)} |")

    print()
    print("| codec | BD-rate PSNR | per-photo range | worst point vs its own plain curve | points below plain |")
    print("|---|---:|---:|---|---:|")
    for codec in TARGETS:
        path = Path(folder) / f"{codec}-per-image.csv"
        if not path.exists():
            continue
        with open(path) as handle:
            rows = list(csv.DictReader(handle))
        points = [bench.Point(r["image"], r["method"], int(r["quality"]), float(r["bpp"]), float(r["psnr-rgb"]),
                              float(r["ms-ssim-rgb"]), 0, 0) for r in rows]
        with warnings.catch_warnings():  # per-photo curves overlap little at the ends: the range says so
            warnings.simplefilter("ignore")
            gains = bench.per_image_gains(points)
        s = json.loads((Path(folder) / f"{codec}-summary.json").read_text())
        low, high = gains["bd_rate_psnr_range"] or (None, None)
        worst = gains["worst_point"]
        print(f"| {codec} | {fmt(s['bd_rate_psnr_percent'], '+.1f')}% | {fmt(low, '+.1f')}% to {fmt(high, '+.1f')}% | "
              f"{worst['gain_db']:+.2f} dB ({worst['image']}, q{worst['quality']}) | "
              f"{gains['points_below_plain']} of {gains['points_judged']} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
