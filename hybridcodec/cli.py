"""The ``hybridcodec`` command line: compress, decompress, info, train, bench,
zoo, costs, bench-large, demo.

This module parses arguments and hands them on (files.py and batch.py for
files, training.py, bench.py, zoo_admin.py for the tools); it does no work
of its own. Exit status: 0 success, 1 bad or refused input, 2 wrong usage
(argparse; also options that do not go together), 130 stopped by Ctrl-C
(SIGINT), 143 stopped by `kill` (SIGTERM), 141 when the reader of standard
output went away (`| head`). Long work draws a progress bar (runtime.progress)
on a terminal only.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import sys
import warnings
from pathlib import Path

from . import codecs, container, names, runtime
from . import scale as scales
from .coding import CONDITIONS
from .errors import HybridCodecError
from .runtime import DECODERS, PRECISIONS
from .settings import EncodeSettings, help_text

# Seconds a loop runs before its progress bar shows: a short command draws nothing.
PROGRESS_DELAY_S = 1.0
# The exit status when the reader of standard output went away (`... | head`):
# 128 + SIGPIPE, what a shell reports for a tool that SIGPIPE ended.
EXIT_BROKEN_PIPE = 141
# Stopped by a signal: 128 + its number, what a shell reports for a tool that
# the signal ended: Ctrl-C (SIGINT) 130, `kill` (SIGTERM) 143.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _codec_choices(lossy_only: bool = False) -> list[str]:
    return codecs.names(lossy_only=lossy_only)


# --scale of compress and bench: the table's words, then the scales themselves
_SCALE_CHOICES = ["auto", "table", *scales.CHOICES]


def _encoder_names() -> str:
    """The encoders of each codec that has a choice: ``jpeg: a, b; avif: c, d``."""
    return "; ".join(f"{name}: {', '.join(codecs.by_name(name).file_encoders())}" for name in codecs.names()
                     if len(codecs.by_name(name).file_encoders()) > 1)


def _training_encoders() -> str:
    """What ``train --encoders`` takes for JPEG: every encoder of the codec, training-only ones included."""
    return ", ".join(codecs.by_name("jpeg").encoders)


def _quality(text: str) -> int:
    """--quality: a whole number 1-99 (the codecs' lossy range), refused otherwise."""
    return _whole(text, 1, 99, "quality")


def _whole(text: str, low: int, high: int | None, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise argparse.ArgumentTypeError(f"{what} must be a whole number {bound}, not {text!r}")
    return value


def _states_default(action) -> bool:
    """Whether ``--help`` prints ``action``'s default: an option that takes a
    value and has one. Not a flag (store_true/false): ``--no-strengths
    (default: True)`` read as "off by default". An empty default ("", [])
    says nothing: its help says what it means in words."""
    return bool(action.option_strings) and action.nargs != 0 and action.default not in (
        None, argparse.SUPPRESS, "", [])


class _Help(argparse.HelpFormatter):
    """States every option's default, unless its help already does."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" not in text and _states_default(action):
            if isinstance(action.default, list):  # as typed: 12 50, not [12, 50]
                text += f" (default: {' '.join(map(str, action.default))})"
            else:
                text += " (default: %(default)s)"
        return text

    def _format_action(self, action):
        if not action.help and _states_default(action):  # argparse prints no help line for these
            action = copy.copy(action)
            action.help = ""
            action.help = self._get_help_string(action).strip()
        return super()._format_action(action)


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's parser: with _Help; ``args._parser`` is the
    innermost parser of a command line, which reports its usage errors."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)
        self.set_defaults(_parser=self)


def _add_batch_options(p):
    p.add_argument("-o", "--output",
                   help="output file (- for standard output), or folder for many inputs "
                   "(default: beside each input)")
    p.add_argument("--max-pixels", type=lambda t: _whole(t, 1, None, "--max-pixels"), default=None,
                   help=_setting_help("max_pixels"))
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("-j", "--jobs", type=lambda t: _whole(t, 1, None, "--jobs"), default=1,
                   help="worker processes for many inputs")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:PORT) to run many inputs on")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


def _setting_help(name: str) -> str:
    """An encode setting's help, with its default, from settings.py (escaped for argparse)."""
    return help_text(name).replace("%", "%%")


def _add_compress(sub):
    # Help and defaults come from settings.EncodeSettings; here, what argparse needs besides.
    # --codec and --quality default to None: the output's name may choose the codec, and
    # a lossless codec refuses a --quality given (EncodeSettings.check_request).
    h, default = _setting_help, EncodeSettings
    p = sub.add_parser("compress", help="compress images to .hc files",
                       description="Compress images (anything Pillow reads) to .hc files. Many files "
                       "or folders can be given: existing outputs are then skipped unless --force.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image files or folders: PNG, JPEG, TIFF, WebP, BMP, ...; - reads standard input")
    p.add_argument("--codec", choices=_codec_choices(), default=None, help=h("codec"))
    p.add_argument("--quality", type=_quality, default=None, help=h("quality"))
    p.add_argument("--scale", choices=_SCALE_CHOICES, default=default.scale, help=h("scale"))
    p.add_argument("--encoder", default=default.encoder,  # help: the registry's names, here
                   help="the codec's encoder (default: the tune's, else the one measured best, if installed; "
                   f"{_encoder_names()}; see docs/ENCODERS.md)")
    p.add_argument("--effort", choices=list(codecs.Codec.EFFORTS), default=default.effort, help=h("effort"))
    p.add_argument("--tune", choices=list(codecs.TUNES), default=default.tune, help=h("tune"))
    p.add_argument("--decoder", choices=list(DECODERS), default=default.decoder, help=h("decoder"))
    p.add_argument("--pre-model", default=default.pre_model, help=h("pre_model"))
    p.add_argument("--post-model", default=default.post_model, help=h("post_model"))
    p.add_argument("--pre-edit", action=argparse.BooleanOptionalAction, default=default.pre_edit, help=h("pre_edit"))
    p.add_argument("--no-strengths", dest="strengths", action="store_false", default=default.strengths,
                   help=h("strengths"))
    p.add_argument("--precision", choices=list(PRECISIONS), default=default.precision, help=h("precision"))
    p.add_argument("--keep-metadata", action="store_true", default=default.keep_metadata, help=h("keep_metadata"))
    p.add_argument("--native", action="store_true", default=default.native, help=h("native"))
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-size", default=default.target_size, help=h("target_size"))
    target.add_argument("--target-bpp", type=float, default=default.target_bpp, help=h("target_bpp"))
    target.add_argument("--target-psnr", type=float, default=default.target_psnr, help=h("target_psnr"))
    target.add_argument("--search", action="store_true", default=default.search, help=h("search"))
    _add_batch_options(p)
    p.set_defaults(func=_run_files)


_PLAIN_QUALITY_HELP = ("quality of a plain WebP, AVIF or JPEG XL file (.hc and native files carry theirs in "
                       "their header; a plain JPEG's is read from its quantization tables, and a --quality "
                       "given for one is ignored with a warning)")


def _add_decompress(sub):
    p = sub.add_parser("decompress", help="decode .hc files to PNG",
                       description="Decode .hc files, restore them and write PNGs (or, for -o, the "
                       "lossless format its extension names: .png, .tif, .webp, .bmp). Many files or "
                       "folders can be given: existing outputs are then skipped unless --force.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help=".hc files, native or plain .jpg/.webp/.avif/.jxl files, or folders; - reads standard input")
    p.add_argument("--quality", type=_quality, help=_PLAIN_QUALITY_HELP)
    p.add_argument("--post-model", help="restoration .keras model to use instead of the installed one")
    p.add_argument("--allow-model-mismatch", action="store_true",
                   help="accept a --post-model whose weights differ from the one the file names")
    _add_batch_options(p)
    p.set_defaults(func=_run_files)


def _settings(args) -> EncodeSettings:
    """compress's settings: every option named as an EncodeSettings field
    (None: not given, the field's default)."""
    from .settings import names

    return EncodeSettings.of(**{name: getattr(args, name) for name in names() if hasattr(args, name)})


def _file_options(args) -> dict:
    if args.command == "compress":
        return {"force": args.force, "settings": _settings(args)}
    return {"force": args.force, "max_pixels": args.max_pixels, "post_model": args.post_model,
            "allow_model_mismatch": args.allow_model_mismatch, "quality": args.quality}


def _run_files(args) -> int:
    from .batch import run

    to_stdout = args.output == "-" or (args.output is None and args.inputs == ["-"])
    if to_stdout and sys.stdout.isatty():  # as gzip and zstd refuse
        raise HybridCodecError("refusing to write binary data to a terminal; use -o FILE or redirect standard output")
    return run(args.command, args.inputs, args.output, _file_options(args), args.jobs, args.scheduler,
               args.quiet)


def _add_info(sub):
    p = sub.add_parser("info", help="describe a file without decoding it",
                       description="Print the header of a .hc file, or of a native or plain "
                       ".jpg/.webp/.avif/.jxl file as decompress reads it, and the path used to code it.")
    p.add_argument("input", help=".hc file, native or plain .jpg/.webp/.avif/.jxl file; - reads standard input")
    p.add_argument("--quality", type=_quality, help=_PLAIN_QUALITY_HELP)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_info)


def _info(args) -> int:
    from .files import info as describe_file

    info = describe_file(args.input, quality=args.quality)
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        width = max(map(len, info))
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _add_train(sub):
    p = sub.add_parser(
        "train",
        help="train restoration (and ComCNN) networks with the real codec in the loop",
        description="Train with the real codec in the loop (Jiang et al. 2017). "
        "Resumes from OUT/checkpoint.npz when run again with the same command.",
    )
    p.add_argument("--codec", default="webp", help="codec in the loop (default: webp)")
    p.add_argument("--data", required=True, help="folder of training images")
    p.add_argument("--val", default="", help="folder of validation images (never trained on; default: none)")
    p.add_argument("--mode", choices=sorted(names.TRAIN_MODES), default="post",
                   help="post: restoration network alone; joint: alternate ComCNN and restoration")
    p.add_argument("--model", choices=list(names.RESTORATION_MODELS), default="reccnn",
                   help="restoration network")
    p.add_argument("--loss", choices=list(names.LOSSES), metavar="LOSS", default="mse",
                   help=f"{names.spoken(names.LOSSES)} (default: mse)")
    p.add_argument("--scale", choices=scales.CHOICES, default="1",
                   help="coding scale: full size, three quarters or half a side (default: 1)")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-clock budget of this invocation (default: none, run to --steps)")
    p.add_argument("--steps", type=int, default=4000, help="total steps of the run (default: 4000)")
    p.add_argument("--rounds", type=int, default=4, help="joint mode: alternation rounds")
    p.add_argument("--pre-model", choices=list(names.PRE_MODELS), default="comcnn",
                   help="joint mode: the pre-processor: comcnn (a learned downscaler, --scale 2) or "
                   "pre-editor (edits the image before the codec, --scale 1)")
    p.add_argument("--rate-weight", type=float, default=None,
                   help="joint mode, JPEG: train the pre-processor through a differentiable JPEG with a "
                   "rate term, lambda = this x the slope of the codec's rate-distortion curve at each "
                   "quality (1: break even at the operating point; 0: no rate term); "
                   "without it, the paper's straight-through step")
    p.add_argument("--adversarial", type=float, default=None, metavar="WEIGHT",
                   help="add a patch discriminator's GAN term at this weight to the restoration "
                   "network's loss (training only: the network and its decode cost are unchanged; "
                   "default: none)")
    p.add_argument("--teacher", default="", metavar="NET.keras",
                   help="distillation: also learn from this restoration network's output (the same "
                   "--condition and scale); the target is (original + W x its output) / (1 + W) "
                   "(default: none)")
    p.add_argument("--teacher-weight", type=float, default=None, metavar="W",
                   help="with --teacher: its weight W in the target (default: 1)")
    p.add_argument("--batch", type=int, default=16, help="crops per step")
    p.add_argument("--crop", type=int, default=128, help="crop side in pixels (default: 128)")
    p.add_argument("--lr", type=float, default=5e-4, help="learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed of the data order: the same seed, the same run")
    p.add_argument("--qualities", type=int, nargs="+", help="training quality grid")
    p.add_argument("--val-qualities", type=int, nargs="+",
                   help="qualities validated at (default: about 5 of the training grid)")
    p.add_argument("--val-every", type=int, default=500, help="steps between validations")
    p.add_argument("--depth", type=int, help="reccnn: number of conv layers")
    p.add_argument("--width", type=int, help="reccnn: channels per layer; recunet: channels at full resolution")
    p.add_argument("--half-resolution", action="store_true",
                   help="reccnn: run the stack at half the output resolution (at scale 2: on the decoded image)")
    p.add_argument("--bfloat16", action="store_true",
                   help="reccnn: hidden layers compute in bfloat16 (CPUs with AVX512-BF16 or AMX: "
                   "2x faster training, 1.6x faster restoring; float32 elsewhere)")
    p.add_argument("--condition", choices=list(CONDITIONS),
                   help="reccnn: what the network is told of the coding: the quality (default) or, "
                   "for JPEG, the file's own quantization tables (serves every JPEG encoder)")
    p.add_argument("--encoders", nargs="+", default=[],
                   help="learn from the files of these encoders, each at every quality (JPEG: "
                   f"{_training_encoders()}; default: the codec's own)")
    p.add_argument("--init", default="",
                   help="start from this .keras restoration model (warm start; default: none, new weights)")
    p.add_argument("--add-downscaled", type=int, default=0, metavar="PIXELS",
                   help="also train on each photo area-downscaled to PIXELS on its long side (default: no)")
    p.add_argument("--distribute", action="store_true",
                   help="train under tf.distribute.MirroredStrategy (all local GPUs)")
    p.add_argument("--out", default="runs/default", help="run folder: checkpoint, log, weights, card")
    p.set_defaults(func=_train)


def _train(args) -> int:
    from .tools.training import TrainConfig, model_options, train

    model_kwargs = model_options(args.model, args.depth, args.width, args.half_resolution, args.bfloat16,
                                 args.condition)
    if args.teacher_weight is not None and not args.teacher:
        raise HybridCodecError("--teacher-weight weighs a --teacher: name one")
    try:
        config = TrainConfig(
            codec=args.codec, data=args.data, val=args.val, mode=args.mode, model=args.model,
            loss=args.loss, scale=args.scale, minutes=args.minutes, steps=args.steps,
            rounds=args.rounds, batch=args.batch, crop=args.crop, lr=args.lr, seed=args.seed,
            out=args.out, qualities=args.qualities or [], val_qualities=args.val_qualities or [],
            val_every=args.val_every,
            model_kwargs=model_kwargs, distribute=args.distribute, init=args.init, encoders=args.encoders,
            pre_model=args.pre_model, rate_weight=args.rate_weight, add_downscaled=args.add_downscaled,
            adversarial=args.adversarial, teacher=args.teacher,
            teacher_weight=1.0 if args.teacher_weight is None else args.teacher_weight,
        )
    except ValueError as error:  # options that do not go together: one line, not a traceback
        raise HybridCodecError(str(error)) from None
    card = train(config, log=lambda message: print(message, file=sys.stderr))
    print(card)
    return 0


def _add_bench(sub):
    p = sub.add_parser("bench", help="rate-distortion of hybridcodec against the plain codec",
                       description="Benchmark every image of a folder at several qualities: "
                       "bpp, PSNR-RGB, MS-SSIM, SSIMULACRA2, Butteraugli (where butteraugli_main is installed) "
                       "and times, BD-rates against plain encoders of the format.")
    p.add_argument("folder", help="folder of images")
    p.add_argument("--codec", choices=_codec_choices(lossy_only=True), default=EncodeSettings.codec,
                   help="codec benchmarked")
    p.add_argument("--qualities", type=int, nargs="+", help="qualities (default: the codec's grid)")
    p.add_argument("--scale", choices=_SCALE_CHOICES, default=EncodeSettings.scale,
                   help="hybridcodec's --scale, as compress takes it")
    p.add_argument("--pre-edit", action=argparse.BooleanOptionalAction, default=EncodeSettings.pre_edit,
                   help="with the pre-editing candidate (off by default), measured against the default (post-only)")
    p.add_argument("--no-strengths", dest="strengths", action="store_false",
                   help="without the restoration's strength per tile: the per-image anchor it is measured against")
    p.add_argument("--precision", choices=list(PRECISIONS), default=EncodeSettings.precision,
                   help="restoration networks in int8 (default) or float32 (compare both for int8's cost)")
    p.add_argument("--tune", choices=list(codecs.TUNES), default=EncodeSettings.tune,
                   help="hybridcodec's --tune, as compress takes it (default: %(default)s); plain is its encoder")
    p.add_argument("--decoder", choices=list(DECODERS), default=EncodeSettings.decoder,
                   help="hybridcodec's --decoder, as compress takes it (default: %(default)s)")
    p.add_argument("--out", default="results", help="folder for JSON, CSV and plot (default: results)")
    p.set_defaults(func=_bench)


def _bench(args) -> int:
    from .tools.bench import run

    with warnings.catch_warnings():
        # bjontegaard's notes on curves that overlap little: the summary holds None where it cannot answer
        warnings.filterwarnings("ignore", module="bjontegaard")
        settings = EncodeSettings.of(codec=args.codec, scale=args.scale, pre_edit=args.pre_edit,
                                     strengths=args.strengths, precision=args.precision, tune=args.tune,
                                     decoder=args.decoder)
        summary = run(args.folder, settings, args.qualities, args.out, progress=sys.stderr.isatty())
    print("\n".join(_bench_table(summary, args.out)))
    return 0


_METRIC_NAMES = {"psnr": "PSNR-RGB", "ms_ssim": "MS-SSIM"}


def _bench_table(summary: dict, out) -> list[str]:
    """bench's short report: the BD-rates against each reference and a few
    lines; every figure is in OUT/CODEC-summary.json."""
    def percent(value):
        return "-" if value is None else f"{value:+.1f}%"

    by_reference = summary.get("bd_rate_by_reference", {})
    metrics = list(dict.fromkeys(m for rates in by_reference.values() for m in rates))
    codec = summary["codec"]
    lines = [f"{codec} on {summary['images']}: BD-rate of hybridcodec (negative: fewer bytes for the same quality)",
             "| against | " + " | ".join(_METRIC_NAMES.get(m, m) for m in metrics) + " |",
             "|---|" + "---:|" * len(metrics)]
    for method, rates in by_reference.items():
        ref = summary.get("references", {}).get(method, {})
        name = f"{method}: {ref['codec']} {ref['encoder']}" if ref else method
        lines.append(f"| {name} | " + " | ".join(percent(rates.get(m)) for m in metrics) + " |")
    if summary.get("bd_psnr_db") is not None:
        lines.append(f"BD-PSNR against plain: {summary['bd_psnr_db']:+.2f} dB")
    worst = summary.get("worst_point")
    if worst:
        lines.append(f"points below plain: {summary['points_below_plain']} of {summary['points_judged']}; worst "
                     f"{worst['gain_db']:+.2f} dB ({worst['image']}, quality {worst['quality']})")
    encode, decode = summary.get("mean_encoding_time_s"), summary.get("mean_decoding_time_s")
    if encode and decode:
        lines.append(f"mean seconds a file, plain / hybridcodec: encode {encode['plain']:.3f} / "
                     f"{encode['hybrid']:.3f}, decode {decode['plain']:.3f} / {decode['hybrid']:.3f}")
    lines.append(f"every figure: {Path(out) / f'{codec}-summary.json'} (per image: {codec}-per-image.csv)")
    return lines


def _add_zoo(sub):
    p = sub.add_parser("zoo", help="list shipped networks; add a trained run; fix the operating points",
                       description="Manage the shipped networks in models/ (a source checkout).")
    p.add_argument("--all", action="store_true", help="also list superseded networks (kept so old files decode)")
    zoo_sub = p.add_subparsers(dest="zoo_command", metavar="ACTION", parser_class=_Parser)
    p.set_defaults(func=_zoo_list)
    add = zoo_sub.add_parser("add", help="copy a training run's weights and card into models/")
    add.add_argument("run", help="training run folder (with card.json)")
    add.add_argument("--name", required=True, help="name in the zoo, e.g. reccnn-jpeg-s1")
    add.add_argument("--codec", required=True, choices=_codec_choices(lossy_only=True))
    add.add_argument("--role", choices=sorted(container.ROLES.values()), default="post",
                     help="the run's restoration network (post, default) or its pre-processor (pre)")
    add.add_argument("--light-of", metavar="NAME",
                     help="add it as the light tier (--decoder light) of this shipped restoration network")
    add.set_defaults(func=_zoo_add)
    pair = zoo_sub.add_parser("pre-edit", help="set the pre-editing pair --scale auto tries for an encoder",
                              description="Name the pre-processor and the restoration network retrained on "
                              "its files that --scale auto tries as one more candidate on each image; "
                              "without networks, remove the pair.")
    pair.add_argument("--codec", required=True, choices=_codec_choices(lossy_only=True))
    pair.add_argument("--encoder", help="the codec's encoder (default: its default)")
    pair.add_argument("networks", nargs="*", metavar="NAME", help="PRE POST: zoo names (none: remove the pair)")
    pair.set_defaults(func=_zoo_pre_edit)
    plain = zoo_sub.add_parser("plain-files", help="set the network that restores plain files (any encoder's)",
                               description="Name the full-size network that restores plain files of a codec "
                               "(no hybridcodec header); without a name, the default table's network does.")
    plain.add_argument("--codec", required=True, choices=_codec_choices(lossy_only=True))
    plain.add_argument("name", nargs="?", metavar="NAME", help="a zoo network (none: the default table's)")
    plain.set_defaults(func=_zoo_plain_files)
    choose = zoo_sub.add_parser("choose", help="fix a codec's operating-point table on validation images")
    choose.add_argument("--codec", required=True, choices=_codec_choices(lossy_only=True))
    choose.add_argument("--val", required=True, help="folder of validation images (never the training set)")
    choose.add_argument("--qualities", type=int, nargs="+", help="quality grid (default: the codec's)")
    choose.add_argument("--models", nargs="+", metavar="NAME",
                        help="networks to consider (default: every network shipped for the codec)")
    choose.add_argument("--encoder", help="fix the table of this encoder of the codec (default: the first "
                        "encoder's table, which serves the others with their qualities mapped)")
    choose.set_defaults(func=_zoo_choose)
    replace = zoo_sub.add_parser("replace", help="restore with a retrained network wherever a table uses another",
                                 description="In every operating-point table, the rows restored by OLD are "
                                 "restored by NEW (a retrained network of the same codec and scale). OLD stays "
                                 "in the zoo for the files that name it.")
    replace.add_argument("old", metavar="OLD")
    replace.add_argument("new", metavar="NEW")
    replace.set_defaults(func=_zoo_replace)
    export = zoo_sub.add_parser("export", help="export shipped networks to ONNX for the runtime, pinned by SHA-256",
                                description="Write models/NAME.onnx for each network (default: all) and "
                                "record its SHA-256 in the manifest. Needs the train extra (keras, onnx).")
    export.add_argument("names", nargs="*", metavar="NAME", help="networks to export (default: every one)")
    export.set_defaults(func=_zoo_export)
    quantize = zoo_sub.add_parser("quantize", help="make and weigh the int8 twin of a shipped network",
                                  description="Quantize a restoration network to int8 (ONNX Runtime, "
                                  "static), calibrated on --data at the qualities its tables use, weigh it "
                                  "against the float32 network on --val, and list it as NAME-int8 if it "
                                  "costs at most --max-cost dB. Needs the train extra (onnx).")
    quantize.add_argument("name", metavar="NAME", help="a shipped restoration network")
    quantize.add_argument("--data", required=True, help="calibration photos (the training set)")
    quantize.add_argument("--val", required=True, help="photos to weigh the twin on (never the training set)")
    quantize.add_argument("--max-cost", type=float, default=0.05, help="largest mean PSNR loss in dB (default 0.05)")
    quantize.set_defaults(func=_zoo_quantize)


def _zoo_list(args) -> int:
    from .tools.zoo_admin import listing

    print("\n".join(listing(args.all)))
    return 0


def _zoo_add(args) -> int:
    from .tools.zoo_admin import add

    print(json.dumps(add(args.run, args.name, args.codec, args.role, args.light_of or ""), indent=1))
    return 0


def _zoo_plain_files(args) -> int:
    from .tools.zoo_admin import set_plain_files

    print(set_plain_files(args.codec, args.name))
    return 0


def _zoo_pre_edit(args) -> int:
    from .tools.zoo_admin import set_pre_edit

    if len(args.networks) not in (0, 2):
        raise HybridCodecError("give two networks, PRE POST, or none to remove the pair")
    pre, post = args.networks or (None, None)
    print(set_pre_edit(args.codec, args.encoder, pre, post))
    return 0


def _zoo_choose(args) -> int:
    from .tools.zoo_admin import choose_table

    print("\n".join(choose_table(args.codec, args.val, args.qualities, args.models, args.encoder)))
    return 0


def _zoo_replace(args) -> int:
    from .tools.zoo_admin import replace_network

    print(replace_network(args.old, args.new))
    return 0


def _zoo_export(args) -> int:
    from .tools.zoo_admin import export_zoo

    print("\n".join(export_zoo(args.names)))
    return 0


def _zoo_quantize(args) -> int:
    from .tools.zoo_admin import quantize

    card = quantize(args.name, args.data, args.val, args.max_cost)
    evaluation, ms = card["evaluation"], card["ms_768x512"]
    print(f"{card['name']}: {evaluation['mean_cost_db']:+.3f} dB below float32 on {args.val} (largest pixel "
          f"difference {evaluation['largest_pixel_difference']}); 768x512 {ms['float32']} ms -> {ms['int8']} ms")
    return 0


def _add_costs(sub):
    p = sub.add_parser("costs", help="parameters, FLOPs per pixel and restore time of every network",
                       description="Measure every network configuration on a 768x512 image on this machine.")
    p.set_defaults(func=_costs)


def _costs(args) -> int:
    from .tools.bench import cost_table

    cost_table()
    return 0


def _add_large(sub):
    p = sub.add_parser("bench-large", help="peak memory and time at 1, 12 and 50 megapixels",
                       description="Compress and decompress synthetic images of growing size, each in "
                       "a fresh process, and print peak RSS and seconds.")
    p.add_argument("--megapixels", type=float, nargs="+", default=[1, 12, 50], help="image sizes")
    p.add_argument("--codec", choices=_codec_choices(lossy_only=True), default="jpeg", help="codec")
    p.add_argument("--quality", type=_quality, default=30, help="quality")
    p.set_defaults(func=_large)


def _large(args) -> int:
    from .tools.bench import large_images

    large_images(args.megapixels, args.codec, args.quality)
    return 0


def _add_bench_decode(sub):
    p = sub.add_parser("bench-decode", help="decode time and peak memory in cold processes, against djpeg",
                       description="Decompress JPEG .hc files of 768x512, 12 and 50 megapixels in fresh "
                       "processes (output written) and print median wall time and peak RSS; also "
                       "Image.open().load() and a batch of 16 with --jobs 1 and 2.")
    p.add_argument("--runs", type=lambda t: _whole(t, 1, None, "runs"), default=5,
                   help="cold processes per case (50 megapixels: one)")
    p.add_argument("--megapixels", type=float, nargs="*", default=[12, 50],
                   help="sizes of the large cases (none given: 768x512 only)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.set_defaults(func=_bench_decode)


def _bench_decode(args) -> int:
    from .tools.bench_decode import run

    results = run(args.runs, args.megapixels)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


def _add_demo(sub):
    p = sub.add_parser("demo", help="compress one image with every codec, plain against hybridcodec")
    p.add_argument("image", nargs="?", default=None, help="image (default: the bundled sample)")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    from .tools.bench import demo

    image = args.image or Path(__file__).parent / "samples" / "astronaut.png"
    demo(image)
    return 0


def _add_web(sub):
    p = sub.add_parser("web", help="write the folder a web page needs to restore native files in the browser",
                       description="Write into DIR the JavaScript module (docs/WEB.md), the networks the given "
                       "native files name and their index (models/), the files themselves and an example page, "
                       "index.html. onnxruntime-web is not included: install it with npm and pass --ort.")
    p.add_argument("folder", metavar="DIR", help="output folder (made if missing)")
    p.add_argument("files", metavar="FILE", nargs="*", help="native .jpg/.webp/.avif/.jxl files (compress --native)")
    p.add_argument("--all", action="store_true", help="write every current restoration network, not only the files'")
    p.add_argument("--ort", metavar="PATH", help="an installed onnxruntime-web/dist folder to copy into DIR/ort")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=_web)


def _web(args) -> int:
    from .web import write

    if not args.files and not args.all:
        args._parser.error("give native files, or --all for every network")
    written = write(args.folder, args.files, args.all, args.force, args.ort)
    if not args.quiet:
        print(f"wrote {len(written)} files into {args.folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="hybridcodec",
        description="Standard image codecs made better with learned pre- and post-processing.",
    )
    parser.add_argument("--version", action="version", version=f"hybridcodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_compress(sub)
    _add_decompress(sub)
    _add_info(sub)
    _add_train(sub)
    _add_bench(sub)
    _add_zoo(sub)
    _add_costs(sub)
    _add_large(sub)
    _add_bench_decode(sub)
    _add_demo(sub)
    _add_web(sub)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM: unwinds like Ctrl-C, and ends with EXIT_TERMINATED."""


def _interrupt_on_sigterm() -> None:
    """`kill` (SIGTERM) unwinds like Ctrl-C, so temporary files are removed
    and a folder run's workers ended on the way out (batch.py). The first
    signal stops the run within seconds; later ones are ignored, so that they
    cannot cut the cleanup short."""
    import signal
    import threading

    def interrupt(signum, frame):
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, signal.SIG_IGN)
        runtime.stop_signal = signum  # where batch.py sees it: a stop that a task took for an error
        raise _Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)


def _check_usage(args) -> None:
    """Options that do not go together are wrong usage (exit 2), refused
    before any work by the command's parser."""
    if args.command != "compress":
        return
    from . import files

    settings = _settings(args)
    if args.output is not None:
        with contextlib.suppress(HybridCodecError):  # a bad name is refused later, as bad input (exit 1)
            codec, _ = files.compress_target(args.output, settings.named_codec(), args.native)  # x.webp: webp
            settings = settings.but(codec=codec)
    try:
        settings.check_request()
    except HybridCodecError as error:
        args._parser.error(str(error))


def _bar(**kwargs):
    from tqdm import tqdm

    return tqdm(file=sys.stderr, leave=False, delay=PROGRESS_DELAY_S, dynamic_ncols=True, **kwargs)


def _progress_bars(args):
    """Long loops (runtime.progress: a network's tiles, rate control's
    encodes, bench-decode's runs) draw a bar on standard error: only on a
    terminal and without -q, so a log or a pipe gets no bar lines."""
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return runtime.progress_to(_bar)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, as errors are: files.show_warning (imported
    here, not at start-up: ``zoo list`` does not need numpy)."""
    from .files import show_warning

    show_warning(message, category, filename, lineno, file, line)


def _stdout_to_devnull() -> None:
    """After a broken pipe: standard output to /dev/null, so that the flush
    at exit does not raise it again."""
    with contextlib.suppress(OSError, ValueError):  # ValueError: not a real file (a test's capture)
        stdout = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout)
        os.close(devnull)


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's own parser, with its usage, not the top level's
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _check_usage(args)
    # TensorFlow's and oneDNN's start-up chatter; train keeps its warnings
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if args.command == "train" else "3")
    if argv is None:  # a real command-line run, not a call from Python
        _interrupt_on_sigterm()
    try:
        with warnings.catch_warnings(), _progress_bars(args):
            warnings.showwarning = _warning_line
            code = args.func(args)
            sys.stdout.flush()  # a reader gone away shows here, not at exit
        return code
    except HybridCodecError as error:
        print(f"hybridcodec: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `hybridcodec zoo --all | head`: the reader has all it wanted
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt as interrupt:
        return _interrupted(interrupt)


def _interrupted(interrupt: KeyboardInterrupt) -> int:
    """Say so, remove what a signal left, and return the signal's exit status."""
    from .files import remove_temporaries

    remove_temporaries()  # the ones whose unwinding a signal cut short
    print("hybridcodec: interrupted", file=sys.stderr)
    if runtime.stop_signal:  # batch.py stops with a KeyboardInterrupt for a SIGTERM too
        return 128 + runtime.stop_signal
    return EXIT_TERMINATED if isinstance(interrupt, _Terminated) else EXIT_INTERRUPTED


def run() -> None:
    """The ``hybridcodec`` command: ``main``, then a quick exit. Why: once
    the work is done and the output renamed into place, the interpreter's
    teardown (ONNX Runtime's sessions and thread pool, every module) took
    0.06-0.08 s of a 0.55 s 768x512 decompress. atexit handlers still run;
    an exception still ends the normal way, with its traceback."""
    import atexit
    import signal

    try:
        code = main()
        for stop in (signal.SIGINT, signal.SIGTERM):  # done: a signal now would print a traceback from here
            signal.signal(stop, signal.SIG_IGN)
    except KeyboardInterrupt as interrupt:  # the first signal came while main() handled an error or returned
        code = _interrupted(interrupt)
    if runtime.stop_signal and code not in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        # the interrupt was lost on its way: 1 in 45 SIGTERMs came during `import onnxruntime`,
        # which made it an ImportError ("onnxruntime is not installed"), exit 1
        print("hybridcodec: interrupted", file=sys.stderr)
        code = 128 + runtime.stop_signal
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
