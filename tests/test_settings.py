"""One settings type (settings.EncodeSettings): the command line states its
defaults, and every way in (API, Pillow plugin, command line, batch) codes
the same settings to the same bytes."""

import argparse
import io
import re

import pytest
from PIL import Image

import hybridcodec
from hybridcodec import HybridCodecError, files, settings
from hybridcodec.cli import build_parser, main
from hybridcodec.settings import EncodeSettings

# compress's options that say how to run, not how to encode: batch.py's and argparse's own
RUN_OPTIONS = {"help", "output", "force", "jobs", "scheduler", "quiet"}


def _compress_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["compress"]


def _stated_default(text: str):
    """The default a help text states: ``(default: X``, ``X (default``, or ``on/off by default``."""
    for pattern in (r"\(default: ([^;,)]+)", r"(\S+) \(default[;)]", r"\b(on|off) by default"):
        match = re.search(pattern, text)
        if match:
            value = match.group(1)
            if value in ("on", "off"):
                return value == "on"
            if value.startswith("2^"):
                return 2 ** int(value[2:])
            return int(value) if value.isdigit() else value
    return None


def test_every_compress_option_is_a_setting_with_the_same_default():
    parser = _compress_parser()
    formatter = parser._get_formatter()
    options = {}
    for action in parser._actions:
        if not action.option_strings or action.dest in RUN_OPTIONS:
            continue
        assert action.dest in settings.names(), f"{action.option_strings[0]} is no EncodeSettings field"
        default = settings.default(action.dest)
        if action.default is not None:  # argparse's own default (a None: "not given", the field's)
            assert action.default == default, action.option_strings[0]
        stated = _stated_default(formatter._expand_help(action))
        if stated is not None and action.dest != "encoder":  # encoder: "the one measured best", in words
            assert stated == default, f"{action.option_strings[0]} --help says {stated!r}, the field {default!r}"
        assert action.default is not None or stated is not None or default is None, action.option_strings[0]
        options[action.dest] = action
    # every setting but what the file stores from the image itself is an option
    assert set(settings.names()) - set(options) == {"icc", "metadata"}
    assert options["quality"].default is None and "(default: 50;" in formatter._expand_help(options["quality"])


def test_help_text_takes_the_default_from_the_field():
    assert "(default: webp," in settings.help_text("codec")
    assert settings.help_text("precision").startswith("the restoration network's arithmetic: int8 (default;")
    assert "off by default" in settings.help_text("pre_edit")


@pytest.mark.parametrize("chosen", [
    {"codec": "jpeg", "quality": 30, "precision": "float32"},
    {"codec": "webp", "quality": 40, "scale": "4/3"},
    {"codec": "webp", "quality": 20, "native": True, "scale": "table"},
])
def test_the_api_the_plugin_and_the_command_line_write_the_same_bytes(png, photo, chosen, tmp_path):
    api = hybridcodec.compress(photo, **chosen)
    saved = io.BytesIO()
    Image.fromarray(photo).save(saved, "HC", **chosen)
    output = tmp_path / ("out.hc.webp" if chosen.get("native") else "out.hc")
    flags = [f"--{name}" if value is True else f"--{name}={value}" for name, value in chosen.items()]
    assert main(["compress", str(png), "-o", str(output), "-q", *flags]) == 0
    folder = tmp_path / "folder"  # batch.py's way: outputs named by the run
    assert main(["compress", str(png), "-o", f"{folder}/", "-q", *flags]) == 0
    batch = folder / ("a.hc.webp" if chosen.get("native") else "a.hc")
    assert api == saved.getvalue() == output.read_bytes() == batch.read_bytes()
    assert api != hybridcodec.compress(photo)  # the settings are not lost on the way: another file


def test_given_names_decide_compress_checks(png):
    assert EncodeSettings.of(codec="png", quality=None).named_codec() == "png"
    assert EncodeSettings.of(quality=None).named_codec() is None  # the output's name may choose
    EncodeSettings.of(codec="png").check_request()  # the default quality is not "given"
    with pytest.raises(HybridCodecError, match="^png is lossless: --quality and --scale do not apply$"):
        EncodeSettings.of(codec="png", quality=50).check_request()
    with pytest.raises(HybridCodecError, match="^--target-size and --search do not go together$"):
        files.compress_file(png, png.with_suffix(".hc"), codec="jpeg", target_size="3KB", search=True)
    with pytest.raises(TypeError, match="unknown encode setting"):
        EncodeSettings.of(qualiy=50)
    with pytest.raises(TypeError, match="target_size"):  # the API never took a target: as before
        hybridcodec.compress(None, target_size="3KB")


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        EncodeSettings().quality = 10
