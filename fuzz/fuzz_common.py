"""What every fuzzing harness checks, and the bounds it checks within (no atheris needed).

An input passes if it decodes to an image of the size and channels its
header declares, or is refused with a HybridCodecError whose message is one
printable line; and if ``info``'s description of it (where it parses) is
printable too. Anything else is a finding:

* another exception, or a crash of the process;
* an input that allocates, through Python and NumPy (every decoder's output
  array), more than ``ALLOCATION_BUDGET``: more than a ``MAX_PIXELS`` image
  needs, so a decoder that allocates for a size it then refuses is caught
  even where the allocation succeeds (tracemalloc, started by ``start``);
* a MemoryError, also one hidden inside a HybridCodecError (its cause or
  context, or a C decoder's "out of memory"): the process's address space is
  capped (``limit_memory``), so an allocation the input's size does not
  justify fails here instead of taking the machine's memory;
* an input slower than the per-input time limit (libFuzzer ``-timeout=``).

Run as a script, it checks files (regression inputs, libFuzzer's crash-*
files) under the same bounds, one process, and exits 1 on the first finding:

    python fuzz/fuzz_common.py tests/fuzz_finds/*
"""

from __future__ import annotations

import re
import resource
import struct
import sys
import tracemalloc
import zlib

import numpy as np

MAX_PIXELS = 1 << 16  # the harness's --max-pixels (256x256): an input decodes in well under a second
# A 256x256 decode peaks at 0.3-2.2 MB traced (34 bytes a pixel at most: .hc, native and plain files of
# every codec, measured); a decoder that allocates for a 128x65535 frame it then refuses takes 25 MB.
ALLOCATION_BUDGET = (8 << 20) + 64 * MAX_PIXELS  # 12 MB
MEMORY_MB = 3072  # address space of the whole process (the warmed-up decoder maps about 1.3 GB of it)
# An error that says the decoder ran out of memory (C libraries report it in words).
_MEMORY_WORDS = re.compile(r"out of memory|memory allocation|cannot allocate|insufficient memory|bad_alloc",
                           re.IGNORECASE)


class Finding(AssertionError):
    """An input that broke a rule above."""


def limit_memory(megabytes: int = MEMORY_MB) -> None:
    """Cap the process's address space, so an unbounded allocation fails (a finding) at once."""
    limit = megabytes << 20
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError) as error:  # macOS refuses to lower it: the allocation budget still holds
        print(f"fuzz_common: no address-space cap here ({error})", file=sys.stderr)


def start() -> None:
    """The bounds of a campaign: the address-space cap, and tracing for ``ALLOCATION_BUDGET``."""
    import hybridcodec.pipeline  # noqa: F401  (imported before the cap and the tracing)

    limit_memory()
    tracemalloc.start(1)


def _memory_failure(error: BaseException) -> BaseException | None:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, MemoryError) or _MEMORY_WORDS.search(str(error)):
            return error
        error = error.__cause__ or error.__context__
    return None


def with_valid_crc(data: bytes) -> bytes:
    """``data`` with a valid CRC where its last byte is 0, so mutations reach
    the checks behind the CRC: a ``.hc`` file gets the CRC of all before that
    byte in its place; a native file with a header loses that byte, and the
    header gets its CRC rewritten; any other file is left as it is."""
    from hybridcodec import HybridCodecError, codecs
    from hybridcodec.container import sniff

    if data[-1:] != b"\x00":
        return data
    body = data[:-1]
    if sniff(body):  # a .hc file ends in its CRC: the zero byte becomes the CRC of all before it
        return body + struct.pack("<I", zlib.crc32(body))
    try:
        _, header = codecs.extract_native(body)
    except HybridCodecError:
        return data
    start = body.find(header) if header and len(header) >= 4 else -1
    if start < 0:
        return data
    fixed = header[:-4] + struct.pack("<I", zlib.crc32(header[:-4]))
    return body[:start] + fixed + body[start + len(header):]


def quality_for(data: bytes) -> int | None:
    """A plain WebP, AVIF or JPEG XL file needs a quality; a JPEG's is estimated from its tables."""
    return None if data[:2] == b"\xff\xd8" else 40


def check(data: bytes) -> np.ndarray | None:
    """Decode ``data`` (after ``with_valid_crc``) as ``decompress`` and ``info`` do; raise Finding
    on a broken rule. Returns the image, or None for a refused input."""
    data = with_valid_crc(data)
    quality = quality_for(data)
    if tracemalloc.is_tracing():
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
    try:
        return _checked(data, quality)
    finally:
        if tracemalloc.is_tracing():
            allocated = tracemalloc.get_traced_memory()[1] - before
            if allocated > ALLOCATION_BUDGET:
                raise Finding(f"the input allocated {allocated >> 20} MB, more than the "
                              f"{ALLOCATION_BUDGET >> 20} MB a {MAX_PIXELS}-pixel image needs")


def _checked(data: bytes, quality: int | None) -> np.ndarray | None:
    from hybridcodec import HybridCodecError
    from hybridcodec.container import describe
    from hybridcodec.pipeline import decode, read_file

    try:
        info = describe(read_file(data, MAX_PIXELS, quality), len(data))
        unprintable = [f"{k}={v!r}" for k, v in info.items() if isinstance(v, str) and not v.isprintable()]
        if unprintable:
            raise Finding(f"info prints text that is not printable: {unprintable}")
        decoded = decode(data, max_pixels=MAX_PIXELS, quality=quality)
    except HybridCodecError as error:
        memory = _memory_failure(error)
        if memory is not None:
            raise Finding(f"an allocation failed under the {MEMORY_MB} MB cap: {memory!r}") from error
        if not str(error).isprintable():
            raise Finding(f"the message is not one printable line: {str(error)!r}") from error
        return None
    image, header = decoded.image, decoded.hc.header
    expected = (header.height, header.width) + (() if header.channels == 1 else (header.channels,))
    if image.dtype != np.uint8 or image.shape != expected:
        raise Finding(f"decoded {image.dtype} {image.shape}, the header says uint8 {expected}")
    return image


def check_with_pillow(data: bytes, image: np.ndarray | None) -> None:
    """The Pillow plugin on a ``.hc`` input: HybridCodecError or the decoder's image, nothing else."""
    import io

    from PIL import Image

    from hybridcodec import HybridCodecError
    from hybridcodec.container import sniff

    data = with_valid_crc(data)
    if not sniff(data):
        return
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if image is not None and not np.array_equal(np.asarray(opened), image):
                raise Finding("the Pillow plugin decodes other pixels than decompress")
    except HybridCodecError as error:
        if image is not None:
            raise Finding(f"the Pillow plugin refuses a file decompress decodes: {error}") from error


def main(paths: list[str]) -> int:
    start()
    for path in paths:
        with open(path, "rb") as file:
            data = file.read()
        try:
            image = check(data)
            check_with_pillow(data, image)
        except Exception as error:  # every other exception is a finding: name the input
            print(f"{path}: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        print(f"{path}: ok, {'refused' if image is None else 'decoded'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
