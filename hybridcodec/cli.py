"""The ``hybridcodec`` command line: compress, decompress, info, train, bench,
zoo, costs, bench-large, demo.

Exit status: 0 success, 1 bad or refused input, 2 wrong usage (argparse).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

from .errors import HybridCodecError

CODEC_CHOICES = ["jpeg", "webp", "avif", "jpegxl", "png"]


def write_atomic(path: Path, data: bytes, force: bool, source: Path | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a
    crash or Ctrl-C never leaves a half-written output. Refuses to write over
    the input, and over an existing file unless ``force``."""
    path = Path(path)
    check_output(path, source, force)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output(path: Path, source: Path | None, force: bool) -> None:
    """Refuse to write over the input, or over an existing file without --force."""
    if source is not None and path.resolve() == Path(source).resolve():
        raise HybridCodecError(f"output {path} is the input file; choose another with -o")
    if path.exists() and not force:
        raise HybridCodecError(f"{path} exists; use --force to overwrite it")


def _read_bytes(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise HybridCodecError(f"cannot read {path}: {error.strerror or error}") from None


def _add_batch_options(p):
    p.add_argument("-o", "--output",
                   help="output file, or folder for many inputs (default: beside each input)")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse larger images (default: 2^28)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes for many inputs (default: 1)")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:PORT) to run many inputs on")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


def _add_compress(sub):
    p = sub.add_parser("compress", help="compress images to .hc files",
                       description="Compress images (anything Pillow reads) to .hc files. Many files "
                       "or folders can be given: existing outputs are then skipped unless --force.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders: PNG, JPEG, TIFF, WebP, BMP, ...")
    p.add_argument("--codec", choices=CODEC_CHOICES, default="webp", help="codec backend (default: webp)")
    p.add_argument("--quality", type=int, default=50,
                   help="1-99 on the codec's own scale (default: 50). With --scale auto the file "
                   "stays within about the plain codec's size at this quality, and hybridcodec "
                   "picks the scale, codec quality and network that restore best in it")
    p.add_argument("--scale", choices=["auto", "1", "4/3", "2"], default="auto",
                   help="code at full (1), three-quarter (4/3) or half (2) size at exactly --quality; auto (default) "
                   "uses the table fixed on validation photos, see models/manifest.json")
    p.add_argument("--pre-model", help="your own pre-processing .keras model (ComCNN contract)")
    p.add_argument("--post-model", help="your own restoration .keras model to record in the file")
    p.add_argument("--keep-metadata", action="store_true", help="keep EXIF metadata (the ICC profile is always kept)")
    p.add_argument("--native", action="store_true",
                   help="write a standard .jpg/.webp/.avif/.jxl that any viewer opens, with the "
                   "hybridcodec header inside (default output: IN.hc.EXT; scale 1 unless --scale is given)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target-size", help="best file not over this size (e.g. 30KB); searches quality and scale")
    target.add_argument("--target-bpp", type=float, help="best file not over this many bits per pixel")
    target.add_argument("--target-psnr", type=float, help="smallest file whose restored image reaches this PSNR (dB)")
    target.add_argument("--search", action="store_true",
                        help="try every scale on this image and keep the one that restores best "
                        "within the full-size file's bytes at --quality (about 21 encodes)")
    _add_batch_options(p)
    p.set_defaults(func=_run_files, suffix=".hc")


def compress_file(source: Path, output: Path, force=False, codec="webp", quality=50, scale="auto",
                  pre_model=None, post_model=None, keep_metadata=False, max_pixels=None,
                  target_size=None, target_bpp=None, target_psnr=None, search=False, native=False) -> str:
    """Compress one file; returns the line to print. Raises HybridCodecError."""
    from .container import DEFAULT_MAX_PIXELS, describe
    from .images import load_image

    check_output(output, source, force)  # fail before the work, not after
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    image = load_image(source, max_pixels=max_pixels)
    for warning in image.warnings:
        print(f"hybridcodec: warning: {warning}", file=sys.stderr)
    options = dict(pre_model=pre_model, post_model=post_model, icc=image.icc,
                   metadata=image.exif if keep_metadata else b"", max_pixels=max_pixels, native=native)
    with warnings.catch_warnings(record=True) as caught:  # one line each, like the image's
        warnings.simplefilter("always")
        encoded = _encode_file(image.pixels, codec, quality, scale, target_size, target_bpp, target_psnr,
                               search, options)
    for warning in caught:
        print(f"hybridcodec: warning: {warning.message}", file=sys.stderr)
    write_atomic(output, encoded.data, force, source)
    info = describe(encoded.hc, len(encoded.data))
    return (f"{source} -> {output}: {info['codec']} quality {info['quality']}, scale {info['scale']}, "
            f"{info['file_bytes']} bytes, {info['bpp']} bpp; pre: {info['pre']}; post: {info['post']}")


