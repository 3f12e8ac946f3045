"""Rate-distortion benchmarks: hybridcodec against the plain codec.

``hybridcodec bench DIR --codec webp`` codes every image at every quality
with hybridcodec (every byte of the ``.hc`` file, header included) and with
references, each its own standard file with no header:

* ``plain``: the same encoder at the same settings (what the backend does),
* ``common``: the format's common default, pinned (``Codec.common_default``:
  libjpeg-turbo 4:2:0 optimized, libwebp method 4, libavif through
  imagecodecs at speed 6 and its default tune, libjxl effort 7),
* ``next``: the next format up, plain (JPEG: WebP; WebP: AVIF), if any,
* for JPEG, the plain encoders a user who judges by eye picks (issue #40):
  ``mozjpeg-default``, mozjpeg 4.0.3 at its own defaults (quantization
  table 3, 4:2:0, trellis, progressive), and ``jpegli``, jpegli as the
  ``pyjpegli`` package writes it (quality its only setting: baseline
  4:2:0). For WebP (method 6), AVIF (libavif's default tune) and JPEG XL
  (effort 7) that user's pick is ``plain`` itself.

Every point is measured in PSNR-RGB, MS-SSIM and the metrics fitted to the
eye, SSIMULACRA 2 and Butteraugli (metrics.py; Butteraugli is skipped, and
the summary says so, where libjxl's ``butteraugli_main`` is not installed),
and BD-rates are given on each against each reference. Every reference file
is decoded by the format's standard decoder (libjpeg-turbo, libwebp,
libavif, libjxl). The summary also names, per metric, the best plain
encoder of the format: the reference of the codec's own format that
hybridcodec gains least against. It writes, under --out:

* ``<codec>-<method>.json`` for every method, in CompressAI's shape
  (``{"name", "description", "results": {"bpp": [...], "psnr-rgb": [...], ...}}``,
  averaged over images per quality),
* ``<codec>-per-image.csv``,
* ``<codec>-summary.json`` with BD-rate and BD-PSNR (bjontegaard package),
* ``<codec>-rd.png``, the rate-distortion plot.
"""

from __future__ import annotations

import csv
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import codecs, pipeline, zoo
from .. import scale as scales
from ..coding import CodingPath
from ..images import list_images, read_rgb
from ..metrics import BUTTERAUGLI_MAIN, bd_psnr, bd_rate, bpp, butteraugli, butteraugli_tool, ms_ssim, psnr, ssimulacra2
from ..settings import EncodeSettings

FIELDS = ["bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"]
# The metrics fitted to the eye, after FIELDS in the CSV and the JSON files
# (Butteraugli's columns are left out where butteraugli_main is missing).
EYE_FIELDS = ["ssimulacra2", "butteraugli-3norm", "butteraugli-max"]
# The summary's metric keys: the field each reads, and +1 where higher is
# better, -1 where lower is (Butteraugli is a distance; BD-rates take its negative).
METRICS = {"psnr": ("psnr-rgb", 1), "ms_ssim": ("ms-ssim-rgb", 1), "ssimulacra2": ("ssimulacra2", 1),
           "butteraugli": ("butteraugli-3norm", -1)}


@dataclass
class Point:
    image: str
    method: str  # "plain" or "hybrid"
    quality: int
    bpp: float
    psnr: float
    ms_ssim: float
    encode_s: float
    decode_s: float
    scale: scales.Scale = scales.FULL
    path: str = ""
    header_bytes: int = 0  # bytes of the file that are not the codec's payload
    pixels: int = 0
    ssimulacra2: float | None = None
    butteraugli: float | None = None  # the 3-norm; None where butteraugli_main is missing
    butteraugli_max: float | None = None

    def row(self):
        return [self.bpp, self.psnr, self.ms_ssim, self.encode_s, self.decode_s]

    def eye_row(self):
        return [self.ssimulacra2, self.butteraugli, self.butteraugli_max]

    def value(self, field: str) -> float | None:
        """The point's value of a FIELDS or EYE_FIELDS column."""
        return dict(zip(FIELDS + EYE_FIELDS, self.row() + self.eye_row(), strict=True))[field]


def eye_metrics(reference: np.ndarray, test: np.ndarray) -> dict:
    """SSIMULACRA 2 and Butteraugli (3-norm and max) as Point fields;
    Butteraugli's None where butteraugli_main is not installed."""
    values = {"ssimulacra2": ssimulacra2(reference, test)}
    if butteraugli_tool():
        values["butteraugli_max"], values["butteraugli"] = butteraugli(reference, test)
    return values


