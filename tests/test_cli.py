import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from hybridcodec.cli import main
from hybridcodec.container import unpack
from hybridcodec.metrics import psnr


@pytest.fixture
def png(tmp_path, photo):
    path = tmp_path / "x.png"
    Image.fromarray(photo).save(path)
    return path


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_compress_decompress_info(png, photo, capsys):
    assert main(["compress", str(png), "--codec", "jpeg", "--quality", "60"]) == 0
    hc = png.with_suffix(".hc")
    assert hc.exists()
    out = capsys.readouterr().out
    assert "jpeg mozjpeg-default, effort default, quality " in out  # the default tune's encoder, its own quality
    png.rename(png.with_name("original.png"))
    assert main(["decompress", str(hc)]) == 0
    out = np.asarray(Image.open(png))
    assert psnr(photo, out) > 28
    assert main(["info", str(hc)]) == 0
    assert "codec" in capsys.readouterr().out


def test_info_json(png, capsys):
    main(["compress", str(png), "-q"])
    capsys.readouterr()
    assert main(["info", "--json", str(png.with_suffix(".hc"))]) == 0

    assert json.loads(capsys.readouterr().out)["codec"] == "webp"


def test_three_quarter_scale_from_the_command_line(png, photo, capsys):
    assert main(["compress", str(png), "--codec", "jpeg", "--quality", "40", "--scale", "4/3"]) == 0
    assert "scale 4/3" in capsys.readouterr().out
    hc = png.with_suffix(".hc")
    assert main(["info", "--json", str(hc)]) == 0
    assert json.loads(capsys.readouterr().out)["scale"] == "4/3"
    png.unlink()
    assert main(["decompress", str(hc)]) == 0
    assert np.asarray(Image.open(png)).shape == photo.shape


