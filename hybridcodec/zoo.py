"""Shipped weights: which network serves which codec, scale and quality.

The weights live in the repository's top-level ``models/`` folder, installed
as ``hybridcodec/weights/`` (see setup.cfg). ``models/manifest.json`` holds
two lists:

* ``models``: name, file, SHA-256 of the weights (what ``.hc`` files name)
  and of the ``.keras`` file's bytes (``keras_sha256``: a weights hash
  misses a flipped byte in the zip's other members and headers),
  the exported ONNX file the runtime runs and that file's own SHA-256
  (``onnx``, ``onnx_sha256``; ``hybridcodec zoo export`` writes both), role
  (pre/post), codec, coding scale, class, card, and ``status``: ``current``
  for the networks the operating-point tables use, ``superseded`` for those
  kept only because old files name them.
* ``operating_points``: per codec, for every quality 1-99, the scale, the
  codec quality and the network to use, fixed offline by ``hybridcodec zoo
  choose`` (zoo_admin.py). The measurements each table was chosen from lie in
  ``results/operating-points-CODEC.json``. A table named ``CODEC`` was chosen
  for the codec's first encoder (id 0, the common default) and serves its
  other encoders too, its codec qualities mapped through the encoder's
  ``quality_knots``; one named ``CODEC:ENCODER`` serves that encoder alone.
* ``pre_edit``: per ``CODEC:ENCODER``, a pre-editing pair (issue #23): a
  pre-processor trained with a rate term and the restoration network
  retrained on its files, which ``--scale auto`` tries as one more candidate
  on each image (decide._checked). Set by ``hybridcodec zoo pre-edit``.
* ``plain_files``: per codec, the network that restores plain files (no
  hybridcodec header, any encoder's), where it is not the default table's:
  a specialist trained on one encoder's files serves ``.hc`` files, a
  network trained on many encoders serves the files users bring. Set by
  ``hybridcodec zoo plain-files``.

Lookups here are pure and cached: the manifest is read once a process. This
module only reads; zoo_admin.py writes (and clears the caches). A network's
keys are ZooEntry's fields: an unknown or a missing one is refused in one
line, and so is a manifest zoo_admin would write with one. An int8 twin
(``variant_of``, ``precision``) serves by its version (``newest_twins``),
not by its place in the list.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

from . import codecs, runtime
from . import scale as scales
from .container import HCFile, ModelRef
from .errors import HybridCodecError
from .scale import Scale


def weights_dir() -> Path:
    """The installed weights (wheel) or the repository's models/ (source checkout)."""
    installed = Path(__file__).parent / "weights"
    if (installed / "manifest.json").exists():
        return installed
    return Path(__file__).resolve().parent.parent / "models"


def weights_file(name: str) -> Path:
    """A file of the weights folder, where the current networks lie, or of
    its ``superseded/`` subfolder, where the networks no table uses lie apart:
    kept for the files that name them (the wheel ships their ``.onnx`` and
    cards, not their ``.keras``: setup.cfg)."""
    path = weights_dir() / name
    superseded = weights_dir() / "superseded" / name
    return superseded if not path.exists() and superseded.exists() else path


@lru_cache(maxsize=1)
def manifest() -> dict:
    path = weights_dir() / "manifest.json"
    if not path.exists():
        return {"models": [], "operating_points": {}}
    return json.loads(path.read_text())


@dataclass(frozen=True)
class ZooEntry:
    """One network of ``models`` in the manifest, and the manifest's schema
    for it: the fields are its keys (``class`` is ``class_``), those without
    a default are required, and ``entries`` refuses any other key."""

    name: str
    file: str
    sha256: str
    role: str
    codec: str
    scale: Scale  # the coding scale it serves
    status: str = "current"  # or "superseded": no table uses it, old files may
    onnx: str = ""  # the exported network the runtime runs (runtime.py)
    onnx_sha256: str = ""  # of that file's bytes; ``sha256`` names the weights
    # A faster twin of another network (``zoo quantize``): no .keras file;
    # its ``sha256`` is its ONNX file's, and names it in .hc files.
    variant_of: str = ""
    precision: str = "float32"
    keras_sha256: str = ""  # of the ``.keras`` file's bytes, checked as ``onnx_sha256`` is
    card: str = ""  # the model card (training command, config, figures) beside the weights
    class_: str = ""  # the models.py class, or "onnx" for a twin
    # A light network (issue #41: at most about 30 kMAC per pixel, for the
    # browser and CPUs without VNNI) that serves where the network it names does.
    light_of: str = ""

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.role, self.name, self.sha256)

    @property
    def path(self) -> Path:
        return weights_file(self.file)

    @property
    def onnx_path(self) -> Path:
        return weights_file(self.onnx)


