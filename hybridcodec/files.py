"""Files on disk: what ``compress``, ``decompress`` and ``info`` do to paths.

The command line (cli.py) parses arguments and calls these; batch.py maps
``compress_file`` and ``decompress_file`` over many inputs. The rules:

* Nothing is lost. Every write goes through a temporary file and a rename
  (no half-written outputs), never over an input, over an existing file only
  with ``force``, and over a file that hybridcodec did not write (a source
  photo beside its ``.hc``, say) only when the user named it with ``-o``.
* Problems with an output (no such folder, not writable) are found before
  the work starts.
* Names match contents: ``compress -o x.webp`` writes a native WebP,
  ``decompress -o y.tif`` a TIFF; a name whose format cannot be written is
  refused. ``-`` is standard input or output.
* Outputs get the permissions of a plain write under the umask, or keep
  those of the file they replace.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings
from pathlib import Path

from . import codecs
from .container import DEFAULT_MAX_PIXELS, describe
from .container import sniff as sniff_hc
from .errors import HybridCodecError
from .pipeline import DEFAULT_CODEC, DEFAULT_QUALITY, PRE_EDIT

STDIO = "-"
SOFTWARE = "hybridcodec"  # the PNG/TIFF Software field of decompress's outputs: marks them as ours
# What decompress writes, by the output's extension: lossless formats only.
IMAGE_FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP"}


def read_bytes(path) -> bytes:
    if str(path) == STDIO:
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise HybridCodecError(f"cannot read {path}: {error.strerror or error}") from None


def is_our_output(path: Path) -> bool:
    """True for a file hybridcodec wrote: a .hc file, a native file with our
    header, or an image whose Software field says hybridcodec."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    if sniff_hc(head):
        return True
    native = codecs.sniff_native(head)
    if native is not None:
        try:
            return codecs.extract_native(Path(path).read_bytes())[1] is not None
        except (OSError, HybridCodecError):
            return False
    try:
        from PIL import Image

        with Image.open(path) as image:
            software = image.info.get("Software") or image.getexif().get(0x0131) or ""
            return str(software).startswith(SOFTWARE)
    except Exception:  # not an image Pillow knows: not ours
        return False


def check_output(path: Path, source: Path | None, force: bool, named: bool = True) -> None:
    """Refuse, before any work, an output that would lose something or cannot be written.

    ``named`` says the user gave this name (``-o``); only then may ``force``
    replace a file hybridcodec did not write."""
    if str(path) == STDIO:
        return
    path = Path(path)
    if source is not None and str(source) != STDIO and path.resolve() == Path(source).resolve():
        raise HybridCodecError(f"output {path} is the input file; choose another with -o")
    if path.exists():
        if not force:
            raise HybridCodecError(f"{path} exists; use --force to overwrite it")
        if not named and not is_our_output(path):
            raise HybridCodecError(f"{path} exists and was not written by hybridcodec; "
                                   "name it with -o to replace it")
        if path.is_dir():
            raise HybridCodecError(f"cannot write {path}: it is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise HybridCodecError(f"cannot write {path}: no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise HybridCodecError(f"cannot write {path}: folder {folder} is not writable")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes, force: bool, source: Path | None = None, named: bool = True) -> None:
    """Write ``data`` to ``path`` (or standard output for ``-``) through a
    temporary file and a rename, so a crash or Ctrl-C never leaves a
    half-written output; refuses what ``check_output`` refuses."""
    if str(path) == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(path)
    check_output(path, source, force, named)
    # mkstemp makes the file 0600; a plain write gives 0666 less the umask
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise HybridCodecError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise HybridCodecError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_suffix(command: str, codec: str = "", native: bool = False) -> str:
    """x.png -> x.hc; with --native, x.png -> x.hc.webp; x.hc (or x.hc.webp) -> x.png."""
    if command == "decompress":
        return ".png"
    return ".hc" + codecs.by_name(codec).extension if native else ".hc"


def default_output(source: Path, command: str, codec: str = "", native: bool = False) -> Path:
    if str(source) == STDIO:
        return Path(STDIO)
    return Path(source).with_suffix(output_suffix(command, codec, native))


