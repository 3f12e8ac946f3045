"""The installed, non-editable wheel works offline: weights, samples, console script."""

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_compresses(tmp_path, photo):
    from PIL import Image

    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    (wheel,) = dist.glob("hybridcodec-*.whl")

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
    for entry in manifest["models"]:
        assert entry.get("variant_of") or (Path(weights) / entry["file"]).is_file()  # a twin has no weights
        assert (Path(weights) / entry["onnx"]).is_file()  # what the runtime runs ships too
    result = subprocess.run([str(hybridcodec), "decompress", "x.hc", "-o", "y.png"], cwd=work,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
