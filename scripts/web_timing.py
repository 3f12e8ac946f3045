"""Restore time of a 768x512 photo in the page (headless Chromium,
onnxruntime-web's WebAssembly with 1 and 2 threads) against native ONNX
Runtime with the same threads, per network: the figures of docs/WEB.md.

For each codec and precision, the photo (scikit-image's astronaut, as
``bench-decode`` makes it) is compressed to a native file at quality 40 and scale 1;
``hybridcodec web`` writes the page's folder; a local server on 127.0.0.1
serves it with the cross-origin isolation headers; Chromium runs the
module's ``restoreBytes`` on each file (one warm-up, then RUNS timed runs:
the median of the network's time, and of the whole restore from the file's
bytes: decode, network, strengths) and posts the results with the largest
level difference from ``hybridcodec.decompress``.

    python scripts/web_timing.py [--runs 3] [--codecs ...] [--tiers full light] [--json results/web-timing.json]

Needs chromium and web/node_modules/onnxruntime-web (npm ci --prefix web).
"""

import argparse
import base64
import http.server
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import hybridcodec
from hybridcodec import codecs, container, runtime, web, zoo

ROOT = Path(__file__).resolve().parent.parent
ORT_DIST = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist"
# (codec, precision, decoder tier); the default tune
PRECISIONS = ("int8", "float32")
CASES = [(codec, precision, tier) for tier in ("full", "light") for codec in ("jpeg", "webp", "avif", "jpegxl")
         for precision in PRECISIONS]

PAGE = """<!doctype html><meta charset="utf-8">
<script type="module" src="hybridcodec.js" data-manual></script>
<script type="module">
import { config, restoreBytes } from './hybridcodec.js';
const query = new URLSearchParams(location.search);
config.threads = Number(query.get('threads'));
const runs = Number(query.get('runs'));
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const out = { crossOriginIsolated, threads: config.threads, files: {} };
for (const name of query.get('files').split(',')) {
  const bytes = new Uint8Array(await (await fetch(name)).arrayBuffer());
  let result = await restoreBytes(bytes);  // warm-up: session, first allocations
  const network = [], total = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    result = await restoreBytes(bytes);
    total.push(performance.now() - start);
    network.push(result.ms);
  }
  let s = '';
  for (let i = 0; i < result.rgb.length; i += 32768) s += String.fromCharCode(...result.rgb.subarray(i, i + 32768));
  out.files[name] = { network: result.network, network_ms: median(network), restore_ms: median(total), rgb: btoa(s) };
}
await fetch('/result', { method: 'POST', body: JSON.stringify(out) });
</script>
"""


def picture(width: int = 768, height: int = 512) -> np.ndarray:
    from PIL import Image
    from skimage import data

    tile = np.asarray(Image.fromarray(data.astronaut()).resize((768, 768), Image.Resampling.LANCZOS))
    return np.ascontiguousarray(tile[:height, :width])


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                      ".mjs": "text/javascript", ".wasm": "application/wasm", ".avif": "image/avif",
                      ".webp": "image/webp"}

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def do_POST(self):
        self.server.result = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()
        self.server.done.set()

    def log_message(self, *args):
        pass


def in_chromium(folder: Path, files: list[str], threads: int, runs: int) -> dict:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: Handler(*a, directory=str(folder)))
    server.done = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/timing.html?threads={threads}&runs={runs}&files={','.join(files)}"
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen([shutil.which("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu",
                                    "--no-first-run", f"--user-data-dir={profile}", url],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not server.done.wait(600):
                raise SystemExit("Chromium did not report in 600 s")
        finally:
            browser.kill()
            browser.wait()
            server.shutdown()
            server.server_close()
    return server.result


def native_ms(entry, decoded: np.ndarray, condition: np.ndarray, threads: int, runs: int) -> float:
    """Median ms of the same network on the same decoded picture in ONNX Runtime with ``threads``."""
    os.environ[runtime.THREADS_VARIABLE] = str(threads)
    network = runtime.Network(entry.onnx_path, entry.onnx_sha256)
    image = decoded[None].astype(np.float32) / 255
    network([image, condition])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        network([image, condition])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--codecs", nargs="+", default=["jpeg", "webp", "avif", "jpegxl"])
    parser.add_argument("--tiers", nargs="+", default=["full", "light"], help="decoder tiers (default: both)")
    args = parser.parse_args()
    from hybridcodec.coding import condition_vector

    photo = picture()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files, rows = [], {}
        for codec, precision, decoder in [c for c in CASES if c[0] in args.codecs and c[2] in args.tiers]:
            name = f"{codec}-{decoder}-{precision}{codecs.get_codec(codec).extension}"
            # scale 1, unchecked: the file names its network (the check may keep the plain picture)
            data = hybridcodec.compress(photo, codec, 40, scale=1, native=True, precision=precision, decoder=decoder)
            (tmp / name).write_bytes(data)
            files.append(name)
            header = container.unpack(codecs.extract_native(data)[1]).header
            entry = zoo.find(sha256=header.model("post").sha256)
            backend = codecs.get_codec(codec)
            decoded = backend.decode(data)
            condition = condition_vector(zoo.load(entry).condition, backend, header.quality, data)
            rows[name] = {"network": entry.name, "expected": hybridcodec.decompress(data),
                          "native_ms": {t: native_ms(entry, decoded, condition, t, args.runs) for t in (1, 2)}}
        site = tmp / "site"
        web.write(site, [tmp / n for n in files], ort=ORT_DIST)
        (site / "timing.html").write_text(PAGE)
        page = {t: in_chromium(site, files, t, args.runs) for t in (1, 2)}
    print(f"768x512, quality 40, {platform.processor() or platform.machine()}, "
          f"CPU flags: {' '.join(sorted(runtime.cpu_flags() & set(runtime.SPEED_FLAGS)))}")
    print("| file | network | page 1 thread ms | page 2 threads ms | native 1 / 2 threads ms | ratio (2 threads) "
          "| restore in page ms (2 threads) | largest difference from decompress |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    figures = {}
    for name, row in rows.items():
        got = {t: page[t]["files"][name] for t in (1, 2)}
        shown = np.frombuffer(base64.b64decode(got[2]["rgb"]), np.uint8).reshape(row["expected"].shape)
        difference = int(np.abs(shown.astype(int) - row["expected"]).max())
        ratio = got[2]["network_ms"] / row["native_ms"][2]
        print(f"| {name} | {row['network']} | {got[1]['network_ms']:.0f} | {got[2]['network_ms']:.0f} | "
              f"{row['native_ms'][1]:.0f} / {row['native_ms'][2]:.0f} | {ratio:.1f} | {got[2]['restore_ms']:.0f} "
              f"| {difference} |")
        figures[name] = {"network": row["network"], "page_ms": {t: got[t]["network_ms"] for t in (1, 2)},
                         "page_restore_ms": {t: got[t]["restore_ms"] for t in (1, 2)},
                         "native_ms": row["native_ms"], "largest_difference": difference}
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu_flags": sorted(runtime.cpu_flags() & set(runtime.SPEED_FLAGS)),
                                               "cross_origin_isolated": page[2]["crossOriginIsolated"],
                                               "files": figures}, indent=1) + "\n")


if __name__ == "__main__":
    main()
