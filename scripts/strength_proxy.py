"""Does a fast metric pick the restoration strength SSIMULACRA2 picks?

For every photo of a folder (area-downscaled to --downscale px on the long
side) and quality, the JPEG encoder's file is restored by the network
``hybridcodec decompress`` uses, and the whole-image strengths of
strength.STRENGTHS (plus 2.0) are blended as the decoder blends them. For
each, PSNR-RGB, SSIM (metrics.ssim), Butteraugli (if installed) and
SSIMULACRA2 are measured; the script prints how often each metric's best
strength is SSIMULACRA2's (issue #40, item 5: the per-tile strength under
the perceptual tune is chosen by a proxy shown to rank candidates as the
eye-fitted metric does).

    python scripts/strength_proxy.py ../shared/data/choose --downscale 768 --out results/strength-proxy-choose.json
"""

import argparse
import json
from pathlib import Path

import hybridcodec
from hybridcodec import codecs, strength
from hybridcodec.coding import CodingPath
from hybridcodec.images import downscaled, list_images, read_rgb
from hybridcodec.metrics import butteraugli, butteraugli_tool, psnr, ssim, ssimulacra2

METRICS = {"psnr": max, "ssim": max, "butteraugli": min, "ssimulacra2": max}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--encoder", default="mozjpeg-default", help="JPEG encoder (default: mozjpeg-default)")
    parser.add_argument("--qualities", type=int, nargs="+", default=[20, 50, 80], help="default: 20 50 80")
    parser.add_argument("--downscale", type=int, default=768, help="long side in pixels (default: 768)")
    parser.add_argument("--out", help="JSON file of every measurement (default: none)")
    args = parser.parse_args()
    backend = codecs.get_codec("jpeg").configured(args.encoder)
    rows = []
    for image_path in list_images(args.folder):
        rgb = downscaled(read_rgb(image_path), args.downscale)
        h, w = rgb.shape[:2]
        for q in args.qualities:
            payload = backend.encode(rgb, q)
            plain = CodingPath(backend, q).decode(payload, w, h)
            restored = hybridcodec.decompress(payload)  # a plain JPEG: the plain-files network restores it
            for s in (*strength.STRENGTHS, 2.0):
                shown = strength.blend(plain, restored, s)
                row = {"image": image_path.name, "quality": q, "strength": s, "psnr": psnr(rgb, shown),
                       "ssim": ssim(rgb, shown), "ssimulacra2": ssimulacra2(rgb, shown)}
                if butteraugli_tool():
                    row["butteraugli"] = butteraugli(rgb, shown)[1]
                rows.append(row)
    groups = {}
    for row in rows:
        groups.setdefault((row["image"], row["quality"]), []).append(row)
    agree = {m: 0 for m in METRICS if m != "ssimulacra2" and m in rows[0]}
    for group in groups.values():
        best = {m: pick(group, key=lambda r, m=m: r[m])["strength"] for m, pick in METRICS.items() if m in group[0]}
        for m in agree:
            agree[m] += best[m] == best["ssimulacra2"]
    summary = {m: f"{n}/{len(groups)}" for m, n in agree.items()}
    print("best strength as SSIMULACRA2's:", summary)
    if args.out:
        Path(args.out).write_text(json.dumps({"agreement": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
