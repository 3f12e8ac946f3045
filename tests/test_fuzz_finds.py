"""The fuzzers' rules (fuzz/fuzz_common.py) hold for every regression input in
tests/fuzz_finds/ and every seed, within the fuzzers' bounds: 3 GB of address
space, a 12 MB allocation budget, and a time limit. Each input there broke a
rule of 0.7.2 (docs/ROBUSTNESS.md, "Fuzzing"), as replayed with
``python fuzz/fuzz_common.py FILE`` against it:

* issue38-*: made by hand for issue #38 (a JPEG frame of 60000x60000, plain
  and as a .hc payload: 10 GB asked; a 16384x16384 header: Pillow's
  DecompressionBombError from the plugin; a model name with escape codes);
* native-avif-decodes-to-uint16.avif: fuzz_native.py, 4 min: a 376-byte AVIF
  whose decoder returns uint16, handed on as the image;
* hc-png-decoder-message-raw-bytes.hc: fuzz_reader.py, 2 s: a PNG payload
  whose decoder's message, raw bytes, became the error's text;
* hc-png-decoder-message-uninitialised.hc: fuzz_reader.py, 24 s, on the tree
  with the payload size checks: the same through a PNG header that reads
  well (imagecodecs' PNG error text: six bytes that vary from run to run).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hybridcodec
from hybridcodec import HybridCodecError

ROOT = Path(__file__).resolve().parent.parent
FINDS = sorted((ROOT / "tests" / "fuzz_finds").iterdir())
sys.path.insert(0, str(ROOT / "fuzz"))
import fuzz_common  # noqa: E402  (fuzz/ is no package: the harnesses run as scripts)


def replay(paths, timeout: int) -> subprocess.CompletedProcess:
    """fuzz_common's checks on ``paths`` in a fresh process under the fuzzers' memory cap."""
    return subprocess.run([sys.executable, str(ROOT / "fuzz" / "fuzz_common.py"), *map(str, paths)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HYBRIDCODEC_THREADS": "1"})


def test_every_regression_input_decodes_or_is_refused_within_the_bounds():
    assert FINDS, "tests/fuzz_finds/ is empty"
    result = replay(FINDS, timeout=30 * len(FINDS))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count(": ok, ") == len(FINDS)


def test_every_seed_passes(tmp_path):
    """The seeds the campaigns start from (fuzz/make_seeds.py) are real files that decode."""
    subprocess.run([sys.executable, str(ROOT / "fuzz" / "make_seeds.py"), str(tmp_path)], check=True,
                   capture_output=True)
    seeds = sorted(tmp_path.glob("*/*"))
    assert len(seeds) > 60
    result = replay(seeds, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("decoded") >= len(seeds) - 2  # a CMYK JPEG is refused, by design


def test_a_memory_failure_inside_a_refusal_is_a_finding(monkeypatch, photo):
    """A decoder that runs out of memory under the cap and says so in a
    HybridCodecError is still a finding: the cap exists to make it one."""
    from hybridcodec import pipeline

    data = hybridcodec.compress(photo, codec="jpeg", quality=40)
    assert fuzz_common.check(data).shape == photo.shape

    def out_of_memory(*args, **kwargs):
        try:
            raise MemoryError
        except MemoryError:
            raise HybridCodecError("jpeg payload does not decode") from None

    monkeypatch.setattr(pipeline, "decode", out_of_memory)
    with pytest.raises(fuzz_common.Finding, match="allocation failed"):
        fuzz_common.check(data)
    monkeypatch.setattr(pipeline, "decode", lambda *a, **k: (_ for _ in ()).throw(
        HybridCodecError("jpeg payload does not decode: Insufficient memory (case 4)")))
    with pytest.raises(fuzz_common.Finding, match="allocation failed"):
        fuzz_common.check(data)


def test_a_zero_last_byte_gets_a_valid_crc_so_inputs_reach_the_header_checks(photo):
    from hybridcodec.container import MAGIC

    for native in (False, True):
        data = hybridcodec.compress(photo, codec="webp", quality=40, native=native)
        damaged = bytearray(data)
        damaged[data.find(MAGIC) + 11] = 0xEE  # the scale byte of the header: no scale has this id
        with pytest.raises(HybridCodecError, match="CRC mismatch"):
            hybridcodec.decompress(bytes(damaged))
        fuzz_input = bytes(damaged) + b"\x00" if native else bytes(damaged[:-4]) + b"\x00"
        with pytest.raises(HybridCodecError, match="invalid header"):
            hybridcodec.decompress(fuzz_common.with_valid_crc(fuzz_input))
