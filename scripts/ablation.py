"""Short controlled comparisons of restoration networks and losses on JPEG.

Each run trains one configuration for a fixed number of steps (same data,
seed and schedule), then prints the PSNR gain over the decoded image on
384x384 centre crops of the first validation photos, per quality:

    python scripts/ablation.py --name full32x8 --kwargs '{"depth": 8, "width": 32}'
    python scripts/ablation.py --name half64x10 --kwargs '{"depth": 10, "width": 64, "half_resolution": true}'
    python scripts/ablation.py --name arcnn-aspp --model arcnn-aspp
    python scripts/ablation.py --name msssim-l1 --loss ms-ssim+l1
    python scripts/ablation.py --name joint-s2 --mode joint --scale 2

It prints, per quality, the PSNR gain over the classical path at the same
scale, the bpp (codec payload), PSNR and MS-SSIM (ours and classical), so
that runs which change the rate (joint mode: the ComCNN shapes what the codec
sees) compare on both axes, and losses compare on both metrics.

One TensorFlow thread per run, so two runs side by side compare fairly.
"""

import argparse
import json
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--model", default="reccnn")
    parser.add_argument("--kwargs", default="{}", help="model config as JSON")
    parser.add_argument("--loss", default="mse")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2, help="joint mode: alternation rounds")
    parser.add_argument("--mode", default="post")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--qualities", type=int, nargs="+", default=[10, 20, 30, 40, 50], help="training grid")
    parser.add_argument("--eval-qualities", type=int, nargs="+", default=[10, 30, 50])
    parser.add_argument("--data", default="../shared/data/train")
    parser.add_argument("--val", default="../shared/data/val")
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--init", default="", help=".keras model to warm-start from (layers whose shapes match)")
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from hybridcodec import scale as scales
    from hybridcodec.images import list_images, read_rgb
    from hybridcodec.metrics import bpp, ms_ssim, psnr
    from hybridcodec.tools.training import TrainConfig, Trainer

    qualities = args.eval_qualities
    config = TrainConfig(codec="jpeg", data=args.data, val="", mode=args.mode, model=args.model,
                         loss=args.loss, scale=args.scale, steps=args.steps, batch=16, crop=96,
                         qualities=args.qualities, out=f"{args.out}/{args.name}",
                         model_kwargs=json.loads(args.kwargs), checkpoint_minutes=999, rounds=args.rounds,
                         init=args.init)
    trainer = Trainer(config, log=lambda message: None)
    start = time.time()
    trainer.run()
    seconds = time.time() - start

    crops = []
    for path in list_images(args.val)[:7:3]:
        image = read_rgb(path)
        h, w = image.shape[:2]
        crops.append(np.ascontiguousarray(image[h // 2 - 192 : h // 2 + 192, w // 2 - 192 : w // 2 + 192]))
    coded = trainer.code(crops, qualities)  # through the trained ComCNN in joint mode
    restored = trainer.restore(coded)
    rows = {q: [] for q in qualities}
    for k, decoded in enumerate(coded.decoded):
        original = coded.originals[coded.image_index[k]]
        classical = scales.parse(args.scale).upscale(decoded, 384, 384)
        ours = restored[k][:384, :384]
        rows[coded.quality[k]].append((bpp(coded.num_bytes[k], 384, 384), psnr(original, ours),
                                       psnr(original, ours) - psnr(original, classical),
                                       ms_ssim(original, ours), ms_ssim(original, classical)))
    means = {q: np.mean(r, axis=0) for q, r in rows.items()}
    print(json.dumps({"name": args.name, "init": args.init, "steps": args.steps, "seconds": round(seconds),
                      "gain_db": {q: round(float(m[2]), 3) for q, m in means.items()},
                      "bpp": {q: round(float(m[0]), 4) for q, m in means.items()},
                      "psnr": {q: round(float(m[1]), 3) for q, m in means.items()},
                      "ms_ssim": {q: round(float(m[3]), 4) for q, m in means.items()},
                      "ms_ssim_classical": {q: round(float(m[4]), 4) for q, m in means.items()}}))


if __name__ == "__main__":
    main()