def code_plain(rgb: np.ndarray, codec, quality: int, name: str = "", method: str = "plain", eye: bool = True,
               ) -> tuple[Point, np.ndarray]:
    """The plain file of ``codec`` (a name: its default settings; or a configured Codec);
    ``eye``: with SSIMULACRA 2 and Butteraugli (together about 0.7 s of CPU for 768x512)."""
    backend = codecs.get_codec(codec) if isinstance(codec, str) else codec
    path = CodingPath(backend, quality)
    t0 = time.perf_counter()
    data = path.encode(rgb)
    t1 = time.perf_counter()
    out = path.decode(data)
    t2 = time.perf_counter()
    h, w = rgb.shape[:2]
    point = Point(name, method, quality, bpp(len(data), w, h), psnr(rgb, out), ms_ssim(rgb, out),
                  t1 - t0, t2 - t1, **(eye_metrics(rgb, out) if eye else {}))
    return point, out


# Beyond plain and common, the plain encoders a user who judges by eye picks,
# by format: encoders of the codec's registry (codecs.JPEG), each pinned.
EYE_PICKS = {"jpeg": ("mozjpeg-default", "jpegli")}


def missing_references(codec: str) -> dict:
    """The references of EYE_PICKS left out here, by name: why (their library is not installed)."""
    backend = codecs.get_codec(codec)
    return {name: "its library is not installed" for name in EYE_PICKS.get(codec, ())
            if name not in backend.installed_encoders()}


def _settings(settings) -> EncodeSettings:
    """Settings as given, or a codec's name: its default settings."""
    return settings if isinstance(settings, EncodeSettings) else EncodeSettings.of(codec=settings)


def references(settings: EncodeSettings | str) -> dict:
    """The plain files hybridcodec is measured against, by method name (module
    docstring): ``plain`` is the encoder the settings code with (their tune's)."""
    settings = _settings(settings)
    codec, backend = settings.codec, settings.backend()
    refs = {"plain": backend, "common": backend.configured(*backend.common_default)}
    missing = missing_references(codec)
    refs.update({name: backend.configured(name) for name in EYE_PICKS.get(codec, ())
                 if name not in missing and name != backend.encoder})
    following = backend.next_format
    if following and codecs.by_name(following).available():
        refs["next"] = codecs.get_codec(following)
    return refs


def code_hybrid(rgb: np.ndarray, settings: EncodeSettings | str, quality: int, name: str = "", eye: bool = True,
                ) -> tuple[Point, np.ndarray]:
    """One hybrid point at ``quality`` with these settings (or a codec's defaults)."""
    settings = _settings(settings).but(quality=quality)
    t0 = time.perf_counter()
    encoded = pipeline.encode_with(rgb, settings)
    t1 = time.perf_counter()
    out = pipeline.decompress(encoded.data, post_model=settings.post_model)
    t2 = time.perf_counter()
    h, w = rgb.shape[:2]
    header = encoded.hc.header
    pre, post = header.model("pre"), header.model("post")
    path = (f"scale {header.scale}, " + (f"pre {pre.name}, " if pre else "")
            + (f"post {post.name}" if post else "classical") + (", strengths" if encoded.hc.strengths else ""))
    point = Point(name, "hybrid", quality, bpp(len(encoded.data), w, h), psnr(rgb, out),
                  ms_ssim(rgb, out), t1 - t0, t2 - t1, header.scale, path,
                  len(encoded.data) - len(encoded.hc.payload), w * h, **(eye_metrics(rgb, out) if eye else {}))
    return point, out


def _warm_up(settings: EncodeSettings, quality: int) -> None:
    """Load the networks once, so the first image's timing is not the load time."""
    tiny = np.full((32, 32, 3), 128, np.uint8)
    pipeline.decompress(pipeline.encode_with(tiny, settings.but(quality=quality)).data)


