"""What a new user hit: lost inputs, late errors, odd permissions, wrong
formats under the right names, bent values, leaky logs, the Pillow plugin."""

import io
import json
import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import hybridcodec
from hybridcodec.cli import main
from hybridcodec.container import unpack
from hybridcodec.metrics import psnr


def names(folder):
    return sorted(p.name for p in folder.iterdir())


# -- 1. no input is ever lost -----------------------------------------------------


def test_two_inputs_for_one_output_are_refused_before_any_work(png, photo, tmp_path, capsys):
    Image.fromarray(photo).save(tmp_path / "a.jpg", quality=95)
    for extra in ([], ["--force"]):
        assert main(["compress", str(tmp_path), *extra]) == 1
        err = capsys.readouterr().err
        assert "would both write" in err and "a.jpg" in err and "a.png" in err
        assert names(tmp_path) == ["a.jpg", "a.png"]  # nothing written


def test_decompress_force_never_replaces_the_source_photo(png, tmp_path, capsys):
    original = png.read_bytes()
    assert main(["compress", str(png), "--codec", "jpeg", "-o", str(tmp_path / "b.hc"), "-q"]) == 0
    (tmp_path / "b.hc").rename(tmp_path / "a.hc")  # a.hc beside its source a.png
    for extra in ([], ["--force"]):
        assert main(["decompress", str(tmp_path), *extra]) == 1
        assert "a.png exists and was not written by hybridcodec" in capsys.readouterr().err
    assert png.read_bytes() == original
    # an earlier output of ours is replaced with --force, in a folder run too
    out = tmp_path / "out"
    assert main(["decompress", str(tmp_path / "a.hc"), "-o", str(out / "a.png")]) == 1  # no such folder
    out.mkdir()
    assert main(["decompress", str(tmp_path), "-o", str(out), "-q"]) == 0
    assert main(["decompress", str(tmp_path), "-o", str(out), "--force", "-q"]) == 0


def test_an_output_that_is_an_input_of_the_run_is_refused(tmp_path, photo, capsys):
    Image.fromarray(photo).save(tmp_path / "x.png")
    assert main(["compress", str(tmp_path / "x.png"), "-o", str(tmp_path / "x.hc"), "-q"]) == 0
    # decompress x.hc writes x.png, which is an input of this compress-and-... run: a clash
    assert main(["decompress", str(tmp_path / "x.hc"), str(tmp_path / "x.png"), "--force"]) == 1
    assert "clash" in capsys.readouterr().err


