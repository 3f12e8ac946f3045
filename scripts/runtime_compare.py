"""Compare inference runtimes on the shipped networks' ONNX files: start-up
(import + open), per-image time for 768x512 (median of 10) and peak memory.

    python scripts/runtime_compare.py [NAME ...]

Each runtime runs in a fresh process, so start-up and memory are its own.
Prints a Markdown table (docs/ROBUSTNESS.md has one).
"""

import json
import subprocess
import sys

from hybridcodec import zoo
from hybridcodec.tools import peak

CHILD = r"""
import importlib.util, json, sys, time
import numpy as np
runtime, path, scale = sys.argv[1], sys.argv[2], int(sys.argv[3])
# the one peak-memory method (hybridcodec/tools/peak.py), loaded alone: importing hybridcodec would add to startup
spec = importlib.util.spec_from_file_location("peak", sys.argv[4])
peak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peak)
x = np.random.default_rng(0).random((1, 512 // scale, 768 // scale, 3), dtype=np.float32)
q = np.array([[0.3]], np.float32)
start = time.perf_counter()
if runtime == "onnxruntime":
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    run = lambda: session.run(None, {"decoded": x, "quality": q})[0]
else:
    import openvino as ov
    core = ov.Core()
    # f32: OpenVINO would otherwise run bfloat16 on CPUs that have it (other pixels)
    compiled = core.compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    run = lambda: compiled([x, q])[0]
opened = time.perf_counter() - start
first = time.perf_counter(); run(); first = time.perf_counter() - first
times = []
for _ in range(10):
    t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
print(json.dumps({"startup_s": opened, "first_s": first, "ms": 1000 * float(np.median(times)),
                  "peak_mb": peak.peak_rss_mb()}))
"""


def main(names):
    names = names or ["reccnn-jpeg-s1-q15-35-d16", "reccnn-webp-s1-v3", "reccnn-jpeg-s2-d16"]
    entries = [zoo.find(n) for n in names]
    print("| network | runtime | start-up s | first call s | ms 768x512 (median of 10) | peak MB |")
    print("|---|---|---:|---:|---:|---:|")
    for entry in entries:
        for runtime in ("onnxruntime", "openvino"):
            command = [sys.executable, "-c", CHILD, runtime, str(entry.onnx_path), str(entry.scale.network_factor),
                       peak.__file__]
            out = subprocess.run(command, capture_output=True, text=True)
            if out.returncode:
                print(f"| {entry.name} | {runtime} | failed: {out.stderr.strip().splitlines()[-1]} | | | |")
                continue
            r = json.loads(out.stdout)
            print(f"| {entry.name} | {runtime} | {r['startup_s']:.2f} | {r['first_s']:.2f} | {r['ms']:.0f} "
                  f"| {r['peak_mb']:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
