"""The ``hybridcodec`` command line: compress, decompress, info, train, bench, demo.

Exit status: 0 success, 1 bad or refused input, 2 wrong usage (argparse).
"""

from __future__ import annotations

import argparse
import sys

from .errors import HybridCodecError


def _add_train(sub):
    p = sub.add_parser(
        "train",
        help="train restoration (and ComCNN) networks with the real codec in the loop",
        description="Train with the real codec in the loop (Jiang et al. 2017). "
        "Resumes from OUT/checkpoint.npz when run again with the same command.",
    )
    p.add_argument("--codec", default="webp", help="codec in the loop (default: webp)")
    p.add_argument("--data", required=True, help="folder of training images")
    p.add_argument("--val", default="", help="folder of validation images (never trained on)")
    p.add_argument("--mode", choices=["joint", "post"], default="post",
                   help="post: restoration network alone; joint: alternate ComCNN and restoration")
    p.add_argument("--model", choices=["reccnn", "arcnn", "arcnn-aspp"], default="reccnn")
    p.add_argument("--loss", default="l1", help="mse, l1, ssim, ms-ssim or ms-ssim+l1 (default: l1)")
    p.add_argument("--scale", type=int, choices=[1, 2], default=1)
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget of this invocation")
    p.add_argument("--steps", type=int, default=4000, help="total steps of the run (default: 4000)")
    p.add_argument("--rounds", type=int, default=4, help="joint mode: alternation rounds")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=128, help="crop side in pixels (default: 128)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qualities", type=int, nargs="+", help="training quality grid")
    p.add_argument("--val-every", type=int, default=500, help="steps between validations")
    p.add_argument("--depth", type=int, help="reccnn: number of conv layers")
    p.add_argument("--width", type=int, help="reccnn: channels per layer")
    p.add_argument("--distribute", action="store_true",
                   help="train under tf.distribute.MirroredStrategy (all local GPUs)")
    p.add_argument("--out", default="runs/default", help="run folder: checkpoint, log, weights, card")
    p.set_defaults(func=_train)


def _train(args) -> int:
    from .training import TrainConfig, train

    model_kwargs = {k: v for k, v in (("depth", args.depth), ("width", args.width)) if v}
    config = TrainConfig(
        codec=args.codec, data=args.data, val=args.val, mode=args.mode, model=args.model,
        loss=args.loss, scale=args.scale, minutes=args.minutes, steps=args.steps,
        rounds=args.rounds, batch=args.batch, crop=args.crop, lr=args.lr, seed=args.seed,
        out=args.out, qualities=args.qualities or [], val_every=args.val_every,
        model_kwargs=model_kwargs, distribute=args.distribute,
    )
    card = train(config, log=lambda message: print(message, file=sys.stderr))
    print(card)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridcodec",
        description="Standard image codecs made better with learned pre- and post-processing.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HybridCodecError as error:
        print(f"hybridcodec: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hybridcodec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
