"""Files on disk: what ``compress``, ``decompress`` and ``info`` do to paths.

The command line (cli.py) parses arguments and calls these; batch.py maps
``compress_file`` and ``decompress_file`` over many inputs. Every write goes
through a temporary file and a rename (no half-written outputs), never over
an input, and over an existing file only with ``force``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

from . import codecs
from .container import DEFAULT_MAX_PIXELS, describe
from .errors import HybridCodecError


def read_bytes(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise HybridCodecError(f"cannot read {path}: {error.strerror or error}") from None


def check_output(path: Path, source: Path | None, force: bool) -> None:
    """Refuse to write over the input, or over an existing file without --force."""
    if source is not None and path.resolve() == Path(source).resolve():
        raise HybridCodecError(f"output {path} is the input file; choose another with -o")
    if path.exists() and not force:
        raise HybridCodecError(f"{path} exists; use --force to overwrite it")


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


def output_suffix(command: str, codec: str = "", native: bool = False) -> str:
    """x.png -> x.hc; with --native, x.png -> x.hc.webp; x.hc (or x.hc.webp) -> x.png."""
    if command == "decompress":
        return ".png"
    return ".hc" + codecs.by_name(codec).extension if native else ".hc"


def default_output(source: Path, command: str, codec: str = "", native: bool = False) -> Path:
    return Path(source).with_suffix(output_suffix(command, codec, native))


def compress_file(source: Path, output: Path, force=False, codec="webp", quality=50, scale="auto",
                  pre_model=None, post_model=None, keep_metadata=False, max_pixels=None,
                  target_size=None, target_bpp=None, target_psnr=None, search=False, native=False) -> str:
    """Compress one file; returns the line to print. Raises HybridCodecError."""
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
        encoded = encode_as_asked(image.pixels, codec, quality, scale, target_size, target_bpp, target_psnr,
                                  search, options)
    for warning in caught:
        print(f"hybridcodec: warning: {warning.message}", file=sys.stderr)
    write_atomic(output, encoded.data, force, source)
    info = describe(encoded.hc, len(encoded.data))
    return (f"{source} -> {output}: {info['codec']} quality {info['quality']}, scale {info['scale']}, "
            f"{info['file_bytes']} bytes, {info['bpp']} bpp; pre: {info['pre']}; post: {info['post']}")


def encode_as_asked(pixels, codec, quality, scale, target_size, target_bpp, target_psnr, search, options):
    """The encode ``compress`` asked for: a size, bpp or PSNR target, --search, or plain."""
    from . import ratecontrol
    from .pipeline import encode

    if target_size or target_bpp:
        height, width = pixels.shape[:2]
        limit = ratecontrol.parse_size(target_size) if target_size else int(target_bpp * width * height / 8)
        return ratecontrol.fit_size(pixels, codec, limit, **options)
    if target_psnr:
        return ratecontrol.reach_psnr(pixels, codec, target_psnr, **options)
    if search:
        return ratecontrol.search(pixels, codec, quality, **options)
    return encode(pixels, codec, quality, scale, **options)


def decompress_file(source: Path, output: Path, force=False, post_model=None,
                    allow_model_mismatch=False, max_pixels=None, quality=None) -> str:
    """Decompress one file; returns the line to print. Raises HybridCodecError."""
    import io

    from .images import save_png
    from .pipeline import decode

    check_output(output, source, force)
    decoded = decode(read_bytes(source), post_model=post_model,
                     max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                     allow_model_mismatch=allow_model_mismatch, quality=quality)
    buffer = io.BytesIO()
    save_png(buffer, decoded.image, decoded.hc.icc, decoded.hc.metadata)
    write_atomic(output, buffer.getvalue(), force, source)
    h = decoded.hc.header
    return f"{source} -> {output}: {h.width}x{h.height}, {h.channels} channel(s)"


def info(path) -> dict:
    """What ``hybridcodec info`` prints: the header of a ``.hc`` or native file
    (read as ``decompress`` reads it) and the path used to code it."""
    from .pipeline import read_file

    data = read_bytes(path)
    return describe(read_file(data), len(data))
