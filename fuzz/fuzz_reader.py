"""Coverage-guided fuzzing of the .hc reader and decoder, and of the Pillow plugin, with atheris.

    pip install atheris
    python fuzz/make_seeds.py                        # fuzz/corpus/hc, fuzz/corpus/native
    python fuzz/fuzz_reader.py -timeout=30 -rss_limit_mb=3072 -runs=200000 fuzz/corpus/hc

The rules an input must keep, and the memory cap, are fuzz_common.py's.
atheris stops at the first finding and writes it to crash-*/timeout-*/oom-*;
``python fuzz/fuzz_common.py FILE`` replays it without atheris. An input
ending in a zero byte gets a valid CRC in place of that byte (fuzz_common.with_valid_crc).
"""

import sys

import atheris

with atheris.instrument_imports(include=["hybridcodec"]):
    # every module an input reaches, imported here so that all are instrumented
    import hybridcodec  # noqa: F401
    from hybridcodec import codecs, coding, container, native, pillow_plugin, pipeline, strength, zoo  # noqa: F401

import fuzz_common


def test_one_input(data: bytes) -> None:
    fuzz_common.check_with_pillow(data, fuzz_common.check(data))


if __name__ == "__main__":
    fuzz_common.start()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
