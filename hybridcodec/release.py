"""Putting trained runs into the zoo, and fixing the operating-point table on `val`.

    hybridcodec zoo add runs/jpeg-s1 --name reccnn-jpeg-s1 --codec jpeg
    hybridcodec zoo choose --codec jpeg --val ../shared/data/val

``add`` copies a run's weights and model card into ``models/`` and lists them
in ``models/manifest.json``. ``choose`` codes every validation image at every
quality on each path (full or half size, classical or with each shipped
network), and keeps, per quality, the path with the highest PSNR gain over the
plain codec at the same bpp; where no path gains, the plain codec's own path
(scale 1, no network). The result replaces the codec's row in the manifest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from . import codecs, zoo
from .container import HCFile, Header, pack
from .images import list_images, read_rgb
from .metrics import bpp, psnr
from .pipeline import run_post
from .resize import area_downscale, bicubic_upscale


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


def _header_bytes(codec: str, width: int, height: int, scale: int, model_name: str | None) -> int:
    """Exact size of a .hc file's overhead: everything but the payload."""
    models = [zoo.ModelRef("post", model_name, "0" * 64)] if model_name else []
    return len(pack(HCFile(Header(codec, 50, width, height, 3, scale, 8, models), b"")))


def evaluate_paths(folder, codec: str, qualities, progress=True) -> dict:
    """Mean bpp (whole .hc file) and PSNR per path and quality on ``folder``."""
    from tqdm import tqdm

    backend = codecs.get_codec(codec)
    networks = [e for e in zoo.entries() if e.codec == codec and e.role == "post"]
    paths = {"s1-classical": (1, None), "s2-classical": (2, None)}
    paths.update({f"s{e.scale}-{e.name}": (e.scale, e) for e in networks})
    sums = {p: {q: [] for q in qualities} for p in paths}
    images = list_images(folder)
    for path in tqdm(images, desc=f"paths {codec}", disable=not progress):
        rgb = read_rgb(path)
        h, w = rgb.shape[:2]
        for scale in (1, 2):
            compact = area_downscale(rgb, scale)
            for q in qualities:
                payload = backend.encode(compact, q)
                decoded = backend.decode(payload)
                for name, (path_scale, entry) in paths.items():
                    if path_scale != scale:
                        continue
                    if entry is None:
                        out = bicubic_upscale(decoded, scale, w, h)
                    else:
                        out = run_post(zoo.load(entry), decoded, q, w, h)
                    size = len(payload) + _header_bytes(codec, w, h, scale, entry.name if entry else None)
                    sums[name][q].append((bpp(size, w, h), psnr(rgb, out)))
    return {name: {q: np.mean(v, axis=0).tolist() for q, v in per_q.items()} for name, per_q in sums.items()}


def choose(results: dict, qualities) -> list[dict]:
    """Per quality, the path with the largest PSNR gain over the plain curve at
    its own bpp; the plain path where nothing gains. Adjacent qualities with
    the same choice are merged into one row."""
    plain = np.array([results["s1-classical"][q] for q in qualities])
    log_rates, plain_psnr = np.log(plain[:, 0]), plain[:, 1]
    picks = []
    for q in qualities:
        best, best_gain = "s1-classical", 0.0
        for name, per_q in results.items():
            rate, quality_db = per_q[q]
            if not log_rates[0] <= np.log(rate) <= log_rates[-1]:
                continue  # outside the plain curve: no fair comparison
            gain = quality_db - float(np.interp(np.log(rate), log_rates, plain_psnr))
            if gain > best_gain:
                best, best_gain = name, gain
        picks.append((q, best, best_gain))
    rows = []
    for k, (q, name, gain) in enumerate(picks):
        low = 1 if k == 0 else q
        high = 99 if k == len(picks) - 1 else picks[k + 1][0] - 1
        scale = int(name[1])
        post = None if name.endswith("classical") else name.split("-", 1)[1]
        if rows and rows[-1]["path"] == name:
            rows[-1]["qualities"][1] = high
            rows[-1]["gain_db"].append(round(gain, 3))
        else:
            rows.append({"qualities": [low, high], "scale": scale, "post": post, "path": name,
                         "gain_db": [round(gain, 3)]})
    return rows


def set_operating_points(codec: str, rows: list[dict], evidence: dict) -> None:
    manifest = zoo.manifest()
    points = {**manifest.get("operating_points", {}), codec: rows}
    evidence_all = {**manifest.get("evidence", {}), codec: evidence}
    _save_manifest({**manifest, "operating_points": points, "evidence": evidence_all})
