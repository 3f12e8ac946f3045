"""Shipped weights: which network serves which codec, scale and quality.

The weights live in the repository's top-level ``models/`` folder, installed
as ``hybridcodec/weights/`` (see setup.cfg). ``models/manifest.json`` is the
one list of them:

* ``models``: name, file, SHA-256 of the weights, role (pre/post), codec, scale.
* ``operating_points``: per codec, for every quality 1-99, the scale, the
  codec quality and the network to use, fixed offline on the validation
  photos so that hybridcodec never does worse than the plain codec at the
  same bpp there (``hybridcodec zoo choose``, see release.py).
* ``evidence``: the measurements each table was chosen from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from .container import ModelRef
from .errors import HybridCodecError
from .resize import parse_scale

def weights_dir() -> Path:
    """The installed weights (wheel) or the repository's models/ (source checkout)."""
    installed = Path(__file__).parent / "weights"
    if (installed / "manifest.json").exists():
        return installed
    return Path(__file__).resolve().parent.parent / "models"


@lru_cache(maxsize=1)
def manifest() -> dict:
    path = weights_dir() / "manifest.json"
    if not path.exists():
        return {"models": [], "operating_points": {}}
    return json.loads(path.read_text())


@dataclass(frozen=True)
class ZooEntry:
    name: str
    file: str
    sha256: str
    role: str
    codec: str
    scale: Fraction  # the coding scale it serves (resize.SCALES)

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.role, self.name, self.sha256)

    @property
    def path(self) -> Path:
        return weights_dir() / self.file


def entries() -> list[ZooEntry]:
    fields = ZooEntry.__dataclass_fields__
    return [ZooEntry(**{k: v for k, v in m.items() if k in fields} | {"scale": parse_scale(m["scale"])})
            for m in manifest()["models"]]


def find(name: str | None = None, sha256: str | None = None) -> ZooEntry | None:
    for entry in entries():
        if (name is None or entry.name == name) and (sha256 is None or entry.sha256 == sha256):
            return entry
    return None


def named(hc):
    """``hc`` (a parsed file) with the zoo's names in its model records: the
    encoder records a shipped model by the hash of its weights alone."""
    refs = []
    for ref in hc.header.models:
        entry = None if ref.name else find(sha256=ref.sha256)
        refs.append(ModelRef(ref.role, entry.name, ref.sha256) if entry else ref)
    hc.header.models = refs
    return hc


@dataclass(frozen=True)
class OperatingPoint:
    scale: Fraction
    codec_quality: int
    pre: ZooEntry | None = None
    post: ZooEntry | None = None


def operating_point(codec: str, quality: int, scale="auto") -> OperatingPoint:
    """Scale, codec quality and networks for ``codec`` at ``quality``.

    ``scale="auto"`` reads the codec's table in the manifest (fixed on the
    validation photos by ``hybridcodec zoo choose``: quality q gets the best
    path within the plain codec's size at q); a codec without a table is
    coded as the plain codec would be (scale 1, no network). An explicit
    scale codes at the given quality with the network the table uses at that
    scale (else the newest shipped one for it), if there is one.
    """
    if codec == "png":
        return OperatingPoint(Fraction(1), quality)
    if scale == "auto":
        table = manifest()["operating_points"].get(codec, [])
        row = next((r for r in table if r["quality"] == quality), None)
        if row is None:
            return OperatingPoint(Fraction(1), quality)
        return OperatingPoint(parse_scale(row["scale"]), row["codec_quality"],
                              find(row["pre"]) if row.get("pre") else None,
                              find(row["post"]) if row.get("post") else None)
    scale = parse_scale(scale)
    # The network the table uses at this scale, nearest this quality: the zoo
    # keeps superseded models (old files name them), so "the first network of
    # this scale" could be one the table no longer uses.
    rows = [r for r in manifest()["operating_points"].get(codec, [])
            if parse_scale(r["scale"]) == scale and r.get("post")]
    if rows:
        return OperatingPoint(scale, quality, None, find(min(rows, key=lambda r: abs(r["quality"] - quality))["post"]))
    post = [e for e in entries() if e.codec == codec and e.role == "post" and e.scale == scale]
    return OperatingPoint(scale, quality, None, post[-1] if post else None)


@lru_cache(maxsize=8)
def _load_file(path: str):
    import keras

    from . import models  # noqa: F401  (registers the classes for safe-mode loading)

    return keras.models.load_model(path, safe_mode=True, compile=False)


def load(entry_or_name) -> "keras.Model":  # noqa: F821
    """The Keras model of a shipped entry (or its name), whatever its class."""
    entry = entry_or_name if isinstance(entry_or_name, ZooEntry) else find(entry_or_name)
    if entry is None:
        raise HybridCodecError(f"no shipped model called {entry_or_name!r}")
    if not entry.path.exists():
        raise HybridCodecError(f"weights file missing for model {entry.name}: {entry.path}")
    return _load_file(str(entry.path))


def resolve(ref: ModelRef):
    """The installed model a file asks for, by the SHA-256 of its weights."""
    entry = find(sha256=ref.sha256)
    if entry is None:
        raise HybridCodecError(
            f"this file needs a {ref.role}-processing model{' ' + ref.name if ref.name else ''} whose "
            f"weights have sha256 {ref.sha256[:16]}..., which is not installed; pass it with --{ref.role}-model FILE"
        )
    return load(entry)