def _encode_file(pixels, codec, quality, scale, target_size, target_bpp, target_psnr, search, options):
    """The encode ``compress`` asked for: a size, bpp or PSNR target, --search, or plain."""
    from .pipeline import encode

    if target_size or target_bpp:
        from .ratecontrol import fit_size, parse_size

        height, width = pixels.shape[:2]
        limit = parse_size(target_size) if target_size else int(target_bpp * width * height / 8)
        return fit_size(pixels, codec, limit, **options)
    if target_psnr:
        from .ratecontrol import reach_psnr

        return reach_psnr(pixels, codec, target_psnr, **options)
    if search:
        from .ratecontrol import search as search_path

        return search_path(pixels, codec, quality, **options)
    return encode(pixels, codec, quality, scale, **options)


def _add_decompress(sub):
    p = sub.add_parser("decompress", help="decode .hc files to PNG",
                       description="Decode .hc files, restore them and write PNGs. Many files or "
                       "folders can be given: existing outputs are then skipped unless --force.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help=".hc files, native or plain .jpg/.webp/.avif/.jxl files, or folders")
    p.add_argument("--quality", type=int, help="quality of a plain WebP/AVIF/JPEG XL file "
                   "(read from a JPEG's tables, and from the header of .hc and native files)")
    p.add_argument("--post-model", help="restoration .keras model to use instead of the installed one")
    p.add_argument("--allow-model-mismatch", action="store_true",
                   help="accept a --post-model whose weights differ from the one the file names")
    _add_batch_options(p)
    p.set_defaults(func=_run_files, suffix=".png")


def decompress_file(source: Path, output: Path, force=False, post_model=None,
                    allow_model_mismatch=False, max_pixels=None, quality=None) -> str:
    """Decompress one file; returns the line to print. Raises HybridCodecError."""
    import io

    from .container import DEFAULT_MAX_PIXELS
    from .images import save_png
    from .pipeline import decode

    check_output(output, source, force)
    decoded = decode(_read_bytes(source), post_model=post_model,
                     max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                     allow_model_mismatch=allow_model_mismatch, quality=quality)
    buffer = io.BytesIO()
    save_png(buffer, decoded.image, decoded.hc.icc, decoded.hc.metadata)
    write_atomic(output, buffer.getvalue(), force, source)
    h = decoded.hc.header
    return f"{source} -> {output}: {h.width}x{h.height}, {h.channels} channel(s)"


def _file_options(args) -> dict:
    options = {"force": args.force, "max_pixels": args.max_pixels, "post_model": args.post_model}
    if args.command == "compress":
        options.update(codec=args.codec, quality=args.quality, scale=args.scale,
                       pre_model=args.pre_model, keep_metadata=args.keep_metadata,
                       target_size=args.target_size, target_bpp=args.target_bpp,
                       target_psnr=args.target_psnr, search=args.search, native=args.native)
    else:
        options.update(allow_model_mismatch=args.allow_model_mismatch, quality=args.quality)
    return options


def default_output(source: Path, args) -> Path:
    """x.png -> x.hc; with --native, x.png -> x.hc.webp; x.hc (or x.hc.webp) -> x.png / x.hc.png."""
    if getattr(args, "native", False):
        from .native import EXTENSIONS

        return source.with_suffix(".hc" + EXTENSIONS[args.codec])
    return source.with_suffix(args.suffix)


def _run_files(args) -> int:
    from . import batch

    if getattr(args, "native", False) and args.codec == "png":
        raise HybridCodecError("--native needs a lossy codec: jpeg, webp, avif or jpegxl")
    options = _file_options(args)
    single = (len(args.inputs) == 1 and not Path(args.inputs[0]).is_dir()
              and not (args.output and Path(args.output).is_dir()))
    if single:  # one file: errors are errors (exit 1), the output name may be given
        source = Path(args.inputs[0])
        output = Path(args.output) if args.output else default_output(source, args)
        work = compress_file if args.command == "compress" else decompress_file
        message = work(source, output, **options)
        if not args.quiet:
            print(message)
        return 0
    if args.output:
        Path(args.output).mkdir(parents=True, exist_ok=True)
    tasks = batch.plan(args.inputs, args.command, args.output, options)
    outcomes = []
    for outcome in batch.run_tasks(tasks, args.jobs, args.scheduler, progress=not args.quiet):
        outcomes.append(outcome)
    failed = any(o.status == "failed" for o in outcomes)
    if failed or not args.quiet:
        print(batch.summary(outcomes), file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def _add_info(sub):
    p = sub.add_parser("info", help="describe a .hc file without decoding it",
                       description="Print the header of a .hc file and the path used to code it.")
    p.add_argument("input", help=".hc file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_info)


def _info(args) -> int:
    from .container import describe, unpack
    from .zoo import named

    data = _read_bytes(args.input)
    info = describe(named(unpack(data)), len(data))
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
    p.add_argument("--val", default="", help="folder of validation images (never trained on)")
    p.add_argument("--mode", choices=["joint", "post"], default="post",
                   help="post: restoration network alone; joint: alternate ComCNN and restoration")
    p.add_argument("--model", choices=["reccnn", "recunet", "arcnn", "arcnn-aspp"], default="reccnn")
    p.add_argument("--loss", default="mse", help="mse, l1, ssim, ms-ssim or ms-ssim+l1 (default: mse)")
    p.add_argument("--scale", choices=["1", "4/3", "2"], default="1",
                   help="coding scale: full size, three quarters or half a side (default: 1)")
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
    p.add_argument("--width", type=int, help="reccnn: channels per layer; recunet: channels at full resolution")
    p.add_argument("--half-resolution", action="store_true",
                   help="reccnn: run the stack at half the output resolution (at scale 2: on the decoded image)")
    p.add_argument("--bfloat16", action="store_true",
                   help="reccnn: hidden layers compute in bfloat16 (CPUs with AVX512-BF16 or AMX: "
                   "2x faster training, 1.6x faster restoring; float32 elsewhere)")
    p.add_argument("--init", default="", help="start from this .keras restoration model (warm start)")
    p.add_argument("--distribute", action="store_true",
                   help="train under tf.distribute.MirroredStrategy (all local GPUs)")
    p.add_argument("--out", default="runs/default", help="run folder: checkpoint, log, weights, card")
    p.set_defaults(func=_train)


def _train(args) -> int:
    from .training import TrainConfig, train

    import inspect

    from .models import RESTORATION_MODELS

    # Each shape option is a keyword of the model's _build; refuse those the
    # chosen model does not take rather than fail deep inside Keras.
    options = {"--depth": ("depth", args.depth), "--width": ("width", args.width),
               "--half-resolution": ("half_resolution", args.half_resolution),
               "--bfloat16": ("compute_dtype", "bfloat16" if args.bfloat16 else None)}
    accepted = inspect.signature(RESTORATION_MODELS[args.model]._build).parameters
    unsupported = [flag for flag, (key, value) in options.items() if value and key not in accepted]
    if unsupported:
        raise HybridCodecError(f"--model {args.model} has no {', '.join(unsupported)} option")
    model_kwargs = {key: value for key, value in options.values() if value}
    config = TrainConfig(
        codec=args.codec, data=args.data, val=args.val, mode=args.mode, model=args.model,
        loss=args.loss, scale=args.scale, minutes=args.minutes, steps=args.steps,
        rounds=args.rounds, batch=args.batch, crop=args.crop, lr=args.lr, seed=args.seed,
        out=args.out, qualities=args.qualities or [], val_every=args.val_every,
        model_kwargs=model_kwargs, distribute=args.distribute, init=args.init,
    )
    card = train(config, log=lambda message: print(message, file=sys.stderr))
    print(card)
    return 0


def _add_bench(sub):
    p = sub.add_parser("bench", help="rate-distortion of hybridcodec against the plain codec",
                       description="Benchmark every image of a folder at several qualities: "
                       "bpp, PSNR-RGB, MS-SSIM and times, BD-rate against the plain codec.")
    p.add_argument("folder", help="folder of images")
    p.add_argument("--codec", choices=CODEC_CHOICES[:-1], default="webp")
    p.add_argument("--qualities", type=int, nargs="+", help="qualities (default: the codec's grid)")
    p.add_argument("--scale", choices=["auto", "1", "4/3", "2"], default="auto")
    p.add_argument("--out", default="results", help="folder for JSON, CSV and plot (default: results)")
    p.set_defaults(func=_bench)


def _bench(args) -> int:
    from .bench import run

    summary = run(args.folder, args.codec, args.qualities, args.out, args.scale)
    print(json.dumps(summary, indent=1))
    return 0


def _add_zoo(sub):
    p = sub.add_parser("zoo", help="list shipped networks; add a trained run; fix the operating points",
                       description="Manage the shipped networks in models/ (a source checkout).")
    zoo_sub = p.add_subparsers(dest="zoo_command", metavar="ACTION")
    p.set_defaults(func=_zoo_list)
    add = zoo_sub.add_parser("add", help="copy a training run's weights and card into models/")
    add.add_argument("run", help="training run folder (with card.json)")
    add.add_argument("--name", required=True, help="name in the zoo, e.g. reccnn-jpeg-s1")
    add.add_argument("--codec", required=True, choices=CODEC_CHOICES[:-1])
    add.set_defaults(func=_zoo_add)
    choose = zoo_sub.add_parser("choose", help="fix a codec's operating-point table on validation images")
    choose.add_argument("--codec", required=True, choices=CODEC_CHOICES[:-1])
    choose.add_argument("--val", required=True, help="folder of validation images (never the training set)")
    choose.add_argument("--qualities", type=int, nargs="+", help="quality grid (default: the codec's)")
    choose.add_argument("--models", nargs="+", metavar="NAME",
                        help="networks to consider (default: every network shipped for the codec)")
    choose.set_defaults(func=_zoo_choose)


def _zoo_list(args) -> int:
    from . import zoo

    print(json.dumps(zoo.manifest(), indent=1))
    return 0


def _zoo_add(args) -> int:
    from .release import add

    print(json.dumps(add(args.run, args.name, args.codec), indent=1))
    return 0


def _zoo_choose(args) -> int:
    from .release import choose, describe_table, evaluate_paths, set_operating_points
    from .training import QUALITY_GRID

    qualities = args.qualities or QUALITY_GRID[args.codec]
    results = evaluate_paths(args.val, args.codec, qualities, models=args.models)
    table = choose(results)
    set_operating_points(args.codec, table, {"images": str(args.val), "results": results})
    print("\n".join(describe_table(table)))
    return 0


def _add_costs(sub):
    p = sub.add_parser("costs", help="parameters, FLOPs per pixel and restore time of every network",
                       description="Measure every network configuration on a 768x512 image on this machine.")
    p.set_defaults(func=_costs)


def _costs(args) -> int:
    from .bench import cost_table

    cost_table()
    return 0


def _add_large(sub):
    p = sub.add_parser("bench-large", help="peak memory and time at 1, 12 and 50 megapixels",
                       description="Compress and decompress synthetic images of growing size, each in "
                       "a fresh process, and print peak RSS and seconds.")
    p.add_argument("--megapixels", type=float, nargs="+", default=[1, 12, 50])
    p.add_argument("--codec", choices=CODEC_CHOICES[:-1], default="jpeg")
    p.add_argument("--quality", type=int, default=30)
    p.set_defaults(func=_large)


def _large(args) -> int:
    from .bench import large_images

    large_images(args.megapixels, args.codec, args.quality)
    return 0


def _add_demo(sub):
    p = sub.add_parser("demo", help="compress one image with every codec, plain against hybridcodec")
    p.add_argument("image", nargs="?", default=None, help="image (default: the bundled sample)")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    from .bench import demo

    image = args.image or Path(__file__).parent / "samples" / "astronaut.png"
    demo(image)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridcodec",
        description="Standard image codecs made better with learned pre- and post-processing.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_compress(sub)
    _add_decompress(sub)
    _add_info(sub)
    _add_train(sub)
    _add_bench(sub)
    _add_zoo(sub)
    _add_costs(sub)
    _add_large(sub)
    _add_demo(sub)
    return parser


def _interrupt_on_sigterm() -> None:
    """`kill` unwinds like Ctrl-C, so temporary files are removed on the way out."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    if argv is None:  # a real command-line run, not a call from Python
        _interrupt_on_sigterm()
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
