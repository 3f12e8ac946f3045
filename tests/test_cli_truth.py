"""The command line tells the truth (issue #37, items 6-8): every --help
states its defaults, options that do not go together are usage errors,
long work shows progress on a terminal only, and pipes and terminals are
treated as gzip and zstd treat them."""

import argparse
import io
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

import hybridcodec
from hybridcodec import cli
from hybridcodec.cli import build_parser, main

COMMAND = [sys.executable, "-c", "from hybridcodec.cli import run; run()"]  # the console script


def parsers(parser, name="hybridcodec"):
    """Every (sub)command's parser, by its name."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def rendered(parser, action) -> str:
    """The lines --help prints for ``action``, on one line."""
    formatter = parser._get_formatter()
    formatter.add_argument(action)
    return " ".join(formatter.format_help().split())


def test_every_option_help_states_its_default():
    missing, misleading = [], []
    for name, parser in parsers(build_parser()):
        for action in parser._actions:
            if not action.option_strings or action.default is argparse.SUPPRESS:
                continue
            text = rendered(parser, action)
            if action.nargs == 0:  # a flag: its default is "not given", never "(default: True)"
                if "default: True" in text or "default: False" in text:
                    misleading.append(f"{name} {action.option_strings[0]}: {text}")
            elif action.default is not None and "default" not in text:
                missing.append(f"{name} {action.option_strings[0]}")
    assert not missing, missing
    assert not misleading, misleading


def test_bench_help_prints_the_defaults_readme_promises(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--codec {jpeg,webp,avif,jpegxl} codec benchmarked (default: webp)" in out
    assert "(default: True)" not in out


@pytest.fixture
def plain_webp(tmp_path, photo):
    path = tmp_path / "p.webp"
    Image.fromarray(photo).save(path, quality=50)
    return path


def test_info_reads_a_plain_webp_given_its_quality(plain_webp, capsys):
    assert main(["info", str(plain_webp)]) == 1
    assert "give its --quality" in capsys.readouterr().err
    assert main(["info", str(plain_webp), "--quality", "50", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["codec"], info["quality"]) == ("webp", 50)
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "plain .jpg/.webp/.avif/.jxl" in help_text and "--quality" in help_text


def test_quality_given_for_a_plain_jpeg_is_ignored_with_one_warning(tmp_path, photo, capsys):
    source = tmp_path / "p.jpg"
    Image.fromarray(photo).save(source, quality=20)
    assert main(["decompress", str(source), "-o", str(tmp_path / "a.png"), "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["decompress", str(source), "-o", str(tmp_path / "b.png"), "-q", "--quality", "90"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"hybridcodec: warning: {source}: quality 90 ignored: this jpeg file's quantization tables say 20"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))


@pytest.fixture
def png(tmp_path, photo):
    path = tmp_path / "x.png"
    Image.fromarray(photo).save(path)
    return path


@pytest.mark.parametrize("extra", [["--quality", "50"], ["--scale", "2"]])
def test_options_a_lossless_codec_refuses_are_wrong_usage(png, capsys, extra):
    with pytest.raises(SystemExit) as exit_info:
        main(["compress", str(png), "--codec", "png", *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: hybridcodec compress ")
    assert err.endswith("hybridcodec compress: error: png is lossless: --quality and --scale do not apply\n")
    assert not png.with_suffix(".hc").exists()


def test_an_unknown_option_shows_the_commands_usage(png, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compress", str(png), "--bogus"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: hybridcodec compress ")
    assert err.endswith("hybridcodec compress: error: unrecognized arguments: --bogus\n")


# -- progress ---------------------------------------------------------------------


class Terminal(io.StringIO):
    """Standard error as a terminal."""

    def isatty(self):
        return True


@pytest.fixture
def wide(tmp_path):
    """A .hc file whose restoration runs in two tiles (wider than one tile and its overlap)."""
    image = np.ascontiguousarray(np.tile(np.asarray(Image.open(hybridcodec.__path__[0] + "/samples/astronaut.png")
                                                    .convert("RGB"))[200:264], (1, 2, 1))[:, :900])
    path = tmp_path / "wide.hc"
    path.write_bytes(hybridcodec.compress(image, codec="jpeg", quality=40, scale=1))
    return path


def decompress_with_stderr(monkeypatch, stderr, *argv):
    monkeypatch.setattr(cli, "PROGRESS_DELAY_S", 0, raising=False)  # the bar at once: this decode is short
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["decompress", *argv, "--force"]) == 0
    return stderr.getvalue()


def test_a_multi_tile_decode_shows_a_bar_on_a_terminal(wide, monkeypatch):
    out = str(wide.with_suffix(".png"))
    err = decompress_with_stderr(monkeypatch, Terminal(), str(wide), "-o", out)
    assert "network:" in err and "/2 [" in err  # a bar of two tiles, cleared when done
    assert decompress_with_stderr(monkeypatch, io.StringIO(), str(wide), "-o", out) == ""  # not a terminal
    assert decompress_with_stderr(monkeypatch, Terminal(), str(wide), "-o", out, "-q") == ""  # -q


def test_a_folder_run_draws_no_bar_into_a_log(tmp_path, photo, capsys):
    for k in range(2):
        Image.fromarray(photo).save(tmp_path / f"{k}.png")
    assert main(["compress", str(tmp_path), "-o", str(tmp_path / "out"), "--codec", "jpeg"]) == 0
    assert capsys.readouterr().err == ""  # standard error is not a terminal here


def test_the_api_prints_no_progress(wide, capsys):
    hybridcodec.decompress(wide.read_bytes())
    assert capsys.readouterr().err == ""


def test_rate_control_counts_its_encodes_on_a_terminal(png, monkeypatch):
    monkeypatch.setattr(cli, "PROGRESS_DELAY_S", 0, raising=False)
    monkeypatch.setattr(sys, "stderr", stderr := Terminal())
    assert main(["compress", str(png), "--codec", "jpeg", "--target-size", "1500"]) == 0
    assert "rate control: " in stderr.getvalue() and "encode" in stderr.getvalue()


def test_bench_prints_a_short_table_without_bjontegaards_warnings(tmp_path, monkeypatch, capsys):
    import hybridcodec.tools.bench as bench

    def run(folder, settings, *args, **kwargs):
        warnings.warn_explicit("Curves do not overlap. BD cannot be calculated.", UserWarning, "bjontegaard_delta.py",
                               49, module="bjontegaard.bjontegaard_delta")
        return {"codec": settings.codec, "images": str(folder),
                "references": {"plain": {"codec": "jpeg", "encoder": "mozjpeg", "effort": "default"}},
                "bd_rate_by_reference": {"plain": {"psnr": -12.34, "ms_ssim": None}}, "bd_psnr_db": 0.5,
                "worst_point": {"image": "a.png", "quality": 10, "gain_db": -0.25}, "points_below_plain": 1,
                "points_judged": 10, "mean_encoding_time_s": {"plain": 0.01, "hybrid": 0.1},
                "mean_decoding_time_s": {"plain": 0.001, "hybrid": 0.05}}

    monkeypatch.setattr(bench, "run", run)
    assert main(["bench", str(tmp_path), "--codec", "jpeg", "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[1:4] == ["| against | PSNR-RGB | MS-SSIM |", "|---|---:|---:|", "| plain: jpeg mozjpeg | -12.3% | - |"]
    assert "worst -0.25 dB (a.png, quality 10)" in captured.out
    assert lines[-1].startswith(f"every figure: {tmp_path / 'out' / 'jpeg-summary.json'}")


# -- pipes and terminals --------------------------------------------------------------


def test_a_closed_pipe_ends_quietly():
    """`hybridcodec zoo --all | head`: the reader goes away before the listing."""
    process = subprocess.Popen([*COMMAND, "zoo", "--all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before the command writes: its first write meets a closed pipe
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141  # 128 + SIGPIPE, as a shell reports a tool SIGPIPE ended
    assert err == ""


def on_a_terminal(argv, stdin_path) -> tuple[int, str, bytes]:
    """(exit status, standard error, what reached the terminal) of a command
    whose standard output is a terminal."""
    import pty

    master, slave = pty.openpty()
    with open(stdin_path, "rb") as stdin:
        result = subprocess.run(argv, stdin=stdin, stdout=slave, stderr=subprocess.PIPE, timeout=120)
    os.close(slave)
    os.set_blocking(master, False)
    try:
        shown = os.read(master, 1 << 16)
    except OSError:  # nothing written (EAGAIN) or the terminal gone (EIO)
        shown = b""
    os.close(master)
    return result.returncode, result.stderr.decode(), shown


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty")
@pytest.mark.parametrize("argv", [["compress", "-"], ["compress", "-", "-o", "-"], ["decompress", "-", "-o", "-"]])
def test_binary_output_is_refused_on_a_terminal(png, argv):
    source = png
    if argv[0] == "decompress":
        source = png.with_suffix(".hc")
        assert main(["compress", str(png), "-q"]) == 0
    code, err, shown = on_a_terminal([*COMMAND, *argv], source)
    assert code == 1 and shown == b""
    assert err == "hybridcodec: error: refusing to write binary data to a terminal; use -o FILE or redirect " \
                  "standard output\n"
