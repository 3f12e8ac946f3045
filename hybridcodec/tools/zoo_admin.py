"""Zoo administration: putting trained runs into the zoo, and fixing the
operating-point tables. A tool for a source checkout (it writes models/);
nothing at run time imports it.

    hybridcodec zoo add runs/jpeg-s1 --name reccnn-jpeg-s1 --codec jpeg
    hybridcodec zoo choose --codec jpeg --val ../shared/data/choose

``add`` copies a run's weights and model card into ``models/`` and lists them
in ``models/manifest.json``. ``choose`` codes every validation image at every
quality on each path (full, three-quarter or half size, classical or with
each shipped network) and fixes, for every quality 1-99, the path and codec
quality with the best PSNR within the plain codec's bpp at that quality (see
``choose``).
The table replaces the codec's entry in the manifest, every network's
``status`` is set anew (``current`` if a table uses it, else
``superseded``), and the measurements go to
``results/operating-points-CODEC.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from .. import codecs, runtime, zoo
from .. import scale as scales
from ..coding import CodingPath
from ..container import HCFile, Header, pack
from ..errors import HybridCodecError
from ..files import write_atomic
from ..images import list_images, read_rgb
from ..metrics import bpp, psnr


def models_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "models"  # the checkout's, beside hybridcodec/


def results_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "results"


EXTRA_KEYS = ("pre_edit", "plain_files")  # the manifest's keys besides models and tables (zoo.py)


def with_statuses(manifest: dict) -> dict:
    """``manifest`` with each network's status: current if a table, a pre-editing pair or the plain
    files name it, or it is the light network or the int8 twin of one that is."""
    used = {row.get(role) for table in manifest.get("operating_points", {}).values()
            for row in table for role in ("pre", "post")}
    used |= {name for pair in manifest.get("pre_edit", {}).values() for name in pair.values()}
    used |= set(manifest.get("plain_files", {}).values())
    # --decoder light: the last one added for a network serves; older ones only decode their files
    newest_light = {m["light_of"]: m["name"] for m in manifest["models"] if m.get("light_of")}
    used |= {light for full, light in newest_light.items() if full in used}
    used |= {twin for (base, _), twin in zoo.newest_twins(manifest["models"]).items() if base in used}  # it serves too
    models = [{**m, "status": "current" if m["name"] in used else "superseded"} for m in manifest["models"]]
    out = {"models": models, "operating_points": manifest.get("operating_points", {})}
    for key in EXTRA_KEYS:
        if manifest.get(key):
            out[key] = manifest[key]
    return out


def manifest_text(manifest: dict) -> str:
    """The manifest as JSON a reader can scan: one line a network, one line an operating point."""
    manifest = with_statuses(manifest)
    models = ",\n".join("  " + json.dumps(m) for m in manifest["models"])
    tables = ",\n".join(f"  {json.dumps(codec)}: [\n" + ",\n".join("   " + json.dumps(row) for row in rows) + "\n  ]"
                         for codec, rows in manifest["operating_points"].items())
    text = '{\n "models": [\n' + models + '\n ],\n "operating_points": {\n' + tables + "\n }"
    for key in EXTRA_KEYS:
        if manifest.get(key):
            text += f',\n "{key}": ' + json.dumps(manifest[key])
    return text + "\n}\n"


def _update_manifest(change) -> None:
    """Apply ``change`` (manifest -> manifest) to models/manifest.json as it
    is on disk now, under a lock, and replace the file whole: two zoo
    commands at once (a ``quantize`` running while a table is set) each keep
    the other's update, and a reader never sees half a file (files.write_atomic)."""
    import fcntl

    path = models_dir() / "manifest.json"
    with open(models_dir() / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = change(json.loads(path.read_text()))
        zoo.newest_twins(zoo.read_models(manifest["models"]))  # refused before it is written, not at the next read
        write_atomic(path, manifest_text(manifest).encode(), force=True)
    zoo.clear_caches()


def add(run_dir, name: str, codec: str, role: str = "post", light_of: str = "") -> dict:
    """Copy ``run_dir/{role}.keras`` and its card into models/ under ``name``;
    with ``light_of``, as the light tier of that shipped restoration network
    (``--decoder light`` names it wherever the full one serves)."""
    run_dir = Path(run_dir)
    if not (run_dir / "card.json").is_file():
        raise HybridCodecError(f"{run_dir} has no card.json: not a finished training run")
    full = zoo.find(light_of) if light_of else None
    if light_of and (full is None or full.role != "post" or full.codec != codec or role != "post"):
        raise HybridCodecError(f"--light-of names a shipped {codec} restoration network, not {light_of!r}")
    card = json.loads((run_dir / "card.json").read_text())
    info = card["models"][role]
    target = models_dir()
    shutil.copyfile(run_dir / info["file"], target / f"{name}.keras")
    card["name"] = name
    (target / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    entry = {"name": name, "file": f"{name}.keras", "sha256": info["sha256"], "role": role,
             "codec": codec, "scale": card["config"]["scale"], "class": info["class"],
             "card": f"{name}.json", **export_file(target / f"{name}.keras"),
             "keras_sha256": runtime.file_sha256(target / f"{name}.keras"), **({"light_of": light_of} if full else {})}
    _update_manifest(lambda manifest: {**manifest, "models": _replaced(manifest["models"], entry)})
    return entry


def _replaced(models: list[dict], entry: dict) -> list[dict]:
    """The manifest's model list with ``entry`` in place of its namesake."""
    return [m for m in models if m["name"] != entry["name"]] + [entry]


def export_file(keras_path: Path) -> dict:
    """Export a zoo network beside its ``.keras`` file; the manifest fields that pin it."""
    from .export import export

    onnx_path = export(keras_path, keras_path.with_suffix(".onnx"))
    return {"onnx": onnx_path.name, "onnx_sha256": runtime.file_sha256(onnx_path)}


def export_zoo(names=None) -> list[str]:
    """``hybridcodec zoo export``: (re)export shipped networks (default: all) for
    the runtime and pin each file's SHA-256 in the manifest."""
    manifest = zoo.manifest()
    unknown = set(names or ()) - {m["name"] for m in manifest["models"]}
    if unknown:
        raise HybridCodecError(f"no shipped model called {', '.join(sorted(unknown))}")
    lines, pins = [], {}
    for m in manifest["models"]:
        if (not names or m["name"] in names) and not m.get("variant_of"):  # twins: ``zoo quantize``
            pins[m["name"]] = pin = export_file(zoo.keras_path(m["name"]))  # checked: never re-pin a damaged file
            lines.append(f"{m['name']}: {pin['onnx']} sha256 {pin['onnx_sha256'][:16]}...")
    _update_manifest(lambda manifest: {**manifest, "models": [{**m, **pins.get(m["name"], {})}
                                                              for m in manifest["models"]]})
    return lines


def listing(superseded: bool = False) -> list[str]:
    """``hybridcodec zoo``: one line a shipped network (the current ones, or all)."""
    def size(e):
        # a wheel ships a superseded network's .onnx, not its .keras (setup.cfg)
        path = e.onnx_path if e.variant_of or not e.path.is_file() else e.path
        return f"{path.stat().st_size / 1e6:.2f} MB" if path.is_file() else "missing"

    rows = [(e.name, e.codec, str(e.scale), e.status, size(e)) for e in zoo.entries()
            if superseded or e.status == "current"]
    header = ("name", "codec", "scale", "status", "size")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    return ["  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=False)).rstrip() for row in [header, *rows]]


def _header_bytes(codec: str, width: int, height: int, scale, with_network: bool) -> int:
    """Exact size of a .hc file's overhead: everything but the payload (a
    shipped network is recorded by its hash alone, as pipeline.encode does)."""
    models = [zoo.ModelRef("post", "", "0" * 64)] if with_network else []
    return len(pack(HCFile(Header(codec, 50, width, height, 3, scales.parse(scale), 8, models), b"")))


def evaluate_paths(folder, codec: str, qualities, models=None, progress=True, encoder=None) -> dict:
    """Mean bpp (whole .hc file) and PSNR per path and codec quality on
    ``folder``. Paths are named ``sSCALE-NETWORK`` or ``sSCALE-classical``
    (``s1-classical`` is the plain codec). Smaller scales are also tried at
    qualities up to 95, since they spend fewer bits at the same quality.
    ``models`` limits the networks tried to these zoo names (default: every
    network shipped for ``codec``); ``encoder``: the codec's encoder (default: its default)."""
    from tqdm import tqdm

    backend = codecs.get_codec(codec).configured(encoder)
    networks = [e for e in zoo.entries() if e.codec == codec and e.role == "post" and not e.variant_of]
    if models is not None:
        unknown = set(models) - {e.name for e in networks}
        if unknown:
            raise HybridCodecError(f"no {codec} network named {', '.join(sorted(unknown))} in the zoo")
        networks = [e for e in networks if e.name in models]
    paths = {f"s{scale}-classical": (scale, None) for scale in scales.SCALES}
    paths.update({f"s{e.scale}-{e.name}": (e.scale, e) for e in networks})
    sums = {p: {q: [] for q in sorted(set(qualities) | {92, 95})} for p in paths}
    images = list_images(folder)
    for image_path in tqdm(images, desc=f"paths {codec}", disable=not progress):
        rgb = read_rgb(image_path)
        h, w = rgb.shape[:2]
        for scale in scales.SCALES:
            compact = scale.downscale(rgb)
            for q in (qualities if scale.is_full else sorted(set(qualities) | {92, 95})):
                # one encode and decode per scale and quality, restored by every network of the scale
                coding = CodingPath(backend, q, scale)
                payload = coding.encode_compact(compact)
                decoded = coding.decode(payload)
                seen = scale.network_input(decoded, w, h)
                for name, (path_scale, entry) in paths.items():
                    if path_scale != scale:
                        continue
                    if entry is None:
                        out = coding.restore(decoded, w, h)
                    else:
                        out = CodingPath(backend, q, scale, post=zoo.load(entry)).restore_input(seen, w, h, payload)
                    size = len(payload) + _header_bytes(codec, w, h, scale, entry is not None)
                    sums[name][q].append((bpp(size, w, h), psnr(rgb, out)))
    return {name: {q: np.mean(v, axis=0).tolist() for q, v in per_q.items() if v}
            for name, per_q in sums.items()}


def choose(results: dict, own_quality=lambda q: q) -> list[dict]:
    """The operating point of every quality 1-99, fixed on measured results.

    ``results[path][codec_quality] = [mean bpp, mean PSNR]`` for the paths
    ``s1-classical`` (the plain codec) and the others of ``evaluate_paths``.
    Quality q keeps the plain codec's meaning of a size: the plain codec's
    bpp at q on the validation photos is the budget, and q gets the path and
    codec quality with the highest PSNR whose bpp stays within that budget
    (the plain codec itself where nothing beats it). So a higher quality never
    gives a smaller file, and hybridcodec is never worse than the plain codec
    at the same bpp on the photos it was chosen on. ``own_quality``: the
    encoder's quality for a user's (``Codec.encoder_quality``); the plain
    file at that quality is the budget.
    """
    plain = results["s1-classical"]
    grid = sorted(plain)
    plain_log_bpp = np.log([plain[q][0] for q in grid])
    plain_psnr = [plain[q][1] for q in grid]
    table = []
    for user_quality in range(1, 100):
        q = own_quality(user_quality)
        budget = float(np.interp(q, grid, plain_log_bpp))
        best = {"quality": user_quality, "scale": 1, "codec_quality": q, "post": None,
                "psnr": float(np.interp(q, grid, plain_psnr))}
        for name, per_q in results.items():
            scale, path = name[1:].split("-", 1)  # "s4/3-classical" -> "4/3", "classical"
            qs = sorted(per_q)
            log_bpp = np.log([per_q[k][0] for k in qs])
            if scale == "1":
                fit = q  # full size: the plain codec's own payload (plus the header)
            elif log_bpp[0] <= budget and np.all(np.diff(log_bpp) > 0):
                # the largest codec quality of this path whose bpp fits the budget
                fit = min(99, max(1, int(np.floor(np.interp(budget, log_bpp, qs)))))
            else:
                continue
            value = float(np.interp(fit, qs, [per_q[k][1] for k in qs]))
            if value > best["psnr"] + 1e-6:
                post = None if path == "classical" else path
                best = {"quality": user_quality, "scale": scales.parse(scale).label, "codec_quality": fit,
                        "post": post, "psnr": value}
        table.append({k: v for k, v in best.items() if k != "psnr"})
    return table


def describe_table(table: list[dict]) -> list[str]:
    """Readable ranges of the table, for the log: 'q 1-17: scale 2, net, codec q 5-38'."""
    lines, start = [], 0
    for k in range(1, len(table) + 1):
        if k == len(table) or (table[k]["scale"], table[k]["post"]) != (table[start]["scale"], table[start]["post"]):
            a, b = table[start], table[k - 1]
            lines.append(f"q {a['quality']}-{b['quality']}: scale {a['scale']}, {a['post'] or 'classical'}, "
                         f"codec q {a['codec_quality']}-{b['codec_quality']}")
            start = k
    return lines


def set_pre_edit(codec: str, encoder: str | None, pre: str | None, post: str | None) -> str:
    """``hybridcodec zoo pre-edit``: make (or, with no networks, remove) the
    pre-editing pair of ``codec``'s ``encoder``; returns a readable line."""
    backend = codecs.by_name(codec).configured(encoder)
    key = f"{codec}:{backend.encoder}"
    for name, role in ((pre, "pre"), (post, "post")) if pre is not None else ():
        entry = zoo.find(name)
        if entry is None or entry.role != role or entry.codec != codec:
            raise HybridCodecError(f"no shipped {role}-processing {codec} network called {name!r}")
    pair = {key: {"pre": pre, "post": post}} if pre is not None else {}
    _update_manifest(lambda manifest: {**manifest, "pre_edit": {
        **{k: v for k, v in manifest.get("pre_edit", {}).items() if k != key}, **pair}})
    return f"{key}: pre-edit with {pre}, restore with {post}" if pre is not None else f"{key}: no pre-editing pair"


def set_plain_files(codec: str, name: str | None) -> str:
    """``hybridcodec zoo plain-files``: the network that restores plain files
    of ``codec`` (None: the default table's, as zoo.plain_file_network says)."""
    if name is not None:
        entry = zoo.find(name)
        if entry is None or entry.role != "post" or entry.codec != codec or not entry.scale.is_full:
            raise HybridCodecError(f"no full-size {codec} restoration network called {name!r}")
    chosen = {codec: name} if name is not None else {}
    _update_manifest(lambda manifest: {**manifest, "plain_files": {
        **{k: v for k, v in manifest.get("plain_files", {}).items() if k != codec}, **chosen}})
    return f"plain {codec} files: restored by {name or 'the default table network'}"


def _restoration_network(name: str) -> zoo.ZooEntry:
    """The shipped restoration network ``name`` itself (not a twin), or a
    one-line error."""
    entry = zoo.find(name)
    if entry is None or entry.role != "post" or entry.variant_of:
        raise HybridCodecError(f"no shipped restoration network called {name!r}")
    return entry


def replace_network(old: str, new: str) -> str:
    """``hybridcodec zoo replace``: the table rows restored by ``old`` are
    restored by ``new`` (a retrained network of the same codec and scale),
    and ``old``'s light networks become ``new``'s: the light tier serves the
    same rows as before (``--decoder light`` would otherwise fall back to the
    full network there). Returns a readable line."""
    entries = [_restoration_network(name) for name in (old, new)]
    if (entries[0].codec, entries[0].scale) != (entries[1].codec, entries[1].scale):
        raise HybridCodecError(f"{new} does not serve {old}'s codec and scale")
    rows = sum(r.get("post") == old for table in zoo.manifest()["operating_points"].values() for r in table)
    lights = [e.name for e in zoo.entries() if e.light_of == old]
    _update_manifest(lambda manifest: {
        **manifest,
        "models": [{**m, "light_of": new} if m.get("light_of") == old else m for m in manifest["models"]],
        "operating_points": {key: [{**r, "post": new} if r.get("post") == old else r for r in table]
                             for key, table in manifest["operating_points"].items()}})
    return f"{rows} table rows: {old} -> {new}" + (f"; light tier: {', '.join(lights)}" if lights else "")


def set_operating_points(key: str, rows: list[dict], evidence: dict) -> None:
    """Replace table ``key`` (a codec, or ``codec:encoder``, see zoo.py) in the
    manifest; its evidence goes to results/."""
    _update_manifest(lambda manifest: {**manifest,
                                       "operating_points": {**manifest.get("operating_points", {}), key: rows}})
    results_dir().mkdir(exist_ok=True)
    name = key.replace(":", "-")
    (results_dir() / f"operating-points-{name}.json").write_text(json.dumps(evidence, indent=1) + "\n")


def choose_table(codec: str, folder, qualities=None, models=None, encoder=None) -> list[str]:
    """``hybridcodec zoo choose``: weigh every path on ``folder``, fix the
    table of the codec (its first encoder's, which serves the others too) or
    of one ``encoder`` of it, and return it in readable lines."""
    backend = codecs.by_name(codec).configured(encoder)
    qualities = qualities or list(backend.quality_grid)
    results = evaluate_paths(folder, codec, qualities, models=models, encoder=backend.encoder)
    own = encoder is not None and encoder != backend.first_encoder
    table = choose(results, backend.encoder_quality if own else (lambda q: q))
    key = f"{codec}:{encoder}" if own else codec
    set_operating_points(key, table, {"images": str(folder), "encoder": backend.encoder, "results": results})
    return describe_table(table)


# --------------------------------------------------------------------------
# int8 twins (``hybridcodec zoo quantize``)
# --------------------------------------------------------------------------

QUANTIZE_CROP = 384  # calibration crops: big enough for real activation ranges, 64 of them in seconds
MAX_INT8_COST_DB = 0.05  # a twin that loses more on the evaluation photos is not shipped


def _served_points(entry: zoo.ZooEntry) -> tuple[str, list[int]]:
    """(encoder, codec qualities) at which the tables use ``entry``: where
    its twin is calibrated and weighed. A pre-editing pair's network is
    weighed on its encoder's plain files (what it sees is close to them)."""
    if entry.light_of:  # a light network serves where its full one does
        return _served_points(zoo.find(entry.light_of))
    codec = codecs.by_name(entry.codec)
    manifest = zoo.manifest()
    for key, rows in manifest["operating_points"].items():
        qualities = sorted({r["codec_quality"] for r in rows if r.get("post") == entry.name})
        if qualities:
            encoder = key.split(":", 1)[1] if ":" in key else codec.first_encoder
            picks = np.unique(np.quantile(qualities, [0.1, 0.4, 0.7, 0.95]).round().astype(int))
            return encoder, [int(q) for q in picks]
    for key, pair in manifest.get("pre_edit", {}).items():
        if pair.get("post") == entry.name:
            return key.split(":", 1)[1], [10, 25, 45, 70]
    return codec.encoder, [10, 25, 45, 70]


def _coded(entry: zoo.ZooEntry, contract: str, folder, encoder: str, qualities, crop: int | None = None):
    """(original, network input, condition, quality, classical restoration)
    for every image of ``folder`` (a centre crop of ``crop`` pixels a side, if
    given) at every quality."""
    from ..coding import condition_vector

    backend = codecs.get_codec(entry.codec).configured(encoder)
    for image_path in list_images(folder):
        rgb = read_rgb(image_path)
        if crop:
            y, x = max(0, (rgb.shape[0] - crop) // 2), max(0, (rgb.shape[1] - crop) // 2)
            rgb = np.ascontiguousarray(rgb[y : y + crop, x : x + crop])
        h, w = rgb.shape[:2]
        for q in qualities:
            path = CodingPath(backend, q, entry.scale)
            payload = path.encode(rgb)
            decoded = path.decode(payload, w, h)
            yield (rgb, entry.scale.network_input(decoded, w, h), condition_vector(contract, backend, q, payload), q,
                   entry.scale.upscale(decoded, w, h))


def calibration_samples(entry: zoo.ZooEntry, float_net, data, encoder: str, qualities, crop: int = QUANTIZE_CROP):
    """(the runtime's input feed, the original crop in 0-1) for centre crops
    of ``data`` coded at ``qualities``: what an int8 twin's activation
    ranges are measured on and its output layer refitted to."""
    image_input, condition_input = float_net.inputs
    return (({image_input: (seen[None] / 255.0).astype(np.float32), condition_input: condition}, rgb / 255.0)
            for rgb, seen, condition, _, _ in _coded(entry, float_net.condition, data, encoder, qualities, crop))


def calibration_feeds(entry: zoo.ZooEntry, float_net, data, encoder: str, qualities, crop: int = QUANTIZE_CROP):
    """The feeds alone of ``calibration_samples``."""
    return (feed for feed, _ in calibration_samples(entry, float_net, data, encoder, qualities, crop))


def weigh_twin(entry: zoo.ZooEntry, float_net, int8_net, val, encoder: str, qualities, crop: int | None = None):
    """(mean PSNR per quality of the plain decode, the float32 network and
    the twin; the twin's mean cost in dB; the largest pixel difference
    between the two networks) on the photos of ``val``."""
    from ..coding import run_post

    per_q = {q: {"plain": [], "float32": [], "int8": []} for q in qualities}
    largest = 0
    for rgb, seen, condition, q, classical in _coded(entry, float_net.condition, val, encoder, qualities, crop):
        h, w = rgb.shape[:2]
        exact, fast = (run_post(n, seen, condition, w, h) for n in (float_net, int8_net))
        per_q[q]["plain"].append(psnr(rgb, classical))
        per_q[q]["float32"].append(psnr(rgb, exact))
        per_q[q]["int8"].append(psnr(rgb, fast))
        largest = max(largest, int(np.abs(exact.astype(int) - fast).max()))
    means = {q: {k: float(np.mean(v)) for k, v in d.items()} for q, d in per_q.items()}
    return means, float(np.mean([m["float32"] - m["int8"] for m in means.values()])), largest


def quantize(name: str, data, val, max_cost_db: float = MAX_INT8_COST_DB) -> dict:
    """``hybridcodec zoo quantize``: the int8 twin of shipped network ``name``,
    calibrated on crops of ``data`` (the training photos) at the qualities
    where the tables use it, weighed on ``val`` against the float32 network
    (mean PSNR per quality, largest pixel difference, 768x512 time), and
    listed in the manifest as NAME-int8 if it costs at most ``max_cost_db``
    on average (NAME-int8-v2 and on where an older twin ships: it stays, for
    the files that name it, and the newest serves). Its card keeps the figures."""
    import time

    import onnxruntime

    from .bench import network_ms
    from .export import clipped_ranges, quantize_int8, refit_output_conv

    entry = _restoration_network(name)
    encoder, qualities = _served_points(entry)
    float_net = zoo.load(entry)
    started = time.perf_counter()
    exported = entry.onnx_path.read_bytes()
    ranges = clipped_ranges(exported, calibration_feeds(entry, float_net, data, encoder, qualities))
    quantized = quantize_int8(exported, calibration_feeds(entry, float_net, data, encoder, qualities), ranges=ranges)
    quantized = refit_output_conv(quantized, calibration_samples(entry, float_net, data, encoder, qualities))
    int8_net = runtime.Network.from_bytes(quantized)
    means, cost, largest = weigh_twin(entry, float_net, int8_net, val, encoder, qualities)
    timing = [network_ms(entry, network, runs=5) for network in (float_net, int8_net)]
    # a shipped twin is never replaced (files name it by hash): a new one takes the next name
    taken = {m["name"] for m in zoo.manifest()["models"]}
    twin = next(t for t in [f"{name}-int8"] + [f"{name}-int8-v{k}" for k in range(2, 100)] if t not in taken)
    card = {"name": twin, "variant_of": name, "precision": "int8",
            "command": [f"hybridcodec zoo quantize {name} --data {data} --val {val}"],
            "method": "onnxruntime static QDQ quantization, per-channel int8 weights, uint8 activations, "
                      "ReLU ranges clipped at the largest per-crop 99.99th percentile (export.clipped_ranges); "
                      "float32 output convolution refitted by least "
                      "squares on the calibration crops (export.refit_output_conv)",
            "calibration": {"images": str(data), "crop": QUANTIZE_CROP, "encoder": encoder, "qualities": qualities},
            "evaluation": {"images": str(val), "encoder": encoder, "psnr_by_quality": means,
                           "mean_cost_db": round(cost, 4), "largest_pixel_difference": largest},
            "ms_768x512": {"float32": timing[0], "int8": timing[1], "cpu_flags": sorted(runtime.cpu_flags()
                                                                                        & set(runtime.SPEED_FLAGS))},
            "onnxruntime": onnxruntime.__version__, "wall_seconds": round(time.perf_counter() - started, 1)}
    if cost > max_cost_db:
        raise HybridCodecError(f"{twin} costs {cost:.3f} dB on {val} (at most {max_cost_db}): not shipped")
    target = models_dir()
    (target / f"{twin}.onnx").write_bytes(quantized)
    (target / f"{twin}.json").write_text(json.dumps(card, indent=1) + "\n")
    sha = runtime.file_sha256(target / f"{twin}.onnx")
    row = {"name": twin, "file": "", "sha256": sha, "role": "post", "codec": entry.codec,
           "scale": next(m["scale"] for m in zoo.manifest()["models"] if m["name"] == name), "class": "onnx",
           "card": f"{twin}.json", "onnx": f"{twin}.onnx", "onnx_sha256": sha, "variant_of": name, "precision": "int8"}
    _update_manifest(lambda manifest: {**manifest, "models": _replaced(manifest["models"], row)})
    return card