def test_native_at_a_smaller_scale_warns_in_one_line(png, capsys):
    assert main(["compress", str(png), "--codec", "jpeg", "--native", "--scale", "4/3"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"hybridcodec: warning: {png}: a native file at scale 4/3 shows at three-quarter size "
                   "in other viewers"]


@pytest.mark.parametrize("size", ["3KB", "600B"])
def test_rate_control_warns_only_about_the_file_it_writes(png, capsys, size):
    """Rate control tries every scale; a native file warns about its own scale only."""
    assert main(["compress", str(png), "--codec", "jpeg", "--native", "--target-size", size, "--force"]) == 0
    out, err = capsys.readouterr()
    scale = out.split("scale ")[1].split(",")[0]
    warned = [line for line in err.splitlines() if line.startswith(f"hybridcodec: warning: {png}: a native file")]
    size = "half" if scale == "2" else "three-quarter"
    assert warned == ([] if scale == "1" else [f"hybridcodec: warning: {png}: a native file at scale {scale} "
                                               f"shows at {size} size in other viewers"])


def test_existing_output_needs_force(png, capsys):
    target = png.with_suffix(".hc")
    target.write_bytes(b"precious")
    assert main(["compress", str(png)]) == 1
    assert target.read_bytes() == b"precious"
    assert "--force" in capsys.readouterr().err
    # a file hybridcodec did not write is replaced only when named with -o
    assert main(["compress", str(png), "--force"]) == 1
    assert target.read_bytes() == b"precious" and "not written by hybridcodec" in capsys.readouterr().err
    assert main(["compress", str(png), "-o", str(target), "--force"]) == 0
    assert unpack(target.read_bytes()).header.codec == "webp"
    assert main(["compress", str(png), "--force", "--codec", "jpeg"]) == 0  # our own output: replaced
    assert unpack(target.read_bytes()).header.codec == "jpeg"


def test_input_is_never_written(png, capsys):
    before = png.read_bytes()
    assert main(["compress", str(png), "-o", str(png), "--force"]) == 1
    assert png.read_bytes() == before
    assert "is the input" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_bad_image_input_exits_1_with_one_line_and_no_output(tmp_path, content, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    assert main(["compress", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("hybridcodec: error:") and "\n" not in err
    assert files(tmp_path) == ["bad.png"]


def test_corrupt_and_truncated_hc_exit_1_and_leave_nothing(png, tmp_path, capsys):
    main(["compress", str(png), "-q"])
    data = png.with_suffix(".hc").read_bytes()
    png.unlink()
    for name, broken in (("trunc.hc", data[: len(data) // 2]), ("flip.hc", data[:-8] + b"\0" * 8)):
        (tmp_path / name).write_bytes(broken)
        assert main(["decompress", str(tmp_path / name)]) == 1
        assert main(["info", str(tmp_path / name)]) == 1
    assert files(tmp_path) == ["flip.hc", "trunc.hc", "x.hc"]
    err = capsys.readouterr().err
    assert "truncated" in err and "CRC" in err


def test_missing_file_exits_1(tmp_path, capsys):
    assert main(["decompress", str(tmp_path / "nope.hc")]) == 1
    assert main(["compress", str(tmp_path / "nope.png")]) == 1


def test_usage_errors_exit_2(png):
    for argv in (["compress"], ["compress", str(png), "--codec", "gif"], ["compress", str(png), "--scale", "3"],
                 ["frobnicate"], []):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2


def test_help_for_every_command(capsys):
    for command in ("compress", "decompress", "info", "train", "bench", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: hybridcodec " + command in capsys.readouterr().out


def test_failed_write_leaves_no_temporary_file(png, tmp_path, monkeypatch):
    import hybridcodec.files as files_module

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(files_module.os, "replace", explode)
    monkeypatch.setattr(files_module.os, "link", explode)  # the rename without --force
    with pytest.raises(KeyboardInterrupt):
        files_module.write_atomic(tmp_path / "out.hc", b"data", force=False)
    assert files(tmp_path) == ["x.png"]


# -- inputs: anything Pillow reads ------------------------------------------------


def round_trip(tmp_path, image: Image.Image, fmt: str, *extra, **save_options):
    src = tmp_path / f"in.{fmt.lower()}"
    image.save(src, format=fmt, **save_options)
    assert main(["compress", str(src), "-o", str(tmp_path / "in.hc"), "-q", "--force", "--codec", "jpeg",
                 "--quality", "90", *extra]) == 0
    assert main(["decompress", str(tmp_path / "in.hc"), "-o", str(tmp_path / "out.png"), "-q", "--force"]) == 0
    return Image.open(tmp_path / "out.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP", "BMP"])
def test_common_formats(tmp_path, photo, fmt):
    out = round_trip(tmp_path, Image.fromarray(photo), fmt)
    assert out.size == (128, 96) and out.mode == "RGB"
    assert psnr(photo, np.asarray(out)) > 25


def test_modes_are_converted(tmp_path, photo):
    rgb = Image.fromarray(photo)
    assert round_trip(tmp_path, rgb.convert("L"), "PNG").mode == "L"
    assert round_trip(tmp_path, rgb.convert("RGBA"), "PNG").mode == "RGBA"
    assert round_trip(tmp_path, rgb.convert("P"), "PNG").mode == "RGB"
    assert round_trip(tmp_path, rgb.convert("CMYK"), "TIFF").mode == "RGB"
    assert round_trip(tmp_path, rgb.convert("1"), "PNG").mode == "L"


def test_16_bit_png(tmp_path, photo):
    wide = Image.fromarray(photo[:, :, 0].astype(np.uint16) * 257)
    out = round_trip(tmp_path, wide, "PNG")
    assert out.mode == "L" and psnr(photo[:, :, 0], np.asarray(out)) > 30


def test_animated_takes_first_frame_with_warning(tmp_path, photo, capsys):
    frames = [Image.fromarray(photo), Image.fromarray(255 - photo)]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:])
    assert main(["compress", str(src), "--codec", "jpeg", "--quality", "90"]) == 0
    assert "first frame" in capsys.readouterr().err
    main(["decompress", str(tmp_path / "anim.hc"), "-q"])
    out = np.asarray(Image.open(tmp_path / "anim.png").convert("RGB")).astype(int)
    assert np.abs(out - photo).mean() < np.abs(out - (255 - photo)).mean()


def test_exif_orientation_is_applied(tmp_path, photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = round_trip(tmp_path, Image.fromarray(photo), "JPEG", exif=exif.tobytes())
    assert out.size == (96, 128)


def test_icc_kept_and_metadata_only_on_request(tmp_path, photo):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010E] = "a description"
    out = round_trip(tmp_path, Image.fromarray(photo), "PNG", icc_profile=icc, exif=exif.tobytes())
    assert out.info.get("icc_profile") == icc
    assert not out.getexif()
    out = round_trip(tmp_path, Image.fromarray(photo), "PNG", "--keep-metadata",
                     icc_profile=icc, exif=exif.tobytes())
    assert out.getexif()[0x010E] == "a description"


def test_real_subprocess(png):
    result = subprocess.run([sys.executable, "-m", "hybridcodec.cli", "compress", str(png), "--codec", "avif"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([sys.executable, "-m", "hybridcodec.cli", "decompress", str(png.with_suffix(".hc"))],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "exists" in result.stderr
    # the command's quick exit (cli.run) still flushes what it printed and runs atexit handlers
    code = ("import atexit, sys; atexit.register(lambda: print('atexit ran')); "
            f"sys.argv[1:] = ['info', '--json', {str(png.with_suffix('.hc'))!r}]; "
            "from hybridcodec.cli import run; run()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    info, marker = result.stdout.rsplit("atexit", 1)
    assert json.loads(info)["codec"] == "avif" and marker == " ran\n"


def test_encoder_and_effort_are_chosen_recorded_and_printed(png, capsys):
    assert main(["compress", str(png), "--codec", "avif", "--encoder", "libavif", "--effort", "fast",
                 "--scale", "1"]) == 0
    capsys.readouterr()
    assert main(["info", "--json", str(png.with_suffix(".hc"))]) == 0
    assert json.loads(capsys.readouterr().out)["encoder"] == "libavif, effort fast"
    assert main(["compress", str(png), "--codec", "jpeg", "--force"]) == 0
    assert "jpeg mozjpeg-default, effort default" in capsys.readouterr().out  # the perceptual tune's, by default
    assert main(["compress", str(png), "--codec", "jpeg", "--tune", "psnr", "--force"]) == 0
    assert "jpeg mozjpeg, effort default" in capsys.readouterr().out  # the psnr tune's
    assert main(["info", "--json", str(png.with_suffix(".hc"))]) == 0
    assert json.loads(capsys.readouterr().out)["tune"] == "psnr (its encoder, mozjpeg)"


def test_unknown_encoder_is_one_line_and_exit_1(png, capsys):
    assert main(["compress", str(png), "--codec", "jpeg", "--encoder", "libavif"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].endswith(": jpeg has no encoder 'libavif'; choose from "
                           "mozjpeg, mozjpeg-flat, turbo, mozjpeg-default, jpegli")
    assert not png.with_suffix(".hc").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["compress", str(png), "--effort", "slowest"])
    assert exit_info.value.code == 2


def test_a_missing_folder_of_images_is_one_line(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "none"), "--codec", "jpeg", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"hybridcodec: error: not a folder of images: {tmp_path / 'none'}"
    assert not (tmp_path / "out").exists()
