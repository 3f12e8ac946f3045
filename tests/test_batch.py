import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from hybridcodec.cli import main
from hybridcodec.container import unpack


@pytest.fixture
def folder(tmp_path, photo):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        Image.fromarray(np.roll(photo, 7 * i, axis=1)).save(src / f"img{i}.png")
    (src / "broken.png").write_bytes(b"not a png")
    (src / "notes.txt").write_text("ignored: not an image")
    return src


def test_folder_goes_on_past_bad_files_and_summarises(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compress", str(folder), "-o", str(out), "--codec", "jpeg"]) == 1
    assert sorted(p.name for p in out.iterdir()) == [f"img{i}.hc" for i in range(4)]
    err = capsys.readouterr().err
    assert "4 done, 0 skipped, 1 failed" in err and "broken.png" in err


def test_rerun_skips_existing_outputs_unless_forced(folder, tmp_path, capsys):
    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    files = [str(p) for p in sorted(folder.glob("img*.png"))]
    assert main(["compress", *files[:2], "-o", str(out)]) == 0
    assert main(["compress", *files, "-o", str(out)]) == 0
    assert "2 done, 2 skipped, 0 failed" in capsys.readouterr().out
    assert main(["compress", *files, "-o", str(out), "--force"]) == 0
    assert "4 done, 0 skipped, 0 failed" in capsys.readouterr().out
    assert main(["decompress", str(out), "-o", str(tmp_path / "png")]) == 0
    assert len(list((tmp_path / "png").glob("*.png"))) == 4


def test_jobs_use_worker_processes(folder, tmp_path, capsys):
    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    assert main(["compress", str(folder), "-o", str(out), "--jobs", "2", "--codec", "avif"]) == 0
    assert len([unpack(p.read_bytes()) for p in out.glob("*.hc")]) == 4


def test_dask_local_cluster(folder, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    (folder / "broken.png").unlink()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert main(["compress", str(folder), "-o", str(tmp_path / "out"), "--scheduler",
                     cluster.scheduler_address, "-q"]) == 0
    assert len(list((tmp_path / "out").glob("*.hc"))) == 4


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_no_partial_files_and_resumes(tmp_path, photo, sig):
    src = tmp_path / "in"
    src.mkdir()
    big = np.tile(photo, (6, 6, 1))
    for i in range(12):
        Image.fromarray(np.roll(big, i, axis=0)).save(src / f"{i:02}.png")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "hybridcodec.cli", "compress", str(src), "-o", str(out),
               "--codec", "jpegxl", "-q"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and any(out.glob("*.hc"))):
        time.sleep(0.05)
    process.send_signal(sig)
    process.wait(timeout=60)
    leftovers = [p.name for p in out.iterdir() if not p.name.endswith(".hc")]
    assert leftovers == []
    for path in out.glob("*.hc"):
        unpack(path.read_bytes())  # every output that exists is whole
    result = subprocess.run(command[:-1], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(list(out.glob("*.hc"))) == 12
