"""Print the results tables from `hybridcodec bench` output in a folder, or
with --readme the README's one table over several folders.

    python scripts/results_table.py results/val-small
    python scripts/results_table.py --readme results/val-small-v063 results/val-v063
"""

import csv
import json
import sys
import warnings
from pathlib import Path

from hybridcodec.tools import bench

TARGETS = {"jpeg": -15, "webp": -8, "avif": -5, "jpegxl": -6}  # against the same encoder plain (issue #22)


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def _pixels(path):
    """An image's pixel count, for bench output written before the CSV had it."""
    from PIL import Image

    with Image.open(path) as image:
        return image.width * image.height


def _gains(folder, codec) -> dict:
    """bench.per_image_gains of a codec's CSV in ``folder`` (per photo, worst points)."""
    with open(Path(folder) / f"{codec}-per-image.csv") as handle:
        rows = list(csv.DictReader(handle))
    s = json.loads((Path(folder) / f"{codec}-summary.json").read_text())
    pixels = {r["image"]: int(r.get("pixels") or 0) or _pixels(Path(s["images"]) / r["image"]) for r in rows}
    points = [bench.Point(r["image"], r["method"], int(r["quality"]), float(r["bpp"]), float(r["psnr-rgb"]),
                          float(r["ms-ssim-rgb"]), 0, 0, header_bytes=int(r["header_bytes"]),
                          pixels=pixels[r["image"]]) for r in rows]
    with warnings.catch_warnings():  # per-photo curves overlap little at the ends: the range says so
        warnings.simplefilter("ignore")
        return bench.per_image_gains(points)


def readme(*folders):
    """One row per codec and folder: the README's results table."""
    print("| codec | photos | vs same encoder plain: PSNR / MS-SSIM (target) | vs common default | "
          "vs next format plain | per photo (PSNR) | points below plain: file / header allowed "
          "| encode s plain / hybrid | decode s plain / hybrid |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for codec, target in TARGETS.items():
        for folder in folders:
            path = Path(folder) / f"{codec}-summary.json"
            if not path.exists():
                continue
            s = json.loads(path.read_text())
            refs, enc, dec = s["bd_rate_by_reference"], s["mean_encoding_time_s"], s["mean_decoding_time_s"]
            cell = {m: f"{refs[m]['psnr']:+.1f}% / {refs[m]['ms_ssim']:+.1f}%" if m in refs else "n/a"
                    for m in ("plain", "common", "next")}
            if s["references"]["common"] == s["references"]["plain"]:
                cell["common"] = "same encoder"
            g = _gains(folder, codec)
            low, high = g["bd_rate_psnr_range"]
            print(f"| {codec} | {Path(s['images']).name}/ | **{cell['plain']}** ({target}%) | {cell['common']} | "
                  f"{cell['next']} | {low:+.1f}% to {high:+.1f}% | {g['points_below_plain']} / "
                  f"{g['points_below_plain_header_allowed']} of {g['points_judged']} | "
                  f"{enc['plain']:.2f} / {enc['hybrid']:.2f} | {dec['plain']:.3f} / {dec['hybrid']:.2f} |")


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
        if not (Path(folder) / f"{codec}-per-image.csv").exists():
            continue
        s = json.loads((Path(folder) / f"{codec}-summary.json").read_text())
        gains = _gains(folder, codec)
        low, high = gains["bd_rate_psnr_range"] or (None, None)
        worst = gains["worst_point"]
        allowed = gains["worst_point_header_allowed"]
        print(f"| {codec} | {fmt(s['bd_rate_psnr_percent'], '+.1f')}% | {fmt(low, '+.1f')}% to {fmt(high, '+.1f')}% | "
              f"{worst['gain_db']:+.2f} dB ({worst['image']}, q{worst['quality']}) | "
              f"{gains['points_below_plain']} of {gains['points_judged']} | "
              f"{allowed['gain_db_header_allowed']:+.3f} dB ({allowed['image']}, q{allowed['quality']}) | "
              f"{gains['points_below_plain_header_allowed']} of {gains['points_judged']} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--readme"]:
        readme(*sys.argv[2:])
    else:
        main(*sys.argv[1:])
