"""Rate-distortion curves of pre-editing: pre+post against post-only and plain.

    python scripts/pre_edit_curves.py ../shared/data/choose --pre runs/R/pre.keras --post runs/R/post.keras \
        --out results/pre-edit-curves-choose.json

For each image and each quality of the codec's grid (the encoder's own
quality through ``Codec.encoder_quality``), three files at the same codec
quality: the plain codec's; the same file restored by the shipped
full-size network (post-only, the anchor: ``--anchor``, default the
``jpeg:mozjpeg`` table's); and the pre-edited file restored by ``--post``.
BD-rates (PSNR-RGB and MS-SSIM) of pre+post against the anchor and the
plain codec, on the mean curves and per image (the spread). This measures
the curves themselves; ``hybridcodec bench --no-pre-edit`` measures what
the per-image decision makes of them.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from hybridcodec import codecs, zoo
from hybridcodec.coding import CodingPath
from hybridcodec.images import list_images, read_rgb
from hybridcodec.metrics import bd_rate, bpp, ms_ssim, psnr


def percent(value) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--codec", default="jpeg")
    parser.add_argument("--pre", required=True, help="pre-processor: a .keras file or a zoo name")
    parser.add_argument("--post", required=True, help="its restoration network: a .keras file or a zoo name")
    parser.add_argument("--anchor", default=None, help="post-only network (default: the table's full-size one)")
    parser.add_argument("--qualities", type=int, nargs="+", help="user qualities (default: the codec's grid)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    def network(name):
        return zoo.load_keras_file(name) if name.endswith(".keras") else zoo.load(name)

    backend = codecs.get_codec(args.codec)
    qualities = args.qualities or list(backend.quality_grid)
    own = [backend.encoder_quality(q) for q in qualities]
    anchor = network(args.anchor) if args.anchor else zoo.load(
        zoo.operating_point(args.codec, own[0], 1, backend.encoder).post)
    pre, post = network(args.pre), network(args.post)
    rows = {"plain": [], "post-only": [], "pre+post": []}
    names = []
    for path in list_images(args.folder):
        rgb = read_rgb(path)
        h, w = rgb.shape[:2]
        names.append(path.name)
        per = {k: [] for k in rows}
        for q in own:
            plain = CodingPath(backend, q, post=anchor)
            payload = plain.encode(rgb)
            decoded = plain.decode(payload, w, h)
            edited = CodingPath(backend, q, pre=pre, post=post)
            edited_payload = edited.encode(rgb)
            outputs = {"plain": (payload, decoded), "post-only": (payload, plain.restore(decoded, w, h, payload)),
                       "pre+post": (edited_payload, edited.restore(edited.decode(edited_payload, w, h), w, h,
                                                                   edited_payload))}
            for k, (data, out) in outputs.items():
                per[k].append((bpp(len(data), w, h), psnr(rgb, out), ms_ssim(rgb, out)))
        for k in rows:
            rows[k].append(per[k])
        print(path.name, {k: f"{per[k][2][0]:.3f} bpp {per[k][2][1]:.2f} dB" for k in per}, flush=True)
    curves = {k: np.array(v) for k, v in rows.items()}  # (images, qualities, 3)

    def bd(ref, test, metric):
        return bd_rate(ref[:, 0], ref[:, metric], test[:, 0], test[:, metric])

    report = {"folder": args.folder, "codec": args.codec, "encoder": backend.library_version(),
              "qualities": qualities, "codec_qualities": own, "pre": args.pre, "post": args.post,
              "anchor": args.anchor or "table", "images": names,
              "mean": {k: v.mean(axis=0).tolist() for k, v in curves.items()}}
    for ref in ("post-only", "plain"):
        mean_ref, mean_test = curves[ref].mean(axis=0), curves["pre+post"].mean(axis=0)
        per_image = [bd(curves[ref][i], curves["pre+post"][i], 1) for i in range(len(names))]
        measured = [b for b in per_image if b is not None] or [float("nan")]  # None: curves do not overlap
        report[f"vs {ref}"] = {"bd_rate_psnr": bd(mean_ref, mean_test, 1),
                               "bd_rate_ms_ssim": bd(mean_ref, mean_test, 2), "per_image_psnr": per_image,
                               "per_image_spread": [min(measured), max(measured)]}
        figures = report[f"vs {ref}"]
        print(f"pre+post vs {ref}: BD-rate PSNR {percent(figures['bd_rate_psnr'])} "
              f"(per image {percent(min(measured))} to {percent(max(measured))}), "
              f"MS-SSIM {percent(figures['bd_rate_ms_ssim'])}")
    report["post-only vs plain"] = {"bd_rate_psnr": bd(curves["plain"].mean(0), curves["post-only"].mean(0), 1)}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