def run(folder, settings: EncodeSettings | str, qualities=None, out="results", progress=True) -> dict:
    """Benchmark every image in ``folder`` with these encode settings (or a
    codec's defaults): write the files listed in the module docstring and
    return the summary. ``pre_edit``: ``--scale auto`` with its pre-editing
    candidate (the default, post-only, is its anchor); ``precision``: the
    restoration networks' twin (zoo.with_precision); ``strengths=False``:
    without the restoration's strength per tile (the per-image anchor);
    ``tune``: the encoder, networks and decision metric (codecs.TUNES)."""
    from tqdm import tqdm

    settings = _settings(settings)
    codec = settings.codec
    qualities = list(qualities or codecs.by_name(codec).quality_grid)
    paths = list_images(folder)
    if not paths:
        raise ValueError(f"no images in {folder}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for q in sorted(set(qualities)):
        _warm_up(settings, q)
    points: list[Point] = []
    bar = tqdm(total=len(paths) * len(qualities), desc=f"bench {codec}", disable=not progress)
    refs = references(settings)
    for path in paths:
        rgb = read_rgb(path)
        for q in qualities:
            for method, backend in refs.items():
                points.append(code_plain(rgb, backend, q, path.name, method)[0])
            points.append(code_hybrid(rgb, settings, q, path.name)[0])
            bar.update(1)
    bar.close()
    return write_results(points, settings, qualities, out, folder)


def _averaged(points, method, qualities):
    results = {field: [] for field in FIELDS}
    for q in qualities:
        rows = np.array([p.row() for p in points if p.method == method and p.quality == q])
        for field, value in zip(FIELDS, rows.mean(axis=0), strict=False):
            results[field].append(float(value))
    for field in EYE_FIELDS:  # a metric some point lacks (butteraugli_main missing) gets no column
        values = [[p.value(field) for p in points if p.method == method and p.quality == q] for q in qualities]
        if all(v is not None for per_quality in values for v in per_quality):
            results[field] = [float(np.mean(per_quality)) for per_quality in values]
    return results


def _bd(anchor: dict, test: dict, metric: str) -> float | None:
    """BD-rate in percent of curve ``test`` against ``anchor`` (as _averaged
    gives them) on a METRICS key; None where either lacks the metric."""
    field, sign = METRICS[metric]
    if field not in anchor or field not in test:
        return None
    return bd_rate(anchor["bpp"], sign * np.asarray(anchor[field]), test["bpp"], sign * np.asarray(test[field]))


def best_plain(curves: dict, methods) -> dict:
    """Per metric, the best plain encoder among ``methods`` (references of
    the codec's own format): the lowest BD-rate against hybridcodec's curve,
    one anchor for all, with every reference's BD-rate beside it."""
    best = {}
    for metric in METRICS:
        against = {m: _bd(curves["hybrid"], curves[m], metric) for m in methods}
        judged = {m: v for m, v in against.items() if v is not None}
        best[metric] = {"reference": min(judged, key=judged.get) if judged else None,
                        "bd_rate_against_hybrid": against}
    return best


def write_results(points, settings: EncodeSettings | str, qualities, out: Path, folder) -> dict:
    settings = _settings(settings)
    codec = settings.codec
    refs = references(settings)
    methods = [m for m in refs if any(p.method == m for p in points)]
    curves = {m: _averaged(points, m, qualities) for m in [*methods, "hybrid"]}
    measured = [metric for metric, (field, _) in METRICS.items() if field in curves["hybrid"]]
    for method, results in curves.items():
        if method == "hybrid":
            description = f"hybridcodec {codec}, --scale auto, every byte of the .hc file"
        else:
            backend = refs[method]
            description = (f"plain {backend.name} ({method}): {backend.library_version()}, encoder "
                           f"{backend.encoder}, effort {backend.effort}, no header")
        doc = {"name": f"{codec}-{method}", "description": description, "results": results}
        (out / f"{codec}-{method}.json").write_text(json.dumps(doc, indent=1))
    with open(out / f"{codec}-per-image.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "method", "quality", "scale", "path", "header_bytes", "pixels", *FIELDS,
                         *EYE_FIELDS])
        for p in points:
            writer.writerow([p.image, p.method, p.quality, p.scale, p.path, p.header_bytes, p.pixels, *p.row(),
                             *("" if v is None else v for v in p.eye_row())])
    with warnings.catch_warnings():
        # bjontegaard warns when curves share under 75% of their range; the
        # BD integrates over the shared range all the same
        warnings.simplefilter("ignore", UserWarning)
        summary = _summary(points, settings, qualities, folder, refs, methods, curves, measured)
    (out / f"{codec}-summary.json").write_text(json.dumps(summary, indent=1))
    plot(curves, codec, out / f"{codec}-rd.png", summary)
    return summary


