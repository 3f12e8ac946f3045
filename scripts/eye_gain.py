"""BD-rates to the eye of full-size restoration networks (.keras, either
contract) against the plain files of one codec's encoder: PSNR-RGB,
SSIMULACRA2 and Butteraugli (3-norm), per photo then averaged, on a folder
of photos area-downscaled as val-small/ was (issue #40, item 4: the losses
compared; issue #41, item 1: what a light network keeps of the full one's gain).

    python scripts/eye_gain.py ../shared/data/choose models/reccnn-jpeg-s1-tables-d16.keras \
        runs/jpeg-perc-mse/post.keras runs/jpeg-perc-ms-ssim-l1/post.keras --out results/eye-gain-choose.json
    python scripts/eye_gain.py ../shared/data/choose models/reccnn-webp-s1-m6-d16.keras \
        runs/webp-light-d12w16/post.keras --codec webp --qualities 10 20 35 50 70 90
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from hybridcodec import codecs, zoo
from hybridcodec.coding import CONDITIONS, CodingPath, condition_vector, run_post
from hybridcodec.images import downscaled, list_images, read_rgb
from hybridcodec.metrics import bd_rate, butteraugli, butteraugli_tool, psnr, ssimulacra2


def measure(reference, image) -> dict:
    row = {"psnr": psnr(reference, image), "ssimulacra2": ssimulacra2(reference, image)}
    if butteraugli_tool():
        row["butteraugli"] = -butteraugli(reference, image)[1]  # negated: higher is better, as for the others
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("networks", nargs="+", help=".keras restoration networks of scale 1")
    parser.add_argument("--codec", default="jpeg", help="codec (default: jpeg)")
    parser.add_argument("--encoder", help="the codec's encoder (default: the perceptual tune's)")
    parser.add_argument("--qualities", type=int, nargs="+", default=[15, 25, 40, 55, 70, 85])
    parser.add_argument("--downscale", type=int, default=768, help="long side in pixels (default: 768)")
    parser.add_argument("--out", help="JSON file of the figures (default: none)")
    args = parser.parse_args()
    if args.downscale < 16:  # a 1-pixel picture would be measured without complaint
        parser.error(f"--downscale is a long side in pixels, at least 16, not {args.downscale}")
    nets = [zoo.load_keras_file(path) for path in args.networks]
    # each network's contract, by the length of the condition it takes
    contracts = [next(c for c, k in CONDITIONS.items() if k == net.inputs[1].shape[-1]) for net in nets]
    backend = codecs.get_codec(args.codec).tuned("perceptual", args.encoder)
    rows = []
    for image_path in list_images(args.folder):
        rgb = downscaled(read_rgb(image_path), args.downscale)
        h, w = rgb.shape[:2]
        for q in args.qualities:
            path = CodingPath(backend, q)
            payload = path.encode(rgb)
            decoded = path.decode(payload, w, h)
            bpp = 8 * len(payload) / (h * w)
            rows.append({"image": image_path.name, "quality": q, "bpp": bpp, "method": "plain",
                         **measure(rgb, decoded)})
            for name, net, contract in zip(args.networks, nets, contracts, strict=True):
                restored = run_post(net, decoded, condition_vector(contract, backend, q, payload), w, h)
                rows.append({"image": image_path.name, "quality": q, "bpp": bpp, "method": name,
                             **measure(rgb, restored)})
            print(image_path.name, q, flush=True)
    metrics = [m for m in ("psnr", "ssimulacra2", "butteraugli") if m in rows[0]]
    summary = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for name in args.networks:
            summary[name] = {}
            for metric in metrics:
                values = []
                for image in sorted({r["image"] for r in rows}):
                    plain = [r for r in rows if r["image"] == image and r["method"] == "plain"]
                    net = [r for r in rows if r["image"] == image and r["method"] == name]
                    values.append(bd_rate([r["bpp"] for r in plain], [r[metric] for r in plain],
                                          [r["bpp"] for r in net], [r[metric] for r in net]))
                values = [v for v in values if v is not None]
                summary[name][metric] = round(float(np.mean(values)), 2) if values else None
    for name, figures in summary.items():
        print(name, " ".join(f"{m} {v:+.1f}%" for m, v in figures.items() if v is not None))
    if args.out:
        Path(args.out).write_text(json.dumps({"folder": args.folder, "codec": args.codec,
                                              "encoder": backend.encoder,
                                              "qualities": args.qualities, "bd_rate_percent": summary,
                                              "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