# the manifest's keys -> ZooEntry's fields ("class" is a word of Python)
_KEYS = {"class" if f == "class_" else f: f for f in ZooEntry.__dataclass_fields__}
_REQUIRED = [key for key, f in _KEYS.items() if ZooEntry.__dataclass_fields__[f].default is MISSING]


def _read_entry(model: dict, number: int) -> ZooEntry:
    """A manifest's network through the schema (ZooEntry): an unknown or a
    missing key is refused in one line naming the network and the key, where
    a typo ("onnx_sha" for "onnx_sha256") would have dropped a pin silently."""
    where = weights_dir() / "manifest.json"
    if not isinstance(model, dict):
        raise HybridCodecError(f"{where}: network number {number + 1} is not an object")
    name = model.get("name", f"number {number + 1}")
    unknown = [key for key in model if key not in _KEYS]
    missing = [key for key in _REQUIRED if key not in model]
    if unknown or missing:
        what = f"an unknown key {unknown[0]!r}" if unknown else f"no {missing[0]!r}"
        raise HybridCodecError(f"{where}: network {name!r} has {what}")
    try:
        scale = scales.parse(model["scale"])
    except (ValueError, HybridCodecError):
        raise HybridCodecError(f"{where}: network {name!r} has an unknown scale {model['scale']!r}") from None
    return ZooEntry(**{_KEYS[key]: value for key, value in model.items()} | {"scale": scale})


def read_models(models: list) -> tuple[ZooEntry, ...]:
    """The manifest's ``models`` list through the schema (zoo_admin checks what it writes with it)."""
    return tuple(_read_entry(m, k) for k, m in enumerate(models))


@lru_cache(maxsize=1)
def entries() -> tuple[ZooEntry, ...]:
    return read_models(manifest()["models"])


def newest_twins(models) -> dict[tuple[str, str], str]:
    """(network, precision) -> the name of the twin that serves it, for the
    manifest's ``models`` (dicts or ZooEntry): ``zoo quantize`` names a
    network's twins NAME-int8, NAME-int8-v2, ... and never replaces one
    (files name it by hash), so the highest version serves, whatever the
    order of the list. Two twins of one version are refused."""
    import re

    best: dict[tuple[str, str], tuple[int, str]] = {}
    for m in models:
        m = m if isinstance(m, dict) else {"name": m.name, "variant_of": m.variant_of, "precision": m.precision}
        base, precision = m.get("variant_of"), m.get("precision", "float32")
        if not base:
            continue
        version = re.fullmatch(rf"{re.escape(base)}-{re.escape(precision)}(?:-v(\d+))?", m["name"])
        rank = (int(version[1] or 1) if version else 0, m["name"])
        held = best.get((base, precision))
        if held is not None and held[0] == rank[0]:
            raise HybridCodecError(f"{weights_dir() / 'manifest.json'}: {held[1]!r} and {m['name']!r} are both "
                                   f"the newest {precision} twin of {base!r}")
        if held is None or rank[0] > held[0]:
            best[(base, precision)] = rank
    return {key: name for key, (_, name) in best.items()}


@lru_cache(maxsize=1)
def _twins() -> dict[tuple[str, str], ZooEntry]:
    return {key: _by_name()[name] for key, name in newest_twins(entries()).items()}


@lru_cache(maxsize=1)
def _by_name() -> dict[str, ZooEntry]:
    return {e.name: e for e in entries()}


@lru_cache(maxsize=1)
def _by_sha256() -> dict[str, ZooEntry]:
    return {e.sha256: e for e in entries()}


def clear_caches() -> None:
    """Forget the manifest read (after zoo_admin writes it)."""
    for cached in (manifest, entries, _by_name, _by_sha256, _twins, _table):
        cached.cache_clear()


def find(name: str | None = None, sha256: str | None = None) -> ZooEntry | None:
    """The shipped network called ``name`` (with these weights, if
    ``sha256`` is given too), or the one whose weights have ``sha256``; None
    where none ships."""
    if name is None and sha256 is None:
        raise TypeError("zoo.find needs a name or a sha256")
    if name is not None:
        entry = _by_name().get(name)
        return entry if entry is not None and sha256 in (None, entry.sha256) else None
    return _by_sha256().get(sha256)


