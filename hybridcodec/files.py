"""Files on disk: what ``compress``, ``decompress`` and ``info`` do to paths.

The command line (cli.py) parses arguments and calls these; batch.py maps
``compress_file`` and ``decompress_file`` over many inputs. The rules:

* Nothing is lost. Every write goes through a temporary file and a rename
  (no half-written outputs), never over an input, over an existing file only
  with ``force``, and over a file that hybridcodec did not write (a source
  photo beside its ``.hc``, say) only when the user named it with ``-o``.
  Without ``force`` the final name is created exclusively (a hard link), so
  of two writers racing for one name exactly one wins.
* A temporary file is named ``.NAME.PID@HOST.RANDOM.tmp``: the signal path
  removes this process's own (``remove_temporaries``), and the next run
  removes those whose writer is dead and that are a minute old
  (``remove_stale_temporaries``), never a live writer's.
* Problems with an output (no such folder, not writable) are found before
  the work starts.
* Names match contents: ``compress -o x.webp`` writes a native WebP,
  ``decompress -o y.tif`` a TIFF; a name whose format cannot be written is
  refused. ``-`` is standard input or output.
* Outputs get the permissions of a plain write under the umask, or keep
  those of the file they replace.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import socket
import sys
import time
import warnings
from pathlib import Path

from . import codecs, decide
from .container import DEFAULT_MAX_PIXELS, describe
from .container import sniff as sniff_hc
from .errors import HybridCodecError
from .pipeline import DEFAULT_CODEC
from .settings import EncodeSettings

STDIO = "-"
_FOLDER_HINT = "; a folder is named with a / at the end"  # for a name without extension
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
        if not force and not named and not path.is_dir() and not is_our_output(path):
            # --force alone would be refused next (below): say at once what works
            raise HybridCodecError(f"{path} exists and was not written by hybridcodec; name another output "
                                   f"with -o, or replace it with -o {path} --force")
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


# This host's name as it goes into temporary names: a writer on another host
# (a Dask worker on a shared folder) has a pid this host cannot check.
_HOST = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:32]
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)\.[0-9a-f]{8}\.tmp")
_PENDING: set[Path] = set()  # this process's temporary files, while it writes them


def remove_temporaries() -> None:
    """Remove the temporary files this process is writing: the way out of a
    signal (cli.py, the workers of batch.py), where the unwinding of
    ``write_atomic`` may not run or may be cut short by a second signal."""
    for tmp in list(_PENDING):
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if os.name == "nt" or pid == os.getpid():  # Windows' os.kill would end the process: never ask
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


# A temporary file lives for seconds: write_atomic gets the whole output and
# writes it at the end of the work, not during a long encode. Its pid alone
# does not prove it dead: two containers with one hostname but separate pid
# namespaces see each other's live writers as gone. A minute untouched does.
STALE_AFTER_S = 60


def _older_than(entry: os.DirEntry, seconds: float) -> bool:
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > seconds
    except OSError:
        return False


def remove_stale_temporaries(outputs) -> int:
    """Remove the temporary files that a killed hybridcodec (SIGKILL, a
    power cut) left beside these outputs: ours by name, written on this host
    by a process that no longer exists, and untouched for STALE_AFTER_S.
    Returns how many."""
    names: dict[Path, set[str]] = {}
    for output in outputs:
        if str(output) != STDIO:
            output = Path(output)
            names.setdefault(output.parent, set()).add(output.name)
    removed = 0
    for folder, wanted in names.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = _TEMPORARY.fullmatch(entry.name)
            if (match and match["name"] in wanted and match["host"] == _HOST
                    and not _alive(int(match["pid"])) and _older_than(entry, STALE_AFTER_S)):
                try:
                    os.unlink(entry.path)
                    removed += 1
                except OSError:
                    pass
    return removed


def _write_stdout(data: bytes) -> None:
    """All of ``data`` to standard output, or a HybridCodecError. A write to a
    nearly full disk returns short (8,192 of 27,256 bytes with 8 KB free) without an error:
    only the next write says ENOSPC, so write until all is out."""
    out = sys.stdout.buffer
    view = memoryview(data)
    try:
        while view:
            written = out.write(view)
            if not written:
                raise OSError(errno.EIO, "nothing written")
            view = view[written:]
        out.flush()
    except BrokenPipeError:  # the reader went away: cli.py's exit status for that
        raise
    except OSError as error:
        raise HybridCodecError(f"cannot write standard output: {error.strerror or error}") from None


def _link_exclusively(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless ``path`` exists: os.link fails if
    it does, where os.replace would silently replace another writer's file."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise HybridCodecError(f"{path} exists (another process wrote it meanwhile); "
                               "use --force to overwrite it") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        # no hard links here (FAT, some network shares): the check before the work is all there is
        if path.exists():
            raise HybridCodecError(f"{path} exists; use --force to overwrite it") from None
        os.replace(tmp, path)


def write_atomic(path: Path, data: bytes, force: bool, source: Path | None = None, named: bool = True) -> None:
    """Write ``data`` to ``path`` (or standard output for ``-``) through a
    temporary file and a rename, so a crash or Ctrl-C never leaves a
    half-written output; refuses what ``check_output`` refuses. Without
    ``force`` the output is created exclusively: of two runs racing for one
    name, one writes it and the other is refused."""
    if str(path) == STDIO:
        _write_stdout(data)
        return
    path = Path(path)
    check_output(path, source, force, named)
    # a new file gets 0666 less the umask, like a plain write; a replaced one keeps its mode
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
    tmp = path.with_name(f".{path.name}.{os.getpid()}@{_HOST}.{secrets.token_hex(4)}.tmp")
    _PENDING.add(tmp)  # before it exists: a signal at any point finds it
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if force:
            os.replace(tmp, path)
        else:
            _link_exclusively(tmp, path)
    except OSError as error:
        raise HybridCodecError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # after os.link: the second name of the output
        _PENDING.discard(tmp)


def output_suffix(command: str, codec: str = "", native: bool = False) -> str:
    """x.png -> x.hc; with --native, x.png -> x.hc.webp; x.hc -> x.png (any
    other input keeps its extension: ``default_output``)."""
    if command == "decompress":
        return ".png"
    return ".hc" + codecs.by_name(codec).extension if native else ".hc"


def default_output(source: Path, command: str, codec: str = "", native: bool = False) -> Path:
    """compress: x.png -> x.hc (x.hc.webp with --native). decompress: x.hc ->
    x.png; any other input keeps its extension, less a ``.hc`` before it, so
    that x.hc.jpg and x.hc.avif (or x.jpg and x.webp) do not both give x.png:
    x.hc.jpg -> x.jpg.png, photo.jpg -> photo.jpg.png."""
    if str(source) == STDIO:
        return Path(STDIO)
    source = Path(source)
    if command == "decompress" and source.suffix and source.suffix.lower() != ".hc":
        stem = source.stem[:-3] if source.stem.lower().endswith(".hc") else source.stem
        return source.with_name(f"{stem}{source.suffix}.png")
    return source.with_suffix(output_suffix(command, codec, native))


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
        raise HybridCodecError(f"cannot write {output}: compress writes .hc files or native {kinds} files"
                               + _FOLDER_HINT * (not suffix))
    if codec is not None and codec != by_name.name:
        raise HybridCodecError(f"{output} names a {by_name.name} file but --codec is {codec}")
    return by_name.name, True


def warning_line(message, source=None) -> str:
    """A warning as one line, as errors are: ``hybridcodec: warning: FILE:
    message`` (the file left out where the message names it or none is at
    work), so that a folder run with --jobs says which file each is about."""
    return f"hybridcodec: warning: {source}: {message}" if source else f"hybridcodec: warning: {message}"


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` of the command line and of batch.py's workers:
    one line, not Python's two with a source path. One write, line and
    newline together: ``print`` writes them apart, and two workers' lines
    interleaved between them (a test's failure under --jobs 2)."""
    sys.stderr.write(warning_line(message) + "\n")
    sys.stderr.flush()