def _summary(points, settings: EncodeSettings, qualities, folder, refs, methods, curves, measured) -> dict:
    plain, hybrid = curves["plain"], curves["hybrid"]
    codec = settings.codec
    return {
        "codec": codec,
        "images": str(folder),
        "tune": settings.tune,  # the encoder, networks and decision metric (codecs.TUNES)
        "scale": str(settings.scale),
        "pre_edit": settings.pre_edit,  # whether --scale auto had its pre-editing candidate
        "precision": settings.precision,  # the restoration networks' twin the files name
        "strengths": settings.strengths,  # whether --scale auto could add the restoration's strength per tile
        "environment": environment(settings, refs),
        "qualities": list(qualities),
        "references": {m: {"codec": refs[m].name, "encoder": refs[m].encoder, "effort": refs[m].effort}
                       for m in methods},
        "references_skipped": missing_references(codec),  # EYE_PICKS whose package is missing: why
        # the METRICS keys measured, and those left out: why
        "metrics": measured,
        "metrics_skipped": {m: f"{BUTTERAUGLI_MAIN} is not installed (Debian: libjxl-devtools)"
                            for m in METRICS if m not in measured},
        # against each reference: BD-rates in percent on each METRICS key (None: not measured, under
        # 4 qualities, or the curves do not overlap)
        "bd_rate_by_reference": {m: {metric: _bd(curves[m], hybrid, metric) for metric in METRICS}
                                 for m in methods},
        # per metric, the best plain encoder of the codec's format (best_plain)
        "best_plain_by_metric": best_plain(curves, [m for m in methods if refs[m].name == codec]),
        "bd_rate_psnr_percent": bd_rate(plain["bpp"], plain["psnr-rgb"], hybrid["bpp"], hybrid["psnr-rgb"]),
        "bd_psnr_db": bd_psnr(plain["bpp"], plain["psnr-rgb"], hybrid["bpp"], hybrid["psnr-rgb"]),
        "bd_rate_ms_ssim_percent": bd_rate(plain["bpp"], plain["ms-ssim-rgb"], hybrid["bpp"], hybrid["ms-ssim-rgb"]),
        "bd_rate_ssimulacra2_percent": _bd(plain, hybrid, "ssimulacra2"),
        "bd_rate_butteraugli_percent": _bd(plain, hybrid, "butteraugli"),
        # what the .hc header costs: bytes per file and their share of the hybrid bpp
        "header_bytes_mean": float(np.mean([p.header_bytes for p in points if p.method == "hybrid"])),
        "header_bpp_mean": float(np.mean([8 * p.header_bytes / p.pixels for p in points if p.method == "hybrid"])),
        "mean_decoding_time_s": {"plain": float(np.mean(plain["decoding_time"])),
                                 "hybrid": float(np.mean(hybrid["decoding_time"]))},
        "mean_encoding_time_s": {"plain": float(np.mean(plain["encoding_time"])),
                                 "hybrid": float(np.mean(hybrid["encoding_time"]))},
        **per_image_gains(points),
        # the same per-image check on the metrics fitted to the eye
        "worst_point_by_metric": {m: worst_point(points, m) for m in measured if m in ("ssimulacra2", "butteraugli")},
    }


def per_image_gains(points) -> dict:
    """Each hybrid point against the same image's plain curve at the same bpp
    (PSNR interpolated in log bpp; points outside the plain curve's range are
    not judged): the worst point, and how many are below plain. A mean BD-rate
    can hide an image that does worse; this shows it. Judged twice: at the
    file's bytes, and at its payload's (``header allowed``, issue #21's
    measure: the .hc header, about 64 bytes, is the price of the format and
    the encoder's own check allows it; native files have none)."""
    gains = []
    for image in sorted({p.image for p in points}):
        plain = sorted((p.bpp, p.psnr) for p in points if p.image == image and p.method == "plain")
        log_bpp, plain_psnr = np.log([b for b, _ in plain]), [v for _, v in plain]
        for p in points:
            if p.image == image and p.method == "hybrid" and log_bpp[0] <= np.log(p.bpp) <= log_bpp[-1]:
                gain = p.psnr - float(np.interp(np.log(p.bpp), log_bpp, plain_psnr))
                payload_bpp = p.bpp - 8 * p.header_bytes / p.pixels if p.pixels else p.bpp
                allowed = p.psnr - float(np.interp(np.log(payload_bpp), log_bpp, plain_psnr))
                gains.append({"image": image, "quality": p.quality, "bpp": p.bpp, "gain_db": gain,
                              "gain_db_header_allowed": allowed})
    worst = min(gains, key=lambda g: g["gain_db"]) if gains else None
    per_image = {}
    for image in sorted({p.image for p in points}):
        curves = [sorted((p.bpp, p.psnr) for p in points if p.image == image and p.method == m)
                  for m in ("plain", "hybrid")]
        per_image[image] = bd_rate(*zip(*curves[0], strict=True), *zip(*curves[1], strict=True))
    judged = [v for v in per_image.values() if v is not None]
    return {"worst_point": worst, "points_judged": len(gains),
            "worst_point_header_allowed": min(gains, key=lambda g: g["gain_db_header_allowed"]) if gains else None,
            "points_below_plain": sum(g["gain_db"] < 0 for g in gains),
            "points_below_plain_header_allowed": sum(g["gain_db_header_allowed"] < 0 for g in gains),
            # the spread across photos: a mean over 9 photos moves by about a point
            "bd_rate_psnr_per_image": per_image,
            "bd_rate_psnr_range": [min(judged), max(judged)] if judged else None}