PRECISIONS = runtime.PRECISIONS
DECODERS = runtime.DECODERS


def with_precision(entry: ZooEntry | None, precision: str) -> ZooEntry | None:
    """``entry``'s twin in ``precision`` (PRECISIONS), where one ships; else
    the network itself. The encoder records the twin it chose in the file,
    so the decoder runs exactly the network the encoder weighed."""
    if entry is None:
        return None
    if precision not in PRECISIONS:
        raise HybridCodecError(f"unknown precision {precision!r}: one of {', '.join(PRECISIONS)}")
    base = find(entry.variant_of) if entry.variant_of else entry
    if precision == base.precision:
        return base
    return _twins().get((base.name, precision), base)  # the newest (newest_twins); older ones decode old files


def with_decoder(entry: ZooEntry | None, decoder: str) -> ZooEntry | None:
    """``entry``'s network of the ``decoder`` tier (DECODERS): ``full`` is
    the network itself; ``light``, the light network that serves where it
    does, where one ships (else the network itself: the caller warns)."""
    if entry is None or decoder == DECODERS[0]:
        return entry
    if decoder not in DECODERS:
        raise HybridCodecError(f"unknown decoder {decoder!r}: one of {', '.join(DECODERS)}")
    base = find(entry.variant_of) if entry.variant_of else entry
    light = [e for e in entries() if e.light_of == base.name and not e.variant_of and e.status == "current"]
    return light[-1] if light else entry


def named(hc: HCFile) -> HCFile:
    """A copy of ``hc`` (a parsed file) with the zoo's names in its model
    records: the encoder records a shipped model by the hash of its weights alone."""
    refs = []
    for ref in hc.header.models:
        entry = None if ref.name else find(sha256=ref.sha256)
        refs.append(ModelRef(ref.role, entry.name, ref.sha256) if entry else ref)
    return replace(hc, header=replace(hc.header, models=refs))


@dataclass(frozen=True)
class OperatingPoint:
    scale: Scale
    codec_quality: int
    pre: ZooEntry | None = None
    post: ZooEntry | None = None


@cache
def _table(codec: str, encoder: str | None = None) -> dict[int, OperatingPoint]:
    """The table of ``codec``'s ``encoder`` (default: the codec's default
    encoder), quality -> OperatingPoint, in quality order; empty if none."""
    backend = codecs.by_name(codec).configured(encoder)
    tables = manifest()["operating_points"]
    own = tables.get(f"{codec}:{backend.encoder}")
    rows = sorted(own if own is not None else tables.get(codec, []), key=lambda r: r["quality"])
    quality = (lambda q: q) if own is not None else backend.encoder_quality
    return {r["quality"]: OperatingPoint(scales.parse(r["scale"]), quality(r["codec_quality"]),
                                         find(r["pre"]) if r.get("pre") else None,
                                         find(r["post"]) if r.get("post") else None)
            for r in rows}


def operating_point(codec: str, quality: int, scale="auto", encoder: str | None = None) -> OperatingPoint:
    """Scale, codec quality and networks for ``codec`` at ``quality``.

    ``scale="auto"`` reads the codec's table in the manifest (fixed by
    ``hybridcodec zoo choose``: quality q gets the best path within the plain
    codec's size at q); a codec without a table is coded as the plain codec
    would be (scale 1, no network). An explicit scale codes at the given
    quality with the network the table uses at that scale nearest this
    quality (else the newest shipped one for it), if there is one.
    ``encoder``: the codec's encoder (default: its default one).
    """
    backend = codecs.by_name(codec).configured(encoder)
    if not backend.lossy:
        return OperatingPoint(scales.FULL, quality)
    table = _table(codec, backend.encoder)
    if scale == "auto":
        return table.get(quality, OperatingPoint(scales.FULL, backend.encoder_quality(quality)))
    scale = scales.parse(scale)
    # The zoo keeps superseded models (old files name them), so "the first
    # network of this scale" could be one the table no longer uses.
    rows = [(abs(q - quality), point.post) for q, point in table.items()
            if point.scale == scale and point.post is not None]
    if rows:
        return OperatingPoint(scale, quality, None, min(rows, key=lambda r: r[0])[1])
    post = [e for e in entries() if e.codec == codec and e.role == "post" and e.scale == scale]
    return OperatingPoint(scale, quality, None, post[-1] if post else None)


