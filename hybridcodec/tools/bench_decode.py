"""``hybridcodec bench-decode``: how fast and how light a decode is, as a user
meets it: cold processes, output written, against the plain decoder tool.

Each case is run ``runs`` times in a fresh process and reported as the
median wall time and the largest peak RSS (``peak.py``). The cases are
the targets of docs/ROBUSTNESS.md:

* ``hybridcodec decompress`` of a 768x512 JPEG ``.hc`` at quality 40, beside
  ``djpeg`` on its payload (a plain JPEG) where djpeg is installed, and the
  same picture coded with ``precision="float32"`` (the exact network, not
  its int8 twin);
* the same at 12 and 50 megapixels, with the network's own time (measured
  in this process, warm) so that "wall minus network" can be read;
* ``Image.open(...).load()`` of the 768x512 file (the Pillow plugin);
* ``hybridcodec decompress`` of 16 such files with ``--jobs 1`` and ``--jobs 2``.

The pictures are tiles of scikit-image's astronaut, so anyone can rerun it.
A tool: nothing at run time imports it.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import codecs, pipeline
from ..coding import CodingPath
from ..runtime import progress


def _picture(width: int, height: int) -> np.ndarray:
    from PIL import Image
    from skimage import data

    tile = np.asarray(Image.fromarray(data.astronaut()).resize((768, 768), Image.Resampling.LANCZOS))
    reps = (height // 768 + 1, width // 768 + 1, 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:height, :width])


# A child reports its own peak at exit (peak.py says why not wait4's ru_maxrss).
_PEAK = "import sys; from hybridcodec.tools.peak import report_at_exit; report_at_exit(sys.argv.pop(1)); "
_PEAK_FILE = object()  # where in a command ``_cold`` puts the file the child writes its peak to


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", _PEAK + code, _PEAK_FILE]


def _cli(*args: str) -> list[str]:
    """The ``hybridcodec`` command as its console script runs it (cli.run)."""
    return _python(f"sys.argv[1:] = {list(args)!r}; from hybridcodec.cli import run; run()")


def _cold(command: list[str], runs: int, step=lambda: None) -> dict:
    """Median wall seconds over ``runs`` fresh processes of ``command``, and
    their largest peak RSS in MB where the command is one of ours (``_python``);
    ``step`` is called after each process (the progress bar)."""
    walls, peaks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        peak = Path(tmp) / "peak"
        ours = _PEAK_FILE in command
        for _ in range(runs):
            start = time.perf_counter()
            result = subprocess.run([str(peak) if a is _PEAK_FILE else a for a in command], capture_output=True,
                                    text=True)
            walls.append(time.perf_counter() - start)
            if result.returncode:
                raise RuntimeError(f"{' '.join(map(str, command))} failed: {result.stderr.strip()}")
            step()
            if ours:
                peaks.append(float(peak.read_text()))
    return {"wall_s": round(statistics.median(walls), 3), "peak_rss_mb": round(max(peaks), 1) if peaks else None,
            "runs": runs}


def _network_seconds(data: bytes) -> float:
    """The restoring network's own time on this file (warm, this process)."""
    hc = pipeline.read_file(data)
    h = hc.header
    post = h.model("post")
    if post is None:
        return 0.0
    from .. import zoo

    path = CodingPath(codecs.get_codec(h.codec), h.quality, h.scale, post=zoo.resolve(post))
    decoded = path.decode(hc.payload, h.width, h.height)
    side = 64 * h.scale.network_factor
    path.restore(decoded[:64, :64], side, side, hc.payload)  # opens the session
    start = time.perf_counter()
    path.restore(decoded, h.width, h.height, hc.payload)
    return time.perf_counter() - start


def run(runs: int = 5, megapixels=(12, 50), quality: int = 40, stream=print) -> dict:
    """Measure every case; print a Markdown table and return the figures."""
    results = {}
    # every cold process, for the progress bar: 768x512 three times, djpeg, load, two batches, each size
    total = runs * (6 + bool(shutil.which("djpeg"))) + sum(1 if mp > 12 else runs for mp in megapixels)
    with progress("bench-decode", total, unit="run") as step, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = tmp / "small.hc"
        small.write_bytes(pipeline.compress(_picture(768, 512), "jpeg", quality))
        hc = pipeline.read_file(small.read_bytes())
        (tmp / "plain.jpg").write_bytes(hc.payload)
        results["decompress 768x512"] = {
            **_cold(_cli("decompress", str(small), "-o", str(tmp / "out.png"), "--force"), runs, step),
            "network_s": round(_network_seconds(small.read_bytes()), 3), "network": hc.header.model("post").name}
        exact = tmp / "exact.hc"  # the same picture naming the float32 network, not its int8 twin
        exact.write_bytes(pipeline.compress(_picture(768, 512), "jpeg", quality, precision="float32"))
        results["decompress 768x512, float32 network"] = {
            **_cold(_cli("decompress", str(exact), "-o", str(tmp / "out.png"), "--force"), runs, step),
            "network_s": round(_network_seconds(exact.read_bytes()), 3)}
        light = tmp / "light.hc"  # the same picture naming the light tier's network (--decoder light)
        light.write_bytes(pipeline.compress(_picture(768, 512), "jpeg", quality, decoder="light"))
        results["decompress 768x512, light network"] = {
            **_cold(_cli("decompress", str(light), "-o", str(tmp / "out.png"), "--force"), runs, step),
            "network_s": round(_network_seconds(light.read_bytes()), 3),
            "network": pipeline.read_file(light.read_bytes()).header.model("post").name}
        if shutil.which("djpeg"):
            results["djpeg 768x512 (its payload)"] = _cold(
                ["djpeg", "-outfile", str(tmp / "plain.ppm"), str(tmp / "plain.jpg")], runs, step)
        load = f"import hybridcodec; from PIL import Image; Image.open({str(small)!r}).load()"
        results["Image.open().load() 768x512"] = _cold(_python(load), runs, step)
        batch = tmp / "batch"
        batch.mkdir()
        for k in range(16):
            shutil.copyfile(small, batch / f"{k:02d}.hc")
        for jobs in (1, 2):
            out = tmp / f"out-{jobs}"
            out.mkdir()
            # peak RSS: the main process's (workers are processes of their own)
            results[f"batch of 16, --jobs {jobs}"] = _cold(
                _cli("decompress", str(batch), "-o", str(out), "--jobs", str(jobs), "--force", "--quiet"), runs, step)
        for mp in megapixels:
            side = int((mp * 1e6 / 1.5) ** 0.5)
            large = tmp / f"{mp}mp.hc"
            large.write_bytes(pipeline.compress(_picture(int(side * 1.5), side), "jpeg", quality))
            case = _cold(_cli("decompress", str(large), "-o", str(tmp / "large.png"), "--force"),
                         1 if mp > 12 else runs, step)
            case["network_s"] = round(_network_seconds(large.read_bytes()), 3)
            case["wall_minus_network_s"] = round(case["wall_s"] - case["network_s"], 3)
            results[f"decompress {mp} MP"] = case
            large.unlink()
    from ..runtime import SPEED_FLAGS, cpu_flags

    stream(f"CPU flags: {' '.join(sorted(cpu_flags() & set(SPEED_FLAGS))) or 'none of ' + ', '.join(SPEED_FLAGS)}")
    stream("| case | wall s (median) | peak RSS MB | network s | runs |")
    stream("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        stream(f"| {name} | {r['wall_s']} | {r['peak_rss_mb'] or '-'} | {r.get('network_s', '')} | {r['runs']} |")
    return results
