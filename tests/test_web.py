"""Restoration in the page (web/, hybridcodec/web.py, docs/WEB.md): the same
pixels as ``hybridcodec.decompress``, in headless Chromium.

One Chromium launch serves every case: a local server on 127.0.0.1 (a
thread, port 0) serves a folder written by ``hybridcodec web`` plus the test
files, with the cross-origin isolation headers WebAssembly threads need; the
test page restores every image, reads back what it painted and the browser's
plain decode of each file, and POSTs them and its console lines to the
server. A second page in an iframe has a Content-Security-Policy without
'wasm-unsafe-eval'; an image from another origin (localhost, not 127.0.0.1)
sends no CORS header.
"""

import base64
import http.server
import json
import shutil
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hybridcodec
from hybridcodec import codecs, container, pipeline, strength
from hybridcodec.cli import main
from hybridcodec.container import ModelRef
from hybridcodec.images import ORIENTATION, stored_orientation

ROOT = Path(__file__).resolve().parent.parent
ORT_DIST = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist"
QUALITY = 40
# Beyond the browser's plain decode: the page's restored image is within this
# many levels (0-255) of decompress's at every pixel.
BOUND = 2
# The browser's plain decode against Python's (imagecodecs), largest level
# difference measured on these files with Chromium 156; the test fails if a
# browser differs more, so a change shows. Both sides use libjpeg-turbo, libwebp
# and libavif/dav1d with the same upsampling and colour conversion: 0 for those
# three; Chromium's JPEG XL decoder (jxl-rs) rounds 1 level away from libjxl.
PLAIN_LIMIT = {"jpeg": 0, "webp": 0, "avif": 0, "jpegxl": 1}
# A file carrying an ICC profile is shown colour-managed, as decompress's PNG
# is by a viewer: Chromium's colour engine (skcms) against Little CMS
# (Pillow's ImageCms) on the same matrix-shaper profile, largest level
# difference on top of BOUND (0 measured with Chromium 156).
ICC_LIMIT = 1
TIMEOUT_S = 90


def swapped_primaries_profile() -> bytes:
    """An RGB ICC profile that is not sRGB: Little CMS's sRGB with its red and
    blue primaries swapped (a valid matrix-shaper profile; no file needed)."""
    import struct

    from PIL import ImageCms

    srgb = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack(">I", srgb[128:132])
    entries = {bytes(srgb[132 + 12 * k : 136 + 12 * k]): 136 + 12 * k for k in range(count)}
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    srgb[red : red + 8], srgb[blue : blue + 8] = srgb[blue : blue + 8], srgb[red : red + 8]
    return bytes(srgb)


def in_srgb(rgb: np.ndarray, icc: bytes) -> np.ndarray:
    """``rgb`` tagged with ``icc``, converted to sRGB as a colour-managed viewer shows it."""
    import io

    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return np.asarray(ImageCms.profileToProfile(Image.fromarray(rgb), profile, ImageCms.createProfile("sRGB"),
                                                outputMode="RGB"))


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def native(image, codec, **options) -> bytes:
    """A native file that names a network: at a given scale (1 unless said), not --scale auto,
    whose check may keep the plain picture on so small a photo."""
    return hybridcodec.compress(image, codec, QUALITY, native=True, **{"scale": 1, **options})


def rewritten(image, codec, models=None, strengths=b"", width=None, **options) -> bytes:
    """A native file whose header names ``models``, carries ``strengths`` or says
    another ``width``: what another encoder (or a newer release, or a damaged
    file) may write; ``Codec.embed`` wraps it."""
    encoded = pipeline.encode(image, codec, QUALITY, scale=1, **options)
    hc = encoded.hc
    header = hc.header if models is None else replace(hc.header, models=models)
    header = header if width is None else replace(header, width=width)
    header = replace(header, models=[ModelRef(m.role, "", m.sha256) for m in header.models])
    bare = replace(hc, header=header, payload=b"", strengths=strengths)
    width, height = header.scale.coded_size(header.width, header.height)
    return codecs.get_codec(codec).embed(hc.payload, container.pack(bare), width, height)