@contextlib.contextmanager
def _warnings_naming(source):
    """Say the warnings of one file's work, each as one line naming it; every
    file's, not only the first at a line of code (``always``)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                print(warning_line(warning.message, source), file=sys.stderr)


def compress_file(source: Path, output: Path, settings: EncodeSettings | None = None, force=False, named=True,
                  **options) -> str:
    """Compress one file (``-`` for standard input or output) as ``settings``
    say (or the same as keywords, ``EncodeSettings.of``); returns the line
    to print. Raises HybridCodecError."""
    from .images import load_image

    settings = EncodeSettings.of(**options) if settings is None else settings
    check_output(output, source, force, named)  # fail before the work, not after
    codec, native = compress_target(output, settings.named_codec(), settings.native)
    settings = settings.but(codec=codec, native=native)
    backend = settings.backend()  # a bad --encoder fails before the work
    settings.check_request()
    image = load_image(io.BytesIO(read_bytes(source)) if str(source) == STDIO else source,
                       max_pixels=settings.max_pixels, name=str(source))
    for warning in image.warnings:  # these name the file
        print(warning_line(warning), file=sys.stderr)
    settings = settings.but(icc=image.icc, metadata=image.exif if settings.keep_metadata else b"")
    with _warnings_naming(source):
        encoded = decide.encode_as_asked(image.pixels, settings)
    write_atomic(output, encoded.data, force, source, named)
    info = describe(encoded.hc, len(encoded.data))
    quality_words = (f"{info['encoder']}, quality {info['quality']}, scale {info['scale']}" if backend.lossy
                     else "lossless")
    return (f"{source} -> {output}: {info['codec']} {quality_words}, "
            f"{info['file_bytes']} bytes, {info['bpp']} bpp; pre: {info['pre']}; post: {info['post']}")


def image_format(output: Path) -> str:
    """The Pillow format ``decompress`` writes for ``output``'s extension (PNG for ``-``)."""
    if str(output) == STDIO:
        return "PNG"
    suffix = Path(output).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        kinds = ", ".join(IMAGE_FORMATS)
        raise HybridCodecError(f"cannot write {output}: decompress writes lossless images ({kinds})"
                               + _FOLDER_HINT * (not suffix))
    return IMAGE_FORMATS[suffix]