def compress_target(output: Path, codec: str | None, native: bool) -> tuple[str, bool]:
    """(codec, native) that the output's name asks for: ``x.hc`` a .hc file,
    ``x.webp`` (or ``x.hc.webp``) a native WebP. A name that contradicts the
    options, or names neither, is refused. ``codec`` None: the name decides,
    else the default codec."""
    if str(output) == STDIO:
        return codec or DEFAULT_CODEC, native
    suffix = Path(output).suffix.lower()
    if suffix == ".hc":
        if native:
            raise HybridCodecError(f"--native writes a standard file, not {output}: name it "
                                   f"{Path(output).name}{codecs.by_name(codec or DEFAULT_CODEC).extension}")
        return codec or DEFAULT_CODEC, False
    by_name = codecs.by_extension(suffix)
    if by_name is None:
        kinds = ", ".join(c.extension for c in codecs.native_codecs())
        raise HybridCodecError(f"cannot write {output}: compress writes .hc files or native {kinds} files")
    if codec is not None and codec != by_name.name:
        raise HybridCodecError(f"{output} names a {by_name.name} file but --codec is {codec}")
    return by_name.name, True


def compress_file(source: Path, output: Path, force=False, codec=None, quality=None, scale="auto",
                  pre_model=None, post_model=None, keep_metadata=False, max_pixels=None,
                  target_size=None, target_bpp=None, target_psnr=None, search=False, native=False,
                  named=True, encoder=None, effort=None, pre_edit=PRE_EDIT, precision=None,
                  strengths=True) -> str:
    """Compress one file (``-`` for standard input or output); returns the
    line to print. Raises HybridCodecError."""
    from .images import load_image

    check_output(output, source, force, named)  # fail before the work, not after
    codec, native = compress_target(output, codec, native)
    backend = codecs.get_codec(codec).configured(encoder, effort)  # a bad --encoder fails before the work
    if not backend.lossy and (quality is not None or scale not in ("auto", "table", "1")):
        raise HybridCodecError(f"{codec} is lossless: --quality and --scale do not apply")
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    image = load_image(io.BytesIO(read_bytes(source)) if str(source) == STDIO else source,
                       max_pixels=max_pixels, name=str(source))
    for warning in image.warnings:
        print(f"hybridcodec: warning: {warning}", file=sys.stderr)
    options = dict(pre_model=pre_model, post_model=post_model, icc=image.icc,
                   metadata=image.exif if keep_metadata else b"", max_pixels=max_pixels, native=native,
                   encoder=encoder, effort=effort, pre_edit=pre_edit, strengths=strengths)
    if precision is not None:
        options["precision"] = precision
    with warnings.catch_warnings(record=True) as caught:  # one line each, like the image's
        warnings.simplefilter("always")
        encoded = encode_as_asked(image.pixels, codec, DEFAULT_QUALITY if quality is None else quality, scale,
                                  target_size, target_bpp, target_psnr, search, options)
    for warning in caught:
        print(f"hybridcodec: warning: {warning.message}", file=sys.stderr)
    write_atomic(output, encoded.data, force, source, named)
    info = describe(encoded.hc, len(encoded.data))
    quality_words = (f"{info['encoder']}, quality {info['quality']}, scale {info['scale']}" if backend.lossy
                     else "lossless")
    return (f"{source} -> {output}: {info['codec']} {quality_words}, "
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


def image_format(output: Path) -> str:
    """The Pillow format ``decompress`` writes for ``output``'s extension (PNG for ``-``)."""
    if str(output) == STDIO:
        return "PNG"
    suffix = Path(output).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        kinds = ", ".join(IMAGE_FORMATS)
        raise HybridCodecError(f"cannot write {output}: decompress writes lossless images ({kinds})")
    return IMAGE_FORMATS[suffix]


def decompress_file(source: Path, output: Path, force=False, post_model=None,
                    allow_model_mismatch=False, max_pixels=None, quality=None, named=True) -> str:
    """Decompress one file (``-`` for standard input or output); returns the
    line to print. Raises HybridCodecError."""
    from .images import save_image
    from .pipeline import decode

    kind = image_format(output)
    check_output(output, source, force, named)
    decoded = decode(read_bytes(source), post_model=post_model,
                     max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                     allow_model_mismatch=allow_model_mismatch, quality=quality)
    buffer = io.BytesIO()
    save_image(buffer, decoded.image, kind, decoded.hc.icc, decoded.hc.metadata, software=SOFTWARE)
    write_atomic(output, buffer.getvalue(), force, source, named)
    h = decoded.hc.header
    return f"{source} -> {output}: {h.width}x{h.height}, {h.channels} channel(s)"


def info(path) -> dict:
    """What ``hybridcodec info`` prints: the header of a ``.hc`` or native file
    (read as ``decompress`` reads it) and the path used to code it."""
    from .pipeline import read_file

    data = read_bytes(path)
    return describe(read_file(data), len(data))
