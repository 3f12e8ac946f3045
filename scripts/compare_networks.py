"""Mean PSNR-RGB gain of restoration networks on the same plain files of
photos none of them trained on: scikit-image's photos by default. For
choosing between a network shipped before the data split (it trained on
`choose/` too) and one trained after it, where `choose/` would favour the
older one.

    python scripts/compare_networks.py --codec webp models/superseded/reccnn-webp-s1-v3.keras runs/x/post.keras
    python scripts/compare_networks.py --codec jpegxl --folder DIR A.keras B.keras --qualities 20 50 80
"""

import argparse
import json
from pathlib import Path

import numpy as np
from skimage import data

from hybridcodec import scale as scales
from hybridcodec.coding import run_post
from hybridcodec.images import load_image
from hybridcodec.metrics import psnr
from hybridcodec.tools.training import code_images
from hybridcodec.zoo import load_keras_file

PHOTOS = {"astronaut": data.astronaut, "chelsea": data.chelsea, "coffee": data.coffee,
          "motorcycle_left": lambda: data.stereo_motorcycle()[0], "rocket": data.rocket}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help=".keras restoration networks (scale 1)")
    parser.add_argument("--codec", required=True)
    parser.add_argument("--folder", help="PNG photos (default: scikit-image's)")
    parser.add_argument("--qualities", type=int, nargs="+", default=[10, 20, 30, 40, 50, 60, 70, 80, 90])
    parser.add_argument("--out", help="write the table as JSON here")
    args = parser.parse_args()
    if args.folder:
        images = [load_image(p).pixels for p in sorted(Path(args.folder).glob("*.png"))]
    else:
        images = [np.ascontiguousarray(load()) for load in PHOTOS.values()]
    coded = code_images(images, args.codec, args.qualities, scales.FULL)
    originals = [coded.originals[i] for i in coded.image_index]
    plain = [psnr(o, d[:o.shape[0], :o.shape[1]]) for o, d in zip(originals, coded.decoded, strict=True)]
    table = {"codec": args.codec, "photos": args.folder or list(PHOTOS), "qualities": args.qualities}
    for path in args.models:
        model = load_keras_file(path)
        gains = {q: [] for q in args.qualities}
        for k, (original, decoded) in enumerate(zip(originals, coded.decoded, strict=True)):
            h, w = original.shape[:2]
            restored = run_post(model, decoded, coded.condition[k][None], w, h)
            gains[coded.quality[k]].append(psnr(original, restored) - plain[k])
        table[path] = [float(np.mean(gains[q])) for q in args.qualities]
        print(f"{path}: " + " ".join(f"q{q} {g:+.3f}" for q, g in zip(args.qualities, table[path], strict=True))
              + f" | mean {np.mean(table[path]):+.3f} dB")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