def worst_point(points, metric: str) -> dict | None:
    """per_image_gains' check on another METRICS key: each hybrid point
    against the same image's plain curve at the same bpp (interpolated in
    log bpp; points outside it not judged). ``gain``: in the metric's units,
    positive where hybridcodec is better (for Butteraugli, the distance it
    takes off). The worst point, with the count of points below plain."""
    field, sign = METRICS[metric]
    gains = []
    for image in sorted({p.image for p in points}):
        plain = sorted((p.bpp, p.value(field)) for p in points if p.image == image and p.method == "plain")
        log_bpp, values = np.log([b for b, _ in plain]), [v for _, v in plain]
        for p in points:
            if p.image == image and p.method == "hybrid" and log_bpp[0] <= np.log(p.bpp) <= log_bpp[-1]:
                gain = sign * (p.value(field) - float(np.interp(np.log(p.bpp), log_bpp, values)))
                gains.append({"image": image, "quality": p.quality, "bpp": p.bpp, "gain": gain})
    if not gains:
        return None
    return {**min(gains, key=lambda g: g["gain"]), "points_judged": len(gains),
            "points_below_plain": sum(g["gain"] < 0 for g in gains)}


def environment(settings: EncodeSettings, refs: dict) -> dict:
    """What a benchmark ran on: library versions and the CPU flags that change speed or pixels."""
    import platform

    import onnxruntime

    from .. import __version__
    from ..runtime import SPEED_FLAGS, cpu_flags

    return {"hybridcodec": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "runtime": f"onnxruntime {onnxruntime.__version__}",
            "codec_library": settings.backend().library_version(),
            "libraries": {method: backend.library_version() for method, backend in refs.items()},
            "cpu": platform.processor() or platform.machine(),
            "cpu_flags": sorted(cpu_flags() & set(SPEED_FLAGS))}


def plot(curves, codec, path: Path, summary) -> None:
    """One panel per measured metric: hybridcodec and the references of its
    own format, each panel titled with hybridcodec's BD-rate against plain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    own = [m for m, ref in summary["references"].items() if ref["codec"] == codec]
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for ax, metric in zip(axes.flat, METRICS, strict=True):
        field, sign = METRICS[metric]
        if metric not in summary["metrics"]:
            ax.set_title(f"{metric}: {summary['metrics_skipped'][metric]}", fontsize=8)
            ax.set_axis_off()
            continue
        for method in own:
            ax.plot(curves[method]["bpp"], curves[method][field], "o-", ms=3, alpha=0.7, label=f"{codec} {method}")
        ax.plot(curves["hybrid"]["bpp"], curves["hybrid"][field], "s-", color="black", label=f"hybridcodec {codec}")
        bd = summary["bd_rate_by_reference"]["plain"][metric]
        ax.set_title(f"BD-rate against plain {bd:+.1f}%" if bd is not None
                     else "no BD-rate against plain (under 4 points, or no overlap)")
        ax.set_xlabel("bpp")
        ax.set_ylabel(field + (" (lower is better)" if sign < 0 else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(codec)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def demo(image_path, stream=print) -> list[Point]:
    """Compress and decompress one image with every codec: plain against
    hybridcodec; PSNR-RGB, SSIMULACRA 2 and Butteraugli's 3-norm (lower is better)."""
    rgb = read_rgb(image_path)
    stream(f"{image_path}: {rgb.shape[1]}x{rgb.shape[0]}")
    if not butteraugli_tool():
        stream(f"(Butteraugli skipped: {BUTTERAUGLI_MAIN} is not installed; Debian: libjxl-devtools)")
    stream(f"{'codec':<7} {'q':>3}  {'method':<7} {'bpp':>6} {'PSNR':>6} {'SSIMU2':>6} {'Butter':>6} "
           f"{'enc s':>6} {'dec s':>6}  path")
    points = []
    for backend in codecs.native_codecs():
        if not backend.available():
            continue
        codec = backend.name
        settings = EncodeSettings.of(codec=codec)
        for q in backend.demo_qualities:
            _warm_up(settings, q)
            for point in (code_plain(rgb, settings.backend(), q)[0], code_hybrid(rgb, settings, q)[0]):
                points.append(point)
                butter = "-" if point.butteraugli is None else f"{point.butteraugli:.3f}"
                stream(f"{codec:<7} {q:>3}  {point.method:<7} {point.bpp:6.3f} {point.psnr:6.2f} "
                       f"{point.ssimulacra2:6.2f} {butter:>6} {point.encode_s:6.3f} {point.decode_s:6.3f}  "
                       f"{point.path}")
    return points


