"""Would per-region choices pay? (issue #21, item 4)

For every image of a folder and every grid quality, the default encoder's
file (``--scale auto``: the per-image decision) is decoded twice: with its
restoration network and with the classical path alone. Per tile of TILE x
TILE pixels the encoder could then choose a restoration strength ``a`` from
STRENGTHS, the decoder showing ``classical + a * (restored - classical)``,
at the price of a map of ceil(log2(len(STRENGTHS))) bits a tile in the
header. This measures that choice, map bytes counted, against the
per-image file (BD-rate, PSNR-RGB), and the upper bound of a free map.
Tile size and strengths are fixed here, not tuned on the photos measured.

    python scripts/per_region.py ../shared/data/val --codec webp --out results/per-region-val-webp.json
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np

from hybridcodec import codecs, pipeline
from hybridcodec.coding import CodingPath
from hybridcodec.images import list_images, read_rgb
from hybridcodec.metrics import psnr
from hybridcodec.tools import bench

TILE = 64
STRENGTHS = (0.0, 0.5, 1.0, 1.5)


def blend(classical, restored, a):
    """``classical + a * (restored - classical)`` in 8 bits."""
    c = classical.astype(np.float64)
    return np.clip(np.round(c + a * (restored.astype(np.float64) - c)), 0, 255).astype(np.uint8)


def per_tile(original, classical, restored):
    """(the image with the best strength per tile, the map of those strengths' indices)."""
    o = original.astype(np.float64)
    c, r = classical, restored
    h, w = o.shape[:2]
    out = np.empty_like(o)
    choices = []
    for y in range(0, h, TILE):
        for x in range(0, w, TILE):
            tile = np.s_[y:y + TILE, x:x + TILE]
            candidates = [blend(c[tile], r[tile], a).astype(np.float64) for a in STRENGTHS]
            errors = [np.sum((cand - o[tile]) ** 2) for cand in candidates]
            best = int(np.argmin(errors))
            out[tile] = candidates[best]
            choices.append(best)
    return out.astype(np.uint8), choices


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--codec", default="jpeg")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    grid = codecs.by_name(args.codec).quality_grid
    map_bits = math.ceil(math.log2(len(STRENGTHS)))
    rows = []
    for path in list_images(args.folder):
        rgb = read_rgb(path)
        h, w = rgb.shape[:2]
        for q in grid:
            encoded = pipeline.encode(rgb, args.codec, q, strengths=False)  # the per-image file
            header = encoded.hc.header
            restored = pipeline.decompress(encoded.data)
            row = {"image": path.name, "quality": q, "pixels": h * w, "bytes": len(encoded.data),
                   "psnr": psnr(rgb, restored), "network": header.model("post") is not None}
            if row["network"]:
                classical_path = CodingPath(codecs.get_codec(header.codec), header.quality, header.scale)
                classical = classical_path.restore(classical_path.decode(encoded.hc.payload, w, h), w, h)
                chosen, choices = per_tile(rgb, classical, restored)
                row.update(tiles=len(choices), choices=np.bincount(choices, minlength=len(STRENGTHS)).tolist(),
                           map_bytes=math.ceil(map_bits * len(choices) / 8), psnr_per_region=psnr(rgb, chosen),
                           psnr_by_strength=[psnr(rgb, blend(classical, restored, a)) for a in STRENGTHS])
            else:  # nothing to choose: the file is restored classically
                row.update(tiles=0, choices=None, map_bytes=0, psnr_per_region=row["psnr"],
                           psnr_by_strength=[row["psnr"]] * len(STRENGTHS))
            rows.append(row)
            print(json.dumps(row), flush=True)

    def curve(image, key, extra):
        points = sorted((8 * (r["bytes"] + (r["map_bytes"] if extra else 0)) / r["pixels"], r[key])
                        for r in rows if r["image"] == image)
        return [p[0] for p in points], [p[1] for p in points]

    per_image = {}
    for image in sorted({r["image"] for r in rows}):
        anchor = curve(image, "psnr", False)
        per_image[image] = {"map_counted": bench.bd_rate(*anchor, *curve(image, "psnr_per_region", True)),
                            "map_free": bench.bd_rate(*anchor, *curve(image, "psnr_per_region", False)),
                            "one_strength": bench.bd_rate(*anchor, *curve(image, "psnr_one_strength", False))}
    for r in rows:  # one strength for the whole image, in the header's spare bits
        r["psnr_one_strength"] = max(r["psnr_by_strength"])
    counts = np.sum([r["choices"] for r in rows if r["choices"]], axis=0).tolist()
    summary = {"folder": args.folder, "codec": args.codec, "tile": TILE, "strengths": STRENGTHS,
               "map_bits_per_tile": map_bits, "strength_counts": counts,
               "bd_rate_map_counted_mean": float(np.mean([v["map_counted"] for v in per_image.values()])),
               "bd_rate_map_free_mean": float(np.mean([v["map_free"] for v in per_image.values()])),
               "bd_rate_one_strength_mean": float(np.mean([v["one_strength"] for v in per_image.values()])),
               "mean_gain_db": float(np.mean([r["psnr_per_region"] - r["psnr"] for r in rows])),
               "per_image": per_image, "rows": rows}
    Path(args.out).write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("rows", "per_image")}))


if __name__ == "__main__":
    main()
