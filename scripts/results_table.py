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


def _pixels(path):
    """An image's pixel count, for bench output written before the CSV had it."""
    from PIL import Image

    with Image.open(path) as image:
        return image.width * image.height


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
    print("| codec | BD-rate PSNR | per-photo range | worst point vs its own plain curve | points below plain "
          "| worst point, header allowed | below plain, header allowed |")
    print("|---|---:|---:|---|---:|---|---:|")
    for codec in TARGETS:
        path = Path(folder) / f"{codec}-per-image.csv"
        if not path.exists():
            continue
        with open(path) as handle:
            rows = list(csv.DictReader(handle))
        s = json.loads((Path(folder) / f"{codec}-summary.json").read_text())
        pixels = {r["image"]: int(r.get("pixels") or 0) or _pixels(Path(s["images"]) / r["image"]) for r in rows}
        points = [bench.Point(r["image"], r["method"], int(r["quality"]), float(r["bpp"]), float(r["psnr-rgb"]),
                              float(r["ms-ssim-rgb"]), 0, 0, header_bytes=int(r["header_bytes"]),
                              pixels=pixels[r["image"]]) for r in rows]
        with warnings.catch_warnings():  # per-photo curves overlap little at the ends: the range says so
            warnings.simplefilter("ignore")
            gains = bench.per_image_gains(points)
        low, high = gains["bd_rate_psnr_range"] or (None, None)
        worst = gains["worst_point"]
        allowed = gains["worst_point_header_allowed"]
        print(f"| {codec} | {fmt(s['bd_rate_psnr_percent'], '+.1f')}% | {fmt(low, '+.1f')}% to {fmt(high, '+.1f')}% | "
              f"{worst['gain_db']:+.2f} dB ({worst['image']}, q{worst['quality']}) | "
              f"{gains['points_below_plain']} of {gains['points_judged']} | "
              f"{allowed['gain_db_header_allowed']:+.3f} dB ({allowed['image']}, q{allowed['quality']}) | "
              f"{gains['points_below_plain_header_allowed']} of {gains['points_judged']} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