def decompress_file(source: Path, output: Path, force=False, post_model=None,
                    allow_model_mismatch=False, max_pixels=None, quality=None, named=True) -> str:
    """Decompress one file (``-`` for standard input or output); returns the
    line to print. Raises HybridCodecError."""
    from .images import save_image
    from .pipeline import decode

    kind = image_format(output)
    check_output(output, source, force, named)
    with _warnings_naming(source):
        decoded = decode(read_bytes(source), post_model=post_model,
                         max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                         allow_model_mismatch=allow_model_mismatch, quality=quality)
    buffer = io.BytesIO()
    save_image(buffer, decoded.image, kind, decoded.hc.icc, decoded.hc.metadata, software=SOFTWARE)
    write_atomic(output, buffer.getvalue(), force, source, named)
    height, width = decoded.image.shape[:2]  # as written: a turned plain file is upright
    return f"{source} -> {output}: {width}x{height}, {decoded.hc.header.channels} channel(s)"


def info(path, quality: int | None = None) -> dict:
    """What ``hybridcodec info`` prints: the header of a ``.hc`` or native file
    (read as ``decompress`` reads it, ``quality`` that of a plain file) and
    the path used to code it."""
    from .images import orientation_fields
    from .pipeline import read_file

    data = read_bytes(path)
    with _warnings_naming(path):
        hc = read_file(data, quality=quality)
    fields = describe(hc, len(data))
    # a plain camera file stored turned: decompress writes it upright, at the displayed size
    # (of the whole file, as pipeline.decode turns it: a .hc file's payload is never turned)
    turned = orientation_fields(data, hc.header.width, hc.header.height)
    at = list(fields).index("height") + 1
    return dict([*list(fields.items())[:at], *turned.items(), *list(fields.items())[at:]])