def pre_edit_point(codec: str, codec_quality: int, encoder: str | None = None) -> OperatingPoint | None:
    """The pre-editing pair of ``codec``'s ``encoder`` (default: its default)
    at its own ``codec_quality``, full size; None where none ships."""
    backend = codecs.by_name(codec).configured(encoder)
    pair = manifest().get("pre_edit", {}).get(f"{codec}:{backend.encoder}")
    if not pair:
        return None
    return OperatingPoint(scales.FULL, codec_quality, find(pair["pre"]), find(pair["post"]))


def plain_file_network(codec: str, quality: int) -> ZooEntry | None:
    """The network that restores a plain file of ``codec`` (no hybridcodec
    header) at ``quality`` (a JPEG's is estimated on the IJG scale, which is
    the common default's): the default encoder's full-size network there,
    where it has one (a JPEG ``jpeg-tables`` network serves every encoder's
    files), else the first encoder's full-size network nearest ``quality``;
    ``plain_files`` in the manifest overrides both."""
    named = manifest().get("plain_files", {}).get(codec)
    if named:
        return find(named)
    backend = codecs.by_name(codec)
    point = _table(codec, backend.encoder).get(quality)
    if point is not None and point.scale.is_full and point.post is not None:
        return point.post
    return operating_point(codec, quality, scales.FULL, backend.first_encoder).post


# --------------------------------------------------------------------------
# Loading networks: shipped ones by hash, a user's from a .keras file
# --------------------------------------------------------------------------


@lru_cache(maxsize=8)
def load_keras_file(path: str):
    """A `.keras` file as a Keras model (cached; safe mode). Needs the train extra."""
    keras = runtime.require_keras()
    from . import models  # noqa: F401  (registers the classes for safe-mode loading)

    return keras.models.load_model(path, safe_mode=True, compile=False)


def _entry(entry_or_name) -> ZooEntry:
    entry = entry_or_name if isinstance(entry_or_name, ZooEntry) else find(entry_or_name)
    if entry is None:
        raise HybridCodecError(f"no shipped model called {entry_or_name!r}")
    return entry


def load(entry_or_name) -> runtime.Network:
    """A shipped network (an entry or its name) in the light runtime: its
    exported file, checked against the manifest's SHA-256."""
    entry = _entry(entry_or_name)
    if not entry.onnx or not entry.onnx_path.exists():
        raise HybridCodecError(f"exported network missing for model {entry.name}: {entry.onnx_path}")
    return runtime.load(str(entry.onnx_path), entry.onnx_sha256)


def keras_path(entry_or_name) -> Path:
    """The ``.keras`` file of a shipped entry (or its name), checked against the
    manifest's SHA-256 of its bytes, as ``load`` checks the exported file."""
    entry = _entry(entry_or_name)
    if not entry.file or not entry.path.exists():
        raise HybridCodecError(f"weights file missing for model {entry.name}: {entry.path}")
    if runtime.file_sha256(entry.path) != entry.keras_sha256:
        raise HybridCodecError(f"weights file {entry.path} does not match its SHA-256 in the manifest: reinstall")
    return entry.path


def load_keras(entry_or_name):
    """The Keras model of a shipped entry (or its name), for training and export."""
    return load_keras_file(str(keras_path(entry_or_name)))


def resolve(ref: ModelRef):
    """The installed model a file asks for, by the SHA-256 of its weights."""
    entry = find(sha256=ref.sha256)
    if entry is None:
        raise HybridCodecError(
            f"this file needs a {ref.role}-processing model{' ' + ref.name if ref.name else ''} whose "
            f"weights have sha256 {ref.sha256[:16]}..., which is not installed; pass it with --{ref.role}-model FILE"
        )
    return load(entry)


def load_user_model(model, role: str):
    """(keras model, ModelRef) for a user's model: a ``.keras`` path or a Keras
    model. A user's model runs in Keras (the train extra), as it was made."""
    keras = runtime.require_keras()
    from . import models  # noqa: F401  (registers hybridcodec's layers for safe-mode loading)
    from .models import weights_sha256

    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise HybridCodecError(f"model file not found: {path}")
        try:
            model = keras.models.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            # its first line (HybridCodecError keeps it printable: it may quote the file's config)
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            raise HybridCodecError(f"cannot load model {path}: {reason}") from None
        name = path.stem
    else:
        name = model.name
    return model, ModelRef(role, name, weights_sha256(model))