# -- 2. output problems are found before the work ------------------------------------


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_a_missing_output_folder_is_one_line_before_the_work(command, png, tmp_path, capsys):
    source = png
    if command == "decompress":
        assert main(["compress", str(png), "-q"]) == 0
        source = png.with_suffix(".hc")
    target = tmp_path / "nodir" / "sub" / ("x.hc" if command == "compress" else "x.png")
    assert main([command, str(source), "-o", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("hybridcodec: error:") and "\n" not in err and "nodir" in err


# -- 3. normal permissions ----------------------------------------------------------


def test_outputs_get_the_umask_and_force_keeps_the_mode(png, tmp_path):
    old = os.umask(0o022)
    try:
        assert main(["compress", str(png), "-q"]) == 0
        target = png.with_suffix(".hc")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        target.chmod(0o640)
        assert main(["compress", str(png), "--force", "-q"]) == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
    finally:
        os.umask(old)


# -- 4. info reads native files -------------------------------------------------------


def test_info_reads_native_files(png, tmp_path, capsys):
    assert main(["compress", str(png), "--codec", "jpeg", "--native", "-q"]) == 0
    assert main(["info", "--json", str(tmp_path / "a.hc.jpg")]) == 0
    assert json.loads(capsys.readouterr().out)["codec"] == "jpeg"


# -- 5. values are refused, not bent ---------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-5", "100", "50.7", "fifty"])
def test_cli_quality_out_of_range_is_usage_error(png, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compress", str(png), "--quality", value])
    assert exit_info.value.code == 2
    assert "from 1 to 99" in capsys.readouterr().err


@pytest.mark.parametrize("value", [150, 50.7, "50", 0, True])
def test_api_quality_out_of_range_is_a_hybridcodec_error(photo, value):
    with pytest.raises(hybridcodec.HybridCodecError, match="from 1 to 99"):
        hybridcodec.compress(photo, codec="jpeg", quality=value)


def test_png_refuses_quality_and_scale_and_says_lossless(png, capsys):
    with pytest.raises(SystemExit) as exit_info:  # options that do not go together: wrong usage
        main(["compress", str(png), "--codec", "png", "--quality", "30"])
    assert exit_info.value.code == 2
    assert "lossless" in capsys.readouterr().err
    assert main(["compress", str(png), "--codec", "png"]) == 0
    assert "png lossless" in capsys.readouterr().out


# -- 6. names match contents; - is standard input and output ------------------------


def test_compress_to_a_codec_extension_writes_that_native_format(png, tmp_path):
    assert main(["compress", str(png), "-o", str(tmp_path / "z.webp"), "-q"]) == 0
    data = (tmp_path / "z.webp").read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert Image.open(tmp_path / "z.webp").format == "WEBP"
    assert main(["compress", str(png), "--codec", "jpeg", "-o", str(tmp_path / "z2.webp")]) == 1
    assert main(["compress", str(png), "-o", str(tmp_path / "z.png")]) == 1
    assert names(tmp_path) == ["a.png", "z.webp"]


def test_native_folder_run_without_codec_uses_the_default(png, tmp_path):
    out = tmp_path / "out"
    assert main(["compress", str(tmp_path), "--native", "-o", str(out), "-q"]) == 0
    assert names(out) == ["a.hc.webp"]


@pytest.mark.parametrize("suffix,kind", [(".png", "PNG"), (".tif", "TIFF"), (".webp", "WEBP"), (".bmp", "BMP")])
def test_decompress_writes_the_format_its_extension_names(png, tmp_path, suffix, kind, photo):
    assert main(["compress", str(png), "-q"]) == 0
    out = tmp_path / f"y{suffix}"
    assert main(["decompress", str(png.with_suffix(".hc")), "-o", str(out), "-q"]) == 0
    with Image.open(out) as image:
        assert image.format == kind and psnr(photo, np.asarray(image.convert("RGB"))) > 25


def test_decompress_refuses_a_lossy_extension(png, tmp_path, capsys):
    assert main(["compress", str(png), "-q"]) == 0
    assert main(["decompress", str(png.with_suffix(".hc")), "-o", str(tmp_path / "y.jpg")]) == 1
    assert "lossless" in capsys.readouterr().err and not (tmp_path / "y.jpg").exists()


def test_dash_reads_standard_input_and_writes_standard_output(png, photo):
    run = [sys.executable, "-m", "hybridcodec.cli"]
    hc = subprocess.run([*run, "compress", "-", "--codec", "jpeg", "-q"], input=png.read_bytes(),
                        capture_output=True, check=True).stdout
    assert unpack(hc).header.codec == "jpeg"
    out = subprocess.run([*run, "decompress", "-", "-o", "-", "-q"], input=hc, capture_output=True, check=True)
    assert psnr(photo, np.asarray(Image.open(io.BytesIO(out.stdout)))) > 25


# -- 7. quiet where asked, clear where it matters ---------------------------------------


def test_no_tensorflow_log_lines_on_stderr(png):
    run = [sys.executable, "-m", "hybridcodec.cli"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    for quiet in ([], ["-q"]):
        for argv in (["compress", str(png), "--codec", "jpeg", "--force", *quiet],
                     ["decompress", str(png.with_suffix(".hc")), "-o", str(png.with_name("b.png")), "--force",
                      *quiet],
                     ["info", str(png.with_suffix(".hc"))]):
            result = subprocess.run([*run, *argv], capture_output=True, text=True, env=env)
            assert result.returncode == 0 and result.stderr == "", (argv, result.stderr)


def test_unreachable_scheduler_is_one_line_within_5_seconds(png, tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    other = tmp_path / "b.png"
    other.write_bytes(png.read_bytes())
    start = time.monotonic()
    assert main(["compress", str(png), str(other), "-o", str(tmp_path / "out"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 1
    assert time.monotonic() - start < 8  # 5 s timeout plus Dask's start-up
    err = capsys.readouterr().err.strip()
    assert "cannot reach the Dask scheduler" in err and len(err.splitlines()) == 1


def test_too_many_pixels_names_max_pixels_and_pillow_stays_quiet(png, capsys):
    with _no_bomb_warning():
        assert main(["compress", str(png), "--max-pixels", "1000"]) == 1
    err = capsys.readouterr().err
    assert "--max-pixels" in err and str(png) in err


class _no_bomb_warning:
    def __enter__(self):
        import warnings

        self.catcher = warnings.catch_warnings(record=True)
        self.caught = self.catcher.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self.catcher.__exit__(*exc)
        assert not [w for w in self.caught if "DecompressionBomb" in type(w.message).__name__]


def test_single_file_errors_name_the_file(tmp_path, capsys):
    bad = tmp_path / "broken.hc"
    bad.write_bytes(b"\x89HCODEC\n\x02" + b"\0" * 10)
    assert main(["decompress", str(bad)]) == 1
    assert str(bad) in capsys.readouterr().err


def test_16_bit_input_says_once_that_it_is_coded_at_8_bits(tmp_path, photo, capsys):
    path = tmp_path / "wide.png"
    Image.fromarray(photo[:, :, 0].astype(np.uint16) * 257).save(path)
    assert main(["compress", str(path), "-q"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "16-bit" in line]
    assert len(warned) == 1 and "8 bits" in warned[0]


# -- 8. the Pillow plugin ---------------------------------------------------------------


def test_pillow_save_all_of_one_frame_saves_and_of_many_refuses(tmp_path, photo):
    image = Image.fromarray(photo)
    image.save(tmp_path / "x.hc", save_all=True)
    assert Image.open(tmp_path / "x.hc").size == image.size
    with pytest.raises(hybridcodec.HybridCodecError, match="frames"):
        image.save(tmp_path / "y.hc", save_all=True, append_images=[image])


def test_pillow_unknown_option_is_refused(tmp_path, photo):
    with pytest.raises(hybridcodec.HybridCodecError, match="qualty"):
        Image.fromarray(photo).save(tmp_path / "x.hc", qualty=20)


def test_pillow_mode_i_is_gray_and_mode_f_is_refused(tmp_path, photo):
    gray = photo[:, :, 0].astype(np.int32) * 257
    Image.fromarray(gray, mode="I").save(tmp_path / "x.hc", codec="webp", quality=90)
    header = unpack((tmp_path / "x.hc").read_bytes()).header
    assert (header.channels, header.bits) == (1, 16)
    with pytest.raises(hybridcodec.HybridCodecError, match="mode F"):
        Image.fromarray(photo[:, :, 0].astype(np.float32)).save(tmp_path / "y.hc")


# -- 9. the basics ------------------------------------------------------------------------


def test_version_and_zoo_listing(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"hybridcodec {hybridcodec.__version__}"
    assert main(["zoo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "codec", "scale", "status", "size"]
    assert all(line.split()[3] == "current" for line in lines[1:])
    assert main(["zoo", "--all"]) == 0
    assert "superseded" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["compress", "decompress", "info", "train", "bench", "zoo", "costs",
                                     "bench-large", "demo"])
def test_every_help_states_every_default(command, capsys):
    from hybridcodec.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    for action in sub._actions:
        # flags (--no-strengths) have no default to state: "(default: True)" read as "off by default"
        if action.option_strings and action.nargs != 0 and action.default not in (None, False, "==SUPPRESS=="):
            assert "default" in sub.formatter_class("x")._get_help_string(action), (command, action.dest)
