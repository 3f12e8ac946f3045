"""Weigh ways of making a shipped network's int8 twin: which convolutions
stay float32 and how activation ranges are calibrated. Calibrates on crops
of DATA as `hybridcodec zoo quantize` does, weighs each twin against the
float32 network on crops of VAL at the qualities the tables use it, and
writes the costs (dB, mean over those qualities) and 768x512 times to JSON.

    python scripts/int8_variants.py reccnn-jpeg-s1-mozjpeg-chroma-q8-36-d20 \
        --data ../shared/data/train --val ../shared/data/choose --out results/int8-variants.json
"""

import argparse
import json
import time
from pathlib import Path

from hybridcodec import runtime, zoo
from hybridcodec.tools import zoo_admin
from hybridcodec.tools.bench import network_ms
from hybridcodec.tools.export import clipped_ranges, quantize_int8, refit_output_conv

# name: (convolutions kept float32, by index; calibration method; output conv refitted;
#        ReLU ranges clipped at the largest per-crop percentile, or None)
VARIANTS = {
    "last-float": ((-1,), "minmax", False, None),  # what zoo quantize shipped in 0.6 and 0.7
    "first-last-float": ((0, -1), "minmax", False, None),
    "last-two-float": ((-2, -1), "minmax", False, None),
    "last-float-percentile": ((-1,), "percentile", False, None),
    "last-float-refit": ((-1,), "minmax", True, None),  # what zoo quantize shipped in 0.7.1
    "last-two-float-refit": ((-2, -1), "minmax", True, None),
    "last-float-percentile-refit": ((-1,), "percentile", True, None),
    "last-float-clip99.999-refit": ((-1,), "minmax", True, 99.999),
    "last-float-clip99.99-refit": ((-1,), "minmax", True, 99.99),  # what zoo quantize ships since 0.7.2
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", help="shipped restoration networks")
    parser.add_argument("--data", required=True, help="calibration photos (train/)")
    parser.add_argument("--val", required=True, help="photos to weigh on (choose/)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--crop", type=int, default=512, help="centre crop of the VAL photos (pixels a side)")
    parser.add_argument("--qualities", type=int, nargs="+",
                        help="codec qualities to calibrate and weigh at (default: where the tables use the network)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.names:
        entry = zoo.find(name)
        encoder, qualities = zoo_admin._served_points(entry)
        qualities = args.qualities or qualities
        float_net = zoo.load(entry)
        for variant in args.variants:
            float_convs, calibration, refit, clip = VARIANTS[variant]
            # histogram calibrators keep every activation: fewer, smaller crops
            crop = zoo_admin.QUANTIZE_CROP if calibration == "minmax" else 192
            feeds = zoo_admin.calibration_feeds(entry, float_net, args.data, encoder, qualities, crop)
            if calibration != "minmax":
                feeds = (f for k, f in enumerate(feeds) if k % 4 == 0)
            started = time.perf_counter()
            ranges = clip and clipped_ranges(entry.onnx_path.read_bytes(), zoo_admin.calibration_feeds(
                entry, float_net, args.data, encoder, qualities), clip)
            quantized = quantize_int8(entry.onnx_path.read_bytes(), feeds, float_convs, calibration, ranges)
            if refit:
                quantized = refit_output_conv(quantized, zoo_admin.calibration_samples(
                    entry, float_net, args.data, encoder, qualities))
            twin = runtime.Network.from_bytes(quantized)
            means, cost, largest = zoo_admin.weigh_twin(entry, float_net, twin, args.val, encoder, qualities,
                                                        args.crop)
            row = {"cost_db": round(cost, 4), "largest_pixel_difference": largest,
                   "cost_by_quality": {q: round(m["float32"] - m["int8"], 4) for q, m in means.items()},
                   "ms_768x512": network_ms(entry, twin, runs=5), "seconds": round(time.perf_counter() - started)}
            results.setdefault(name, {})[variant] = row
            print(name, variant, json.dumps(row), flush=True)
            args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
