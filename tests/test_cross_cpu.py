"""Same pixels on another CPU (issue #20): every int8 twin, and the golden
files, decoded here and under QEMU as a Haswell (AVX2 and FMA, no AVX-512,
no VNNI), where ONNX Runtime's fast u8s8 kernel would saturate (up to 30
grey levels off) and the runtime asks for its exact one instead. And the
same refit of a twin's output layer there (issue #37.1).

QEMU runs this machine's own Python, so the test needs an x86-64 host and
``qemu-x86_64`` (Debian: qemu-user; .ci/run installs it). AVIF golden files
are left out: QEMU 7.2 emulates an instruction of the AVIF decoder wrongly
(its plain decode differs there, with or without hybridcodec)."""

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hybridcodec import zoo

QEMU = shutil.which("qemu-x86_64")
pytestmark = pytest.mark.skipif(platform.machine() != "x86_64" or QEMU is None,
                                reason="needs an x86-64 host and qemu-x86_64 (Debian: qemu-user)")

GOLDEN = Path(__file__).parent / "golden"

# Run here and under QEMU: each twin on the inputs of ``_inputs`` (made here,
# so that only the networks run emulated), then the JPEG golden files whole.
CHILD = """
import json, sys
from pathlib import Path
import numpy as np
from hybridcodec import pipeline, runtime, zoo
from hybridcodec.coding import run_post
out = {"precision_mode": runtime.int8_precision_mode()}
inputs = np.load(sys.argv[1])
for twin in (e for e in zoo.entries() if e.variant_of):
    seen, condition = inputs[twin.name + "/seen"], inputs[twin.name + "/condition"]
    out[twin.name] = run_post(zoo.load(twin), seen, condition, *inputs["size"]).tolist()
for path in sys.argv[2:]:
    out[Path(path).name] = np.asarray(pipeline.decompress(Path(path).read_bytes())).tolist()
print(json.dumps(out))
"""


def _inputs(folder):
    """What each twin sees: a crop of a shipped photo coded by its encoder at
    the lowest quality its tables use it for, and its condition vector."""
    from skimage import data

    from hybridcodec import codecs
    from hybridcodec.coding import CodingPath

    photo = np.ascontiguousarray(data.coffee()[100:196, 200:328])
    h, w = photo.shape[:2]
    arrays = {"size": np.array([w, h])}
    for twin in (e for e in zoo.entries() if e.variant_of):
        card = json.loads(zoo.weights_file(f"{twin.name}.json").read_text())
        backend = codecs.get_codec(twin.codec).configured(card["calibration"]["encoder"])
        path = CodingPath(backend, card["calibration"]["qualities"][0], twin.scale, post=zoo.load(twin))
        payload = path.encode(photo)
        arrays[twin.name + "/seen"] = twin.scale.network_input(path.decode(payload, w, h), w, h)
        arrays[twin.name + "/condition"] = path.condition(payload)
    np.savez(folder / "inputs.npz", **arrays)
    return folder / "inputs.npz"


def _run(prefix, inputs):
    golden = sorted(str(p) for p in GOLDEN.glob("jpeg-*.hc"))
    done = subprocess.run([*prefix, sys.executable, "-c", CHILD, str(inputs), *golden], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


# Quantize and refit a twin under QEMU (tests/test_int8.py's refit_errors)
REFIT_CHILD = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
from test_int8 import refit_errors
from hybridcodec import runtime
errors, _ = refit_errors(open(sys.argv[1], "rb").read(), np.load(sys.argv[2]))
print(json.dumps({"precision_mode": runtime.int8_precision_mode(), "errors": errors}))
"""


def test_refitting_a_twin_on_a_cpu_without_vnni_fits_what_the_twin_computes_there(tmp_path, photo):
    """export.refit_output_conv reads the int8 layers' features with the
    kernel the runtime uses on that CPU. It read the saturating one where
    the twin then runs the exact one: under QEMU as a Haswell the refitted
    twin was no closer to its target (error 4.88e-08 against 5.23e-08 for
    the plain twin; 2.30e-08 on this AVX-512 VNNI machine)."""
    from test_int8 import _random_tiny_network

    (tmp_path / "net.onnx").write_bytes(_random_tiny_network())
    np.save(tmp_path / "photo.npy", photo)
    results = []
    for prefix in ([], [QEMU, "-cpu", "Haswell-v4"]):
        done = subprocess.run([*prefix, sys.executable, "-c", REFIT_CHILD, str(tmp_path / "net.onnx"),
                               str(tmp_path / "photo.npy"), str(Path(__file__).parent)],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        results.append(json.loads(done.stdout))
    here, there = (r["errors"] for r in results)
    assert results[1]["precision_mode"] is True
    assert there[1] < 0.9 * there[0], there
    assert there[1] / there[0] == pytest.approx(here[1] / here[0], abs=0.02), (here, there)


def test_twins_and_golden_files_give_the_same_pixels_on_a_cpu_without_vnni(tmp_path):
    inputs = _inputs(tmp_path)
    here = _run([], inputs)
    there = _run([QEMU, "-cpu", "Haswell-v4"], inputs)
    assert there.pop("precision_mode") is True  # the emulated CPU has no VNNI: the exact kernel
    here.pop("precision_mode")
    twins = [e.name for e in zoo.entries() if e.variant_of]
    assert twins and set(twins) <= set(here) and here.keys() == there.keys()
    for name in here:
        a, b = np.asarray(here[name], np.int16), np.asarray(there[name], np.int16)
        assert a.shape == b.shape and a.size > 0, name
        assert np.abs(a - b).max() <= 1, (name, int(np.abs(a - b).max()), int((a != b).sum()))