@pytest.fixture(scope="module")
def cases():
    """name -> native file bytes; the good ones restore, the bad ones stay plain."""
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[100:228, 150:342])  # 192x128
    wide = np.ascontiguousarray(np.concatenate([data.astronaut()[:96], data.coffee()[:96, :448]], axis=1))  # 960x96
    k = strength.MAP_TILE_LOG2
    codes = np.arange(np.prod(strength.tiles(192, 128, k))) % 4  # every strength, per 64-pixel tile
    good = {
        "a.jpg": native(photo, "jpeg"),  # the int8 twins: what files name by default
        "a.webp": native(photo, "webp"),
        "a.avif": native(photo, "avif"),
        "a.jxl": native(photo, "jpegxl"),  # Chromium 156 decodes JPEG XL
        "float.avif": native(photo, "avif", precision="float32"),
        "float.jpg": native(photo, "jpeg", precision="float32"),
        "psnr.jpg": native(photo, "jpeg", tune="psnr"),  # the psnr tune's encoder and network
        "light.jpg": native(photo, "jpeg", decoder="light"),  # the light tier (issue #41)
        "gray.webp": native(photo.mean(axis=2).astype(np.uint8), "webp"),
        "tiles.jpg": native(wide, "jpeg"),  # wider than coding.TILE + 2 OVERLAP: restored tile by tile
        "icc.webp": native(photo, "webp", icc=swapped_primaries_profile()),  # shown with its profile applied
        "strengths.jpg": rewritten(photo, "jpeg", strengths=strength.pack(codes, k)),
    }
    with pytest.warns(UserWarning, match="half size"):
        good["half.jpg"] = native(photo, "jpeg", scale=2)
    jpeg = good["a.jpg"]
    # an EXIF orientation added after compress: decompress shows the stored (upright-coded) pixels, as must the page
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    app1 = exif.tobytes()  # "Exif\0\0" and the TIFF block: an APP1 segment's body
    app11_end = 4 + int.from_bytes(jpeg[4:6], "big")
    good["turned.jpg"] = jpeg[:app11_end] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + jpeg[app11_end:]
    bad = {
        "plain.jpg": codecs.get_codec("jpeg").encode(photo, QUALITY),  # no header
        "truncated.jpg": jpeg[: len(jpeg) * 2 // 3],
        "unknown.webp": rewritten(photo, "webp", models=[ModelRef("post", "", "ab" * 32)]),
        "tampered.webp": native(photo, "webp", precision="float32"),  # its network's bytes are changed below
        "resized.jpg": rewritten(photo, "jpeg", width=190),  # the picture is 192 wide: refused before it is copied
    }
    return good, bad


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # Chromium killed at the end resets its open connections: not a failure


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                      ".mjs": "text/javascript", ".wasm": "application/wasm", ".avif": "image/avif",
                      ".webp": "image/webp", ".onnx": "application/octet-stream"}

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "cross-origin")
        self.send_header("Cache-Control", "no-store")
        if self.path.startswith("/csp.html"):
            self.send_header("Content-Security-Policy", "script-src 'self'")
        super().end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.results[self.path.strip("/")] = json.loads(body)
        self.send_response(204)
        self.end_headers()
        if self.server.expected <= set(self.server.results):
            self.server.done.set()

    def log_message(self, *args):
        pass


CONSOLE_TAG = '<script src="console.js"></script>'
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script src="console.js"></script>
<script type="module" src="hybridcodec.js" data-threads="2"></script>
<script type="module" src="collect.js" data-report="{report}"></script>
</head><body>{images}</body></html>
"""

# Before the module: every console line the page writes, and errors nobody caught.
CONSOLE_JS = """window.lines = [];
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  const write = console[level];
  console[level] = (...args) => { window.lines.push(args.map(String).join(' ')); write.apply(console, args); };
}
addEventListener('error', (e) => window.lines.push('uncaught: ' + e.message));
addEventListener('unhandledrejection', (e) => window.lines.push('unhandled: ' + e.reason));
"""

# Once every image is restored or left plain: what it shows now (drawn from
# the <img>), the browser's plain decode of its file, and the console lines.
COLLECT_JS = """import { decodePixels } from './hybridcodec.js';
import { sniff } from './format.js';
const report = [...document.scripts].find((s) => s.src === import.meta.url).dataset.report;
const images = [...document.querySelectorAll('img[data-hybridcodec]')];
function b64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 32768) text += String.fromCharCode(...bytes.subarray(i, i + 32768));
  return btoa(text);
}
const settled = (img) => ['restored', 'plain'].includes(img.dataset.hybridcodecState)
  ? Promise.resolve() : new Promise((resolve) => img.addEventListener('hybridcodec', resolve, { once: true }));
