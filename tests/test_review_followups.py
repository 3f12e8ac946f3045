"""Review follow-ups: one home for the lossless-options rule, warnings as one
line naming their file (also from --jobs workers), and temporary files
counted stale only when their writer is gone and they are a minute old."""

import os
import subprocess
import sys
import time

import pytest
from PIL import Image

import hybridcodec.files as files
from hybridcodec.cli import main
from hybridcodec.errors import HybridCodecError

# -- 1. a lossless codec takes no --quality or --scale: exit 2 on the command line, HybridCodecError in Python --


@pytest.mark.parametrize("extra", [["--codec", "png", "--quality", "50"], ["--codec", "png", "--scale", "2"],
                                   ["--codec", "png", "--quality", "50", "-o", "b.hc"]])
def test_the_command_line_refuses_quality_for_a_lossless_codec_as_wrong_usage(png, capsys, extra, monkeypatch):
    monkeypatch.chdir(png.parent)
    with pytest.raises(SystemExit) as stop:
        main(["compress", str(png), *extra])
    assert stop.value.code == 2
    assert "png is lossless: --quality and --scale do not apply" in capsys.readouterr().err
    assert sorted(p.name for p in png.parent.iterdir()) == ["a.png"]  # refused before any work


def test_the_api_refuses_it_with_the_same_message(png):
    with pytest.raises(HybridCodecError, match="^png is lossless: --quality and --scale do not apply$"):
        files.compress_file(png, png.with_suffix(".hc"), codec="png", quality=50)
    assert not png.with_suffix(".hc").exists()


def test_a_lossy_codec_named_by_the_output_takes_quality(png, capsys):
    assert main(["compress", str(png), "-o", str(png.with_suffix(".webp")), "--quality", "50", "-q"]) == 0
    assert png.with_suffix(".webp").read_bytes()[8:12] == b"WEBP"


# -- 2. a warning is one line that names its file, with --jobs too ---------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_folder_run_warns_once_per_file_naming_it(tmp_path, photo, capfd, jobs):
    """Before: with --jobs 2 the workers said Python's two lines with a source
    path, and no format named the file."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("x.jpg", "y.jpg"):
        Image.fromarray(photo).save(folder / name, quality=20)
    assert main(["decompress", str(folder), "-o", str(tmp_path / "out"), "--quality", "50", "-q", "--jobs", jobs]) == 0
    err = capfd.readouterr().err.splitlines()
    assert sorted(err) == [f"hybridcodec: warning: {folder / name}: quality 50 ignored: this jpeg file's "
                           "quantization tables say 20" for name in ("x.jpg", "y.jpg")]


def test_a_warning_outside_a_files_work_is_one_line_in_a_worker(tmp_path):
    """A spawned worker starts with Python's showwarning; _init_worker sets ours."""
    script = "import os, warnings, hybridcodec.batch as b; b._init_worker(1, os.getppid()); warnings.warn('odd')"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert run.stderr.splitlines() == ["hybridcodec: warning: odd"]


# -- 3. a temporary file is stale when its writer is gone and it is a minute old --------------------------------


def test_a_fresh_temporary_file_of_an_unknown_pid_is_kept(tmp_path):
    """Two containers with one hostname and separate pid namespaces see each
    other's writers as dead; a write lasts seconds, so a fresh file is kept."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    tmp = tmp_path / f".a.hc.{child.pid}@{files._HOST}.0123abcd.tmp"
    tmp.write_bytes(b"half")
    assert files.remove_stale_temporaries([tmp_path / "a.hc"]) == 0 and tmp.exists()
    then = time.time() - files.STALE_AFTER_S - 5
    os.utime(tmp, (then, then))
    assert files.remove_stale_temporaries([tmp_path / "a.hc"]) == 1 and not tmp.exists()
