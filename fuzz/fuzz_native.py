"""Coverage-guided fuzzing of native files (JPEG, WebP, AVIF, JPEG XL with the
hybridcodec header inside) and plain ones, with atheris.

    pip install atheris
    python fuzz/make_seeds.py
    python fuzz/fuzz_native.py -timeout=30 -rss_limit_mb=3072 -runs=200000 fuzz/corpus/native

A plain JPEG is decoded at the quality estimated from its tables, a plain
WebP, AVIF or JPEG XL file at 40, and restored by the network that serves it.
An input ending in a zero byte loses it, and the header inside gets a valid
CRC (fuzz_common.with_valid_crc). Rules and the memory cap: fuzz_common.py.
"""

import sys

import atheris

with atheris.instrument_imports(include=["hybridcodec"]):
    # every module an input reaches, imported here so that all are instrumented
    import hybridcodec  # noqa: F401
    from hybridcodec import codecs, coding, container, native, pillow_plugin, pipeline, strength, zoo  # noqa: F401

import fuzz_common


def test_one_input(data: bytes) -> None:
    fuzz_common.check(data)


if __name__ == "__main__":
    fuzz_common.start()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