function shown(img) {
  const canvas = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = new Uint8Array(rgba.length / 4 * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) rgb.set(rgba.subarray(i, i + 3), j);
  return { width: canvas.width, height: canvas.height, rgb: b64(rgb) };
}
const result = { images: {}, crossOriginIsolated };
await Promise.all(images.map(settled));
for (const img of images) {
  const name = img.dataset.name;
  const entry = { state: img.dataset.hybridcodecState, src: img.src };
  if (entry.state === 'restored') {
    await img.decode();
    entry.shown = shown(img);
  }
  try {
    const bytes = new Uint8Array(await (await fetch(name)).arrayBuffer()); // the foreign one: none
    const plain = await decodePixels(bytes, sniff(bytes));
    entry.plain = { width: plain.width, height: plain.height, rgb: b64(plain.rgb) };
  } catch (error) { entry.plain = null; }
  result.images[name] = entry;
}
result.lines = window.lines;
await fetch(report, { method: 'POST', body: JSON.stringify(result) });
"""


@pytest.fixture(scope="module")
def browser_run(cases, tmp_path_factory):
    """One Chromium launch over every case: {"main": ..., "csp": ...} as the pages report them."""
    browser = chromium()
    if browser is None:
        pytest.skip("chromium not installed (Debian package; .ci/run installs it)")
    if not (ORT_DIST / "ort.wasm.min.mjs").exists():
        pytest.skip("web/node_modules/onnxruntime-web missing: npm ci --prefix web (.ci/run does)")
    good, bad = cases
    folder = tmp_path_factory.mktemp("site")
    sources = tmp_path_factory.mktemp("files")
    for name, data in {**good, **bad}.items():
        (sources / name).write_bytes(data)
    shipped = [sources / n for n in good] + [sources / "tampered.webp"]
    assert main(["web", str(folder), *map(str, shipped), "--ort", str(ORT_DIST), "-q"]) == 0
    for name in bad:
        (folder / name).write_bytes(bad[name])
    index = json.loads((folder / "models" / "index.json").read_text())["networks"]
    tampered = index[container.unpack(codecs.extract_native(bad["tampered.webp"])[1]).header.model("post").sha256]
    network = folder / "models" / tampered["file"]
    network.write_bytes(network.read_bytes() + b"\0")  # one byte more: its SHA-256 no longer matches

    server = _Server(("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(folder)))
    server.results = {}
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    foreign = f"http://localhost:{port}/a.jpg"  # another origin, no CORS header
    tags = "".join(f'<img src="{n}" data-name="{n}" data-hybridcodec>' for n in [*good, *bad]) + \
        f'<img src="{foreign}" data-name="foreign" data-hybridcodec>'
    (folder / "console.js").write_text(CONSOLE_JS)
    (folder / "collect.js").write_text(COLLECT_JS)
    (folder / "test.html").write_text(PAGE.format(report="/main", images=tags) +
                                      '<iframe src="csp.html"></iframe><iframe src="nowasm.html"></iframe>')
    single = '<img src="a.jpg" data-name="a.jpg" data-hybridcodec>'
    (folder / "csp.html").write_text(PAGE.format(report="/csp", images=single))
    # a browser without WebAssembly, as far as the page can tell
    (folder / "nowasm.js").write_text("delete globalThis.WebAssembly;\n")
    page = PAGE.replace('<script src="console.js"></script>', CONSOLE_TAG + '<script src="nowasm.js"></script>')
    (folder / "nowasm.html").write_text(page.format(report="/nowasm", images=single))
    log = folder.parent / "chromium.log"
    try:
        _open_in_chromium(browser, server, f"http://127.0.0.1:{port}/test.html", {"main", "csp", "nowasm"}, log)
    finally:
        server.shutdown()
        server.server_close()
    return server.results


def _open_in_chromium(browser, server, url, reports, log, *flags):
    """Open ``url`` in headless Chromium until the pages have posted ``reports``."""
    server.expected, server.done = reports, threading.Event()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", *flags,
             f"--user-data-dir={log.parent / 'profile'}", url], stdout=out, stderr=out)
    try:
        finished = server.done.wait(TIMEOUT_S)
    finally:
        process.kill()
        process.wait(30)
    assert finished, f"the pages reported {sorted(server.results)} in {TIMEOUT_S} s; see {log}"


def _pixels(entry) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(entry["rgb"]), np.uint8)
    return data.reshape(entry["height"], entry["width"], 3)


def _lines_about(lines, name):
    return [line for line in lines if f"/{name}:" in line]


def test_page_restores_as_decompress_does(cases, browser_run):
    good, _ = cases
    page = browser_run["main"]
    assert page["crossOriginIsolated"]  # 2 WebAssembly threads
    report = {}
    for name, data in good.items():
        entry = page["images"][name]
        if name.endswith(".jxl") and entry["state"] == "plain":  # a Chromium without JPEG XL: one line says so
            (line,) = _lines_about(page["lines"], name)
            assert "cannot decode this jpegxl file" in line
            continue
        assert entry["state"] == "restored", _lines_about(page["lines"], name)
        codec = codecs.sniff_native(data)
        # (a) the browser's plain decode against Python's
        python_plain = codecs.get_codec(codec.name).decode(data)
        browser_plain = _pixels(entry["plain"])
        plain = int(np.abs(browser_plain.astype(int) - python_plain).max())
        assert plain <= PLAIN_LIMIT[codec.name], (name, plain)
        # (b) what the page shows against decompress, within BOUND beyond the plain difference
        expected = hybridcodec.decompress(data)
        assert stored_orientation(data) == 1  # turned.jpg too: the header says the pixels are upright
        if expected.ndim == 2:
            expected = np.repeat(expected[:, :, None], 3, axis=2)
        shown = _pixels(entry["shown"])
        assert shown.shape == expected.shape, name
        limit = plain + BOUND
        icc = pipeline.read_file(data).icc
        if icc:  # the page tags its PNG with the header's profile, as decompress's PNG is tagged
            untagged = int(np.abs(shown.astype(int) - expected).max())
            expected, limit = in_srgb(expected, icc), limit + ICC_LIMIT
            assert untagged > 10 * limit, (name, untagged)  # the profile was applied
        restored = int(np.abs(shown.astype(int) - expected).max())
        report[name] = (plain, restored)
        assert restored <= limit, (name, plain, restored)
        if shown.shape == browser_plain.shape:  # the network did change the picture
            assert np.abs(shown.astype(int) - browser_plain).max() > BOUND, name
    print("max level difference (plain decode, restored):", report)


def test_bad_input_leaves_the_plain_image_with_one_line(cases, browser_run):
    _, bad = cases
    page = browser_run["main"]
    reasons = {"plain.jpg": "no hybridcodec header", "truncated.jpg": "truncated",
               "unknown.webp": "index.json lacks", "tampered.webp": "does not match its SHA-256",
               "resized.jpg": "decodes to 192x128, its header says 190x128"}
    for name in bad:
        entry = page["images"][name]
        assert entry["state"] == "plain", name
        assert entry["src"].endswith("/" + name)  # the plain file, not a restored blob
        lines = _lines_about(page["lines"], name)
        assert len(lines) == 1 and reasons[name] in lines[0], (name, lines)
    assert page["images"]["foreign"]["state"] == "plain"
    assert len([line for line in page["lines"] if "localhost" in line and "cross-origin" in line]) == 1
    ours = [line for line in page["lines"] if line.startswith("hybridcodec:")]
    unshown = sum(entry["state"] == "plain" for name, entry in page["images"].items() if name.endswith(".jxl"))
    assert len(ours) == len(bad) + 1 + unshown and len(page["lines"]) == len(ours), page["lines"]  # nothing else


def test_csp_without_wasm_unsafe_eval_leaves_the_plain_image(browser_run):
    page = browser_run["csp"]
    assert page["images"]["a.jpg"]["state"] == "plain"
    lines = [line for line in page["lines"] if line.startswith("hybridcodec:")]
    assert len(lines) == 1 and "wasm-unsafe-eval" in lines[0] and len(page["lines"]) == 1, page["lines"]


def test_a_browser_without_webassembly_shows_the_plain_image(browser_run):
    page = browser_run["nowasm"]
    assert page["images"]["a.jpg"]["state"] == "plain"
    assert len(page["lines"]) == 1 and "no WebAssembly" in page["lines"][0], page["lines"]


def test_web_writes_the_networks_files_name_and_never_overwrites(tmp_path, cases):
    good, bad = cases
    (tmp_path / "a.jpg").write_bytes(good["a.jpg"])
    site = tmp_path / "site"
    assert main(["web", str(site), str(tmp_path / "a.jpg"), "-q"]) == 0
    index = json.loads((site / "models" / "index.json").read_text())["networks"]
    ref = container.unpack(codecs.extract_native(good["a.jpg"])[1]).header.model("post")
    assert list(index) == [ref.sha256] and index[ref.sha256]["condition"] == "jpeg-tables"
    onnx = site / "models" / index[ref.sha256]["file"]
    import hashlib

    assert hashlib.sha256(onnx.read_bytes()).hexdigest() == index[ref.sha256]["onnx_sha256"]
    assert (site / "hybridcodec.js").read_bytes() == (ROOT / "web" / "src" / "hybridcodec.js").read_bytes()
    assert 'data-hybridcodec' in (site / "index.html").read_text()
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert main(["web", str(site), str(tmp_path / "a.jpg")]) == 1  # exists: refused, nothing written
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert main(["web", str(site), str(tmp_path / "a.jpg"), "-q", "--force"]) == 0
    (tmp_path / "plain.jpg").write_bytes(bad["plain.jpg"])
    assert main(["web", str(tmp_path / "other"), str(tmp_path / "plain.jpg")]) == 1  # no header
    assert not (tmp_path / "other").exists()
    with pytest.raises(SystemExit) as stop:
        main(["web", str(tmp_path / "other")])  # neither files nor --all: wrong usage
    assert stop.value.code == 2


def test_the_npm_package_has_hybridcodecs_version():
    package = json.loads((ROOT / "web" / "package.json").read_text())
    assert package["name"] == "hybridcodec-web" and package["version"] == hybridcodec.__version__
    pin = package["dependencies"]["onnxruntime-web"]
    assert pin.replace(".", "").isdigit()  # an exact version: the lock file and the tests use that one


def test_js_reads_table_features_as_python(cases, tmp_path):
    """format.js's port of JPEG.table_features, in Node (where it is installed)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    good, bad = cases
    script = ("import { tableFeatures } from '" + (ROOT / "web" / "src" / "format.js").as_uri() + "';"
              "import { readFileSync } from 'fs';"
              "const read = (p) => tableFeatures(new Uint8Array(readFileSync(p)));"
              "console.log(JSON.stringify(process.argv.slice(1).map(read)));")
    paths = []
    for name in ("a.jpg", "float.jpg", "plain.jpg"):
        path = tmp_path / name
        path.write_bytes({**good, **bad}[name])
        paths.append(path)
    out = subprocess.run([node, "--input-type=module", "-e", script, *map(str, paths)], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    got = np.asarray(json.loads(out), np.float32)
    expected = np.asarray([codecs.get_codec("jpeg").table_features(p.read_bytes()) for p in paths], np.float32)
    np.testing.assert_array_equal(got, expected)
