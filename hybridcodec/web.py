"""``hybridcodec web DIR``: the folder a web page needs to restore native files in the browser.

The browser side is the JavaScript module in the repository's ``web/``
folder (its own npm package, ``hybridcodec-web``; docs/WEB.md). Its sources,
``web/src/*.js``, are the one copy: the wheel installs them as
``hybridcodec/web_static`` (setup.cfg), as ``models/`` installs as
``hybridcodec/weights``. This module writes, into DIR:

* ``hybridcodec.js`` and ``format.js``: the module;
* ``models/index.json`` and the ``.onnx`` networks the given files name (or
  every current restoration network, ``--all``): the index maps the hash a
  header names (docs/FORMAT.md "Model record": the weights hash of a float32
  network, the ONNX file's hash of an int8 twin) to the ONNX file, its
  SHA-256 (which the page checks before running it), its condition contract
  and its scale;
* the given files themselves and ``index.html``, an example page showing them;
* with ``ort``, the WebAssembly (and WebGPU) files of an installed
  ``onnxruntime-web/dist`` folder, in ``ort/``: 15 MB for WebAssembly, 29 MB
  more for WebGPU. They never ship in the wheel.

Nothing is overwritten without ``force``; everything is checked before the
first write, so a refusal leaves DIR as it was.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from . import codecs, container, zoo
from .errors import HybridCodecError

MODULE_FILES = ("hybridcodec.js", "format.js")
# What the module imports from onnxruntime-web's dist/ (ort.wasm.min.mjs: the
# WebAssembly build; ort.webgpu.min.mjs: WebGPU, with the asyncify WebAssembly)
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
             "ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
INDEX_FORMAT = 1


def static_dir() -> Path:
    """The JavaScript sources: installed (wheel) or the repository's web/src (source checkout)."""
    installed = Path(__file__).parent / "web_static"
    if (installed / MODULE_FILES[0]).exists():
        return installed
    return Path(__file__).resolve().parent.parent / "web" / "src"


def current_networks() -> list[zoo.ZooEntry]:
    """Every current restoration network (float32 and int8 twins): what ``--all`` writes."""
    return [e for e in zoo.entries() if e.role == "post" and e.status == "current"]


def network_of(path: Path) -> zoo.ZooEntry | None:
    """The shipped restoration network a native file's header names (None: it names none).
    Refuses, in one line, what a page cannot restore: a ``.hc`` file, a file
    without a header, a network not shipped."""
    from .files import read_bytes

    data = read_bytes(path)
    if container.sniff(data):
        raise HybridCodecError(f"{path} is a .hc file, which browsers do not show: compress with --native")
    try:
        backend, blob = codecs.extract_native(data)
    except HybridCodecError:
        raise HybridCodecError(f"{path} is not a JPEG, WebP, AVIF or JPEG XL file") from None
    if blob is None:
        raise HybridCodecError(f"{path} has no hybridcodec header: compress it with --native")
    header = container.unpack(blob).header
    ref = header.model("post")
    if ref is None:
        return None
    entry = zoo.find(sha256=ref.sha256)
    if entry is None:
        raise HybridCodecError(f"{path} names a restoration network that is not shipped "
                               f"(sha256 {ref.sha256[:16]}...): a page can run shipped networks only")
    return entry


def index_record(entry: zoo.ZooEntry) -> dict:
    """What the page needs to know of a network, keyed by the hash headers name.
    The contract and scale are read from the ONNX file's metadata, as the runtime reads them."""
    from . import runtime

    network = runtime.load(str(entry.onnx_path), entry.onnx_sha256)  # checks the file's SHA-256
    return {"name": entry.name, "file": entry.onnx, "onnx_sha256": entry.onnx_sha256, "codec": entry.codec,
            "precision": entry.precision, "condition": network.condition, "scale": network.scale}


def example_page(images: list[str]) -> str:
    """index.html: one script tag, one attribute per image."""
    tags = "\n".join(f'  <img src="{html.escape(name)}" data-hybridcodec alt="{html.escape(name)}">'
                     for name in images) or "  <!-- <img src=\"photo.jpg\" data-hybridcodec> -->"
    return f"""<!doctype html>
<!-- Written by `hybridcodec web`. Serve this folder over HTTP(S) (not file://), e.g.
     `python -m http.server`; for 2+ WebAssembly threads send the cross-origin
     isolation headers Cross-Origin-Opener-Policy: same-origin and
     Cross-Origin-Embedder-Policy: require-corp.
     onnxruntime-web is not included: `npm install onnxruntime-web` (or
     `npm install hybridcodec-web`) and run `hybridcodec web DIR --ort
     node_modules/onnxruntime-web/dist`, or copy those files into ort/. -->
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>hybridcodec in the page</title>
  <script type="module" src="hybridcodec.js" data-models="models/" data-ort="ort/"></script>
</head>
<body>
{tags}
</body>
</html>
"""


def plan(folder, files=(), all_networks: bool = False, ort=None) -> dict[Path, bytes | Path]:
    """Every output of ``write``: path -> its bytes, or the file to copy."""
    folder = Path(folder)
    entries = current_networks() if all_networks else []
    for path in map(Path, files):
        entry = network_of(path)
        if entry is not None and entry not in entries:
            entries.append(entry)
    outputs: dict[Path, bytes | Path] = {}
    source = static_dir()
    for name in MODULE_FILES:
        outputs[folder / name] = source / name
    records = {}
    for entry in entries:
        records[entry.sha256] = index_record(entry)
        outputs[folder / "models" / entry.onnx] = entry.onnx_path
    index = {"format": INDEX_FORMAT, "networks": records}
    outputs[folder / "models" / "index.json"] = (json.dumps(index, indent=1) + "\n").encode()
    names = []
    for path in map(Path, files):
        if path.name in names:
            raise HybridCodecError(f"two files called {path.name}: the page shows them by name")
        names.append(path.name)
        outputs[folder / path.name] = path
    outputs[folder / "index.html"] = example_page(names).encode()
    if ort is not None:
        ort = Path(ort)
        missing = [n for n in ORT_FILES[:3] if not (ort / n).is_file()]
        if missing:
            raise HybridCodecError(f"{ort} is not onnxruntime-web's dist folder: {missing[0]} missing")
        for name in ORT_FILES:
            if (ort / name).is_file():
                outputs[folder / "ort" / name] = ort / name
    return outputs


def write(folder, files=(), all_networks: bool = False, force: bool = False, ort=None) -> list[Path]:
    """Write the page's folder (see the module docstring); returns the paths written.
    Without ``force`` an existing output is refused before anything is written;
    a given file already in ``folder`` is left as it is."""
    from .files import write_atomic

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HybridCodecError(f"{folder} is not a folder")
    outputs = plan(folder, files, all_networks, ort)
    todo = {}
    for path, content in outputs.items():
        if isinstance(content, Path) and path.exists() and path.resolve() == content.resolve():
            continue  # a given file already in place: never written over itself
        if path.exists() and not force:
            raise HybridCodecError(f"{path} exists: use --force to overwrite")
        todo[path] = content
    for path, content in todo.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.read_bytes() if isinstance(content, Path) else content
        write_atomic(path, data, force)
    return list(todo)
