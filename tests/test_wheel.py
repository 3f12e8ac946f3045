"""The installed, non-editable wheel works offline: weights, samples, console
script; it ships what runs and no more (issue #39, item 6): every network's
.onnx (any file may name a superseded one: the golden files decode from it),
every card, and the .keras of the current networks only."""

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
WEIGHTS = "hybridcodec/weights/"


def build_wheel(tmp_path) -> Path:
    """The wheel of the source tree, built from a clean copy: an in-tree build
    reuses build/lib, where files an earlier build copied (a .keras since
    dropped from package_data) stay and would ship again."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".manifest.lock*", "*.partial")
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    for name in ("hybridcodec", "models", "web/src"):  # web/src: the page's module (hybridcodec.web_static)
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(dist), str(source)], check=True, capture_output=True)
    (wheel,) = dist.glob("hybridcodec-*.whl")
    return wheel


def shipped_weights(wheel: Path) -> set[str]:
    """The wheel's files under hybridcodec/weights/, relative to it."""
    with zipfile.ZipFile(wheel) as archive:
        return {n[len(WEIGHTS):] for n in archive.namelist() if n.startswith(WEIGHTS)}


def expected_weights(models: Path) -> tuple[set[str], set[str]]:
    """(the files the wheel must hold, the .keras it must not), relative to
    models/, from the manifest's statuses and the files of the checkout."""
    def where(name):
        return name if (models / name).exists() else f"superseded/{name}"

    needed, unwanted = {"manifest.json"}, set()
    for entry in json.loads((models / "manifest.json").read_text())["models"]:
        needed |= {where(entry["onnx"]), where(entry["card"])}
        if entry["file"]:
            (needed if entry["status"] == "current" else unwanted).add(where(entry["file"]))
    return needed, unwanted


def test_wheel_contents_follow_the_statuses():
    """The rule the wheel test checks, on the checkout itself (fast): it
    names a file for every network and tells current from superseded."""
    needed, unwanted = expected_weights(ROOT / "models")
    assert unwanted and all(name.startswith("superseded/") and name.endswith(".keras") for name in unwanted)
    assert all((ROOT / "models" / name).is_file() for name in needed | unwanted)
    assert any(name.startswith("superseded/") and name.endswith(".onnx") for name in needed)


@pytest.mark.slow
def test_wheel_installs_and_compresses(tmp_path, photo):
    from PIL import Image

    wheel = build_wheel(tmp_path)
    shipped = shipped_weights(wheel)
    needed, unwanted = expected_weights(ROOT / "models")
    assert needed <= shipped, f"missing from the wheel: {sorted(needed - shipped)}"
    assert not unwanted & shipped, f"superseded .keras in the wheel: {sorted(unwanted & shipped)}"
    assert {n for n in shipped if n.endswith(".keras")} <= needed  # no stray .keras either

    env_dir = tmp_path / "env"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    # Make this environment's packages (TensorFlow, imagecodecs, ...) visible
    # without installing them twice: a .pth line adds a path but, unlike a site
    # dir, does not run the editable-install hook of hybridcodec found there.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "parent-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)

    work = tmp_path / "work"
    work.mkdir()
    Image.fromarray(photo).save(work / "x.png")
    hybridcodec = env_dir / "bin" / "hybridcodec"
    result = subprocess.run([str(hybridcodec), "compress", "x.png", "--codec", "jpeg"], cwd=work,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (work / "x.hc").exists()

    # the package comes from the wheel, and finds its weights and sample there
    probe = ("import json, hybridcodec, hybridcodec.zoo as z; "
             "print(json.dumps([hybridcodec.__file__, str(z.weights_dir()), len(z.entries())]))")
    where, weights, count = json.loads(subprocess.run([str(python), "-c", probe], cwd=work, check=True,
                                                      capture_output=True, text=True).stdout)
    assert where.startswith(str(env_dir)) and weights.startswith(str(env_dir))
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    assert count == len(manifest["models"])
    result = subprocess.run([str(hybridcodec), "decompress", "x.hc", "-o", "y.png"], cwd=work,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    # the page's module ships (hybridcodec/web_static, from web/src) and `hybridcodec web` writes it
    result = subprocess.run([str(hybridcodec), "web", "site", "--all", "-q"], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (work / "site" / "hybridcodec.js").read_bytes() == (ROOT / "web" / "src" / "hybridcodec.js").read_bytes()

    # every golden file (old files naming superseded networks too) decodes from the wheel as in tests/test_golden.py
    decode = ("import sys, numpy as np, hybridcodec; from pathlib import Path; from PIL import Image; "
              "from hybridcodec.metrics import psnr\n"
              "for p in map(Path, sys.argv[1:]):\n"
              "    e = np.asarray(Image.open(p.with_suffix('.expected.png')))\n"
              "    d = hybridcodec.decompress(p.read_bytes())\n"
              "    print(p.name, d.shape == e.shape and psnr(e, d) > 50)\n")
    golden = sorted(GOLDEN.glob("*.hc"))
    result = subprocess.run([str(python), "-c", decode, *map(str, golden)], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [w for p in golden for w in (p.name, "True")]

    # `zoo --all` sizes every network from what is installed; Keras loads a
    # current network's .keras and names the missing one of a superseded network
    listed = subprocess.run([str(hybridcodec), "zoo", "--all"], cwd=work, check=True, capture_output=True,
                            text=True).stdout
    assert "missing" not in listed and all(entry["name"] in listed for entry in manifest["models"])
    current = next(e["name"] for e in manifest["models"] if e["status"] == "current" and e["file"])
    superseded = next(e["name"] for e in manifest["models"] if e["status"] == "superseded" and e["file"])
    keras = ("import sys; from hybridcodec import zoo; from hybridcodec.errors import HybridCodecError\n"
             "print(zoo.load_keras(sys.argv[1]).count_params() > 0)\n"
             "try:\n    zoo.load_keras(sys.argv[2])\nexcept HybridCodecError as e:\n    print('refused:', e)\n")
    result = subprocess.run([str(python), "-c", keras, current, superseded], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded, refused = result.stdout.splitlines()[-2:]
    assert loaded == "True" and refused.startswith(f"refused: weights file missing for model {superseded}")