# --------------------------------------------------------------------------
# Model cost: parameters, FLOPs per pixel, milliseconds for 768x512
# --------------------------------------------------------------------------


def model_cost(model, width: int = 768, height: int = 512, runs: int = 10) -> dict:
    """Parameters, FLOPs per output pixel (2 x multiply-adds of the convolutions)
    and the median of ``runs`` warm timings for a ``width`` x ``height`` output."""
    import keras

    scale = getattr(model, "scale", 1)
    pre = getattr(model, "role", "post") == "pre"
    shape = (height, width) if pre else (height // scale, width // scale)
    image = np.random.default_rng(0).random((1, *shape, 3), dtype=np.float32)
    # the condition as wide as the network's contract (coding.CONDITIONS: quality 1, jpeg-tables 8)
    inputs = image if pre else [image, np.full((1, int(model.inputs[1].shape[-1])), 0.5, np.float32)]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    probe = keras.Model(model.inputs, [layer.output for layer in convs])
    macs = 0
    for layer, out in zip(convs, probe(inputs, training=False), strict=False):
        kh, kw, cin, cout = layer.kernel.shape
        macs += int(out.shape[1]) * int(out.shape[2]) * kh * kw * cin * cout
    return {
        "params": int(model.count_params()),
        "flops_per_pixel": round(2 * macs / (width * height)),
        "ms_768x512": median_ms(lambda: model(inputs, training=False), runs),
    }


def median_ms(call, runs: int = 10) -> float:
    """Median milliseconds of ``runs`` calls, after one warm-up call (graph
    building, allocation at this shape)."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 1)


def standard_models() -> dict:
    """Every network configuration hybridcodec defines, by a readable name."""
    from ..models import ARCNN, ARCNNASPP, ComCNN, RecCNN, RecUNet

    return {
        "RecCNN default 8x32 (scale 1)": lambda: RecCNN(scale=1),
        "RecCNN default 8x32 (scale 2)": lambda: RecCNN(scale=2),
        "RecCNN 10x32 (scale 1)": lambda: RecCNN(scale=1, depth=10),
        "RecCNN 16x32 bfloat16 (scale 1)": lambda: RecCNN(scale=1, depth=16, compute_dtype="bfloat16"),
        "RecCNN half resolution 10x64 (scale 1)": lambda: RecCNN(scale=1, depth=10, width=64, half_resolution=True),
        "RecUNet 24, 2 blocks (scale 1)": lambda: RecUNet(scale=1),
        "RecUNet 24, 2 blocks (scale 2)": lambda: RecUNet(scale=2),
        "RecCNN.paper() (scale 2)": lambda: RecCNN.paper(scale=2),
        "RecCNN.paper() (scale 1)": lambda: RecCNN.paper(scale=1),
        "ARCNN (scale 1)": lambda: ARCNN(scale=1),
        "ARCNN-ASPP (scale 1)": lambda: ARCNNASPP(scale=1),
        "ARCNN-ASPP (scale 2)": lambda: ARCNNASPP(scale=2),
        "ComCNN (scale 2)": lambda: ComCNN(scale=2),
    }


def network_ms(entry, network, width: int = 768, height: int = 512, runs: int = 10) -> float:
    """Median warm milliseconds of a restoration ``network`` serving zoo
    ``entry``'s scale, for a ``width`` x ``height`` output."""
    from ..coding import CONDITIONS

    factor = entry.scale.network_factor
    image = np.random.default_rng(0).random((1, height // factor, width // factor, 3), dtype=np.float32)
    condition = np.full((1, CONDITIONS[network.condition]), 0.3, np.float32)
    return median_ms(lambda: network([image, condition]), runs)


def runtime_costs(width: int = 768, height: int = 512, runs: int = 10, stream=print) -> list[dict]:
    """Median of ``runs`` warm timings of every current shipped network in the
    runtime (what decoding runs), for a ``width`` x ``height`` output."""
    from ..runtime import SPEED_FLAGS, cpu_flags

    rows = []
    stream(f"Shipped networks in the runtime, CPU flags: {' '.join(sorted(cpu_flags() & set(SPEED_FLAGS)))}")
    stream("| network | coding scale | ms for 768x512 (median of 10) |")
    stream("|---|---|---:|")
    for entry in zoo.entries():
        if entry.status != "current":
            continue
        ms = network_ms(entry, zoo.load(entry), width, height, runs)
        rows.append({"network": entry.name, "scale": str(entry.scale), "ms_768x512": ms})
        stream(f"| {entry.name} | {entry.scale} | {rows[-1]['ms_768x512']} |")
    return rows


def cost_table(stream=print) -> list[dict]:
    """Print the runtime's timings of the shipped networks, then (with the
    train extra) a Markdown table of model_cost for every standard configuration."""
    rows = runtime_costs(stream=stream)
    try:
        import keras  # noqa: F401
    except ImportError:
        stream("(Keras configurations skipped: the train extra is not installed)")
        return rows
    stream("")
    stream("| model (Keras) | parameters | FLOPs per pixel | ms for 768x512 (median of 10) |")
    stream("|---|---:|---:|---:|")
    for name, make in standard_models().items():
        row = {"model": name, **model_cost(make())}
        rows.append(row)
        stream(f"| {name} | {row['params']:,} | {row['flops_per_pixel']:,} | {row['ms_768x512']} |")
    return rows


# --------------------------------------------------------------------------
# Large images: peak memory and time against pixel count
# --------------------------------------------------------------------------

_LARGE_CHILD = """
import sys, time, numpy as np, hybridcodec
from hybridcodec.tools.peak import peak_rss_mb
from skimage import data
megapixels, codec, quality = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
side = int((megapixels * 1e6 / 1.5) ** 0.5)
width, height = int(side * 1.5), side
tile = data.astronaut()
image = np.tile(tile, (height // 512 + 1, width // 512 + 1, 1))[:height, :width]
image = np.ascontiguousarray(image)
start = time.perf_counter(); blob = hybridcodec.compress(image, codec, quality)
encoded = time.perf_counter(); out = hybridcodec.decompress(blob)
decoded = time.perf_counter()
assert out.shape == image.shape
print(width, height, len(blob), encoded - start, decoded - encoded, peak_rss_mb())
"""


def large_images(megapixels=(1, 12, 50), codec="jpeg", quality=30, stream=print) -> list[dict]:
    """Compress and decompress synthetic images of each size in a fresh process;
    print peak RSS and seconds (the networks run tiled, so memory stays flat)."""
    import subprocess
    import sys

    rows = []
    stream(f"{'MP':>5} {'size':>12} {'bpp':>6} {'encode s':>9} {'decode s':>9} {'peak RSS MB':>12}")
    for mp in megapixels:
        result = subprocess.run([sys.executable, "-c", _LARGE_CHILD, str(mp), codec, str(quality)],
                                capture_output=True, text=True, check=True)
        width, height, size, enc, dec, rss = result.stdout.split()
        row = {"megapixels": mp, "width": int(width), "height": int(height), "bytes": int(size),
               "encode_s": float(enc), "decode_s": float(dec), "peak_rss_mb": float(rss)}
        rows.append(row)
        stream(f"{mp:>5} {width + 'x' + height:>12} {8 * row['bytes'] / (row['width'] * row['height']):6.3f} "
               f"{row['encode_s']:9.2f} {row['decode_s']:9.2f} {row['peak_rss_mb']:12.0f}")
    return rows
