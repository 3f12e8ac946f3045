"""Coverage-guided fuzzing of the .hc reader and decoder with atheris.

    pip install atheris
    python fuzz/fuzz_reader.py -atheris_runs=200000 fuzz/corpus

Every input must end in HybridCodecError or a correct image. Anything else
(another exception, a crash, a hang) is a finding, and atheris stops with the
input that caused it. The seed corpus is tests/golden/*.hc.
"""

import struct
import sys
import zlib

import atheris

with atheris.instrument_imports():
    import hybridcodec
    from hybridcodec import HybridCodecError
    from hybridcodec.pipeline import read_file


def test_one_input(data: bytes) -> None:
    # Half the inputs get a valid CRC appended, so the fuzzer reaches the
    # header checks and the codecs' decoders instead of stopping at the CRC.
    if data[-1:] == b"\x00":
        body = data[:-1]
        data = body + struct.pack("<I", zlib.crc32(body))
    try:
        image = hybridcodec.decompress(data, max_pixels=1 << 22)
    except HybridCodecError:
        return
    header = read_file(data, max_pixels=1 << 22).header
    assert image.shape[:2] == (header.height, header.width)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
