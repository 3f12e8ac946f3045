"""Print the README's results table from `hybridcodec bench` summaries in results/."""

import json
import sys
from pathlib import Path

TARGETS = {"jpeg": -25, "webp": -10, "avif": -5, "jpegxl": -6}


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


if __name__ == "__main__":
    main(*sys.argv[1:])
