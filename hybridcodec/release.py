"""Putting trained runs into the zoo, and fixing the operating-point table on `val`.

    hybridcodec zoo add runs/jpeg-s1 --name reccnn-jpeg-s1 --codec jpeg
    hybridcodec zoo choose --codec jpeg --val ../shared/data/val

``add`` copies a run's weights and model card into ``models/`` and lists them
in ``models/manifest.json``. ``choose`` codes every validation image at every
quality on each path (full, three-quarter or half size, classical or with
each shipped network) and fixes, for every quality 1-99, the path and codec
quality with the best PSNR within the plain codec's bpp at that quality (see
``choose``).
The table replaces the codec's entry in the manifest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from . import codecs, zoo
from .container import HCFile, Header, pack
from .errors import HybridCodecError
from .images import list_images, read_rgb
from .metrics import bpp, psnr
from .pipeline import run_post
from .resize import SCALES, area_downscale, bicubic_upscale, network_input, scale_label


def models_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models"


def _save_manifest(manifest: dict) -> None:
    path = models_dir() / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    zoo.manifest.cache_clear()


def add(run_dir, name: str, codec: str, role: str = "post") -> dict:
    """Copy ``run_dir/{role}.keras`` and its card into models/ under ``name``."""
    run_dir = Path(run_dir)
    card = json.loads((run_dir / "card.json").read_text())
    info = card["models"][role]
    target = models_dir()
    shutil.copyfile(run_dir / info["file"], target / f"{name}.keras")
    card["name"] = name
    (target / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    entry = {"name": name, "file": f"{name}.keras", "sha256": info["sha256"], "role": role,
             "codec": codec, "scale": card["config"]["scale"], "class": info["class"],
             "card": f"{name}.json"}
    manifest = zoo.manifest()
    manifest = {**manifest, "models": [m for m in manifest["models"] if m["name"] != name] + [entry]}
    _save_manifest(manifest)
    return entry


def _header_bytes(codec: str, width: int, height: int, scale, with_network: bool) -> int:
    """Exact size of a .hc file's overhead: everything but the payload (a
    shipped network is recorded by its hash alone, as pipeline.encode does)."""
    models = [zoo.ModelRef("post", "", "0" * 64)] if with_network else []
    return len(pack(HCFile(Header(codec, 50, width, height, 3, scale, 8, models), b"")))


def evaluate_paths(folder, codec: str, qualities, models=None, progress=True) -> dict:
    """Mean bpp (whole .hc file) and PSNR per path and codec quality on
    ``folder``. Paths are named ``sSCALE-NETWORK`` or ``sSCALE-classical``
    (``s1-classical`` is the plain codec). Smaller scales are also tried at
    qualities up to 95, since they spend fewer bits at the same quality.
    ``models`` limits the networks tried to these zoo names (default: every
    network shipped for ``codec``)."""
    from tqdm import tqdm

    backend = codecs.get_codec(codec)
    networks = [e for e in zoo.entries() if e.codec == codec and e.role == "post"]
    if models is not None:
        unknown = set(models) - {e.name for e in networks}
        if unknown:
            raise HybridCodecError(f"no {codec} network named {', '.join(sorted(unknown))} in the zoo")
        networks = [e for e in networks if e.name in models]
    paths = {f"s{scale_label(scale)}-classical": (scale, None) for scale in SCALES}
    paths.update({f"s{scale_label(e.scale)}-{e.name}": (e.scale, e) for e in networks})
    sums = {p: {q: [] for q in sorted(set(qualities) | {92, 95})} for p in paths}
    images = list_images(folder)
    for path in tqdm(images, desc=f"paths {codec}", disable=not progress):
        rgb = read_rgb(path)
        h, w = rgb.shape[:2]
        for scale in SCALES:
            compact = area_downscale(rgb, scale)
            for q in (qualities if scale == 1 else sorted(set(qualities) | {92, 95})):
                payload = backend.encode(compact, q)
                decoded = backend.decode(payload)
                upscaled, seen = bicubic_upscale(decoded, scale, w, h), network_input(decoded, scale, w, h)
                for name, (path_scale, entry) in paths.items():
                    if path_scale != scale:
                        continue
                    if entry is None:
                        out = upscaled
                    else:
                        out = run_post(zoo.load(entry), seen, q, w, h)
                    size = len(payload) + _header_bytes(codec, w, h, scale, entry is not None)
                    sums[name][q].append((bpp(size, w, h), psnr(rgb, out)))
    return {name: {q: np.mean(v, axis=0).tolist() for q, v in per_q.items() if v}
            for name, per_q in sums.items()}


def choose(results: dict) -> list[dict]:
    """The operating point of every quality 1-99, fixed on measured results.

    ``results[path][codec_quality] = [mean bpp, mean PSNR]`` for the paths
    ``s1-classical`` (the plain codec) and the others of ``evaluate_paths``.
    Quality q keeps the plain codec's meaning of a size: the plain codec's
    bpp at q on the validation photos is the budget, and q gets the path and
    codec quality with the highest PSNR whose bpp stays within that budget
    (the plain codec itself where nothing beats it). So a higher quality never
    gives a smaller file, and hybridcodec is never worse than the plain codec
    at the same bpp on the photos it was chosen on.
    """
    plain = results["s1-classical"]
    grid = sorted(plain)
    plain_log_bpp = np.log([plain[q][0] for q in grid])
    plain_psnr = [plain[q][1] for q in grid]
    table = []
    for q in range(1, 100):
        budget = float(np.interp(q, grid, plain_log_bpp))
        best = {"quality": q, "scale": 1, "codec_quality": q, "post": None,
                "psnr": float(np.interp(q, grid, plain_psnr))}
        for name, per_q in results.items():
            scale, path = name[1:].split("-", 1)
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
                best = {"quality": q, "scale": scale_label(scale), "codec_quality": fit, "post": post,
                        "psnr": value}
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


def set_operating_points(codec: str, rows: list[dict], evidence: dict) -> None:
    manifest = zoo.manifest()
    points = {**manifest.get("operating_points", {}), codec: rows}
    evidence_all = {**manifest.get("evidence", {}), codec: evidence}
    _save_manifest({**manifest, "operating_points": points, "evidence": evidence_all})
