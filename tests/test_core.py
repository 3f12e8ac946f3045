"""The core's homes: a codec is one class, runtime modules never import the
tools, the package has no import cycle, and every path codes through one
CodingPath."""

import ast
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hybridcodec
from hybridcodec import codecs, zoo
from hybridcodec.cli import main
from hybridcodec.metrics import psnr

PACKAGE = Path(hybridcodec.__file__).parent
# The runtime is every module at the package's top but the CLI (which imports
# a tool inside the command that runs it); the tools live in hybridcodec/tools/.
RUNTIME = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__", "cli"))


class Posterize(codecs.Codec):
    """A test-only lossy codec: keeps the top bits of each sample (more at a
    higher quality) in a PNG. Its id is one docs/FORMAT.md never lists."""

    name, codec_id, extension = "posterize", 250, ".post"
    quality_grid = (10, 50, 90)

    def available(self) -> bool:
        return True

    def encode(self, rgb, quality):
        bits = 1 + quality * 7 // 99
        return codecs.get_codec("png").encode((rgb >> (8 - bits)) << (8 - bits), 0)

    def decode(self, data):
        return codecs.get_codec("png").decode(data)


@pytest.fixture
def posterize():
    codecs.register(Posterize)
    yield codecs.by_name("posterize")
    codecs.unregister("posterize")


def test_a_codec_is_one_class_and_round_trips_through_the_cli(posterize, tmp_path, photo, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    assert main(["compress", str(src), "--codec", "posterize", "--quality", "30", "-q"]) == 0
    data = (tmp_path / "in.hc").read_bytes()
    assert data[9] == 250  # the codec byte (docs/FORMAT.md) is the class's codec_id
    assert main(["info", str(tmp_path / "in.hc"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["codec"] == "posterize"
    assert main(["decompress", str(tmp_path / "in.hc"), "-o", str(tmp_path / "out.png"), "-q"]) == 0
    restored = np.asarray(Image.open(tmp_path / "out.png"))
    assert restored.shape == photo.shape and 15 < psnr(photo, restored) < 40  # 3 bits a sample
    assert main(["compress", str(src), "--codec", "posterize", "--native", "-o", str(tmp_path / "x")]) == 1
    assert "--native needs a codec with standard files" in capsys.readouterr().err


def test_an_unregistered_codec_id_is_refused_in_one_line(posterize, photo):
    data = hybridcodec.compress(photo, codec="posterize", quality=50)
    codecs.unregister("posterize")
    with pytest.raises(hybridcodec.HybridCodecError, match="unknown codec id 250"):
        hybridcodec.decompress(data)


class CoarseJPEG(codecs.Encoder):
    """A test-only JPEG encoder: Pillow's libjpeg at half the asked quality,
    4:4:4, with an id docs/FORMAT.md never lists."""

    name, file_id = "coarse", 250
    quality_knots = ((1, 1), (99, 50))

    def encode(self, rgb, quality, effort):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, subsampling=0)
        return buffer.getvalue()


@pytest.fixture
def coarse_jpeg():
    codecs.register_encoder("jpeg")(CoarseJPEG)
    yield codecs.by_name("jpeg").encoders["coarse"]
    codecs.unregister_encoder("jpeg", "coarse")


def test_an_encoder_is_one_class_and_files_name_it(coarse_jpeg, tmp_path, photo, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(photo).save(src)
    assert main(["compress", str(src), "--codec", "jpeg", "--encoder", "coarse", "--quality", "60", "-q"]) == 0
    assert main(["info", str(tmp_path / "in.hc"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encoder"].startswith("coarse,")
    payload = hybridcodec.pipeline.read_file((tmp_path / "in.hc").read_bytes()).payload
    assert payload == coarse_jpeg.encode(photo, 30, None)  # its knots: quality 60 codes at 30
    assert "coarse" in codecs.by_name("jpeg").installed_encoders()
    codecs.unregister_encoder("jpeg", "coarse")
    with pytest.raises(hybridcodec.HybridCodecError, match="unknown jpeg encoder 250"):
        hybridcodec.decompress((tmp_path / "in.hc").read_bytes())
    with pytest.raises(ValueError, match="id 2 used twice"):
        codecs.register_encoder("jpeg")(type("Twice", (CoarseJPEG,), {"name": "twice", "file_id": 2}))


def test_training_only_encoders_write_no_files(photo):
    jpeg = codecs.get_codec("jpeg")
    assert jpeg.encoders["camera"].file_id is None and "camera" not in jpeg.installed_encoders()
    assert jpeg.configured("camera").encode(photo, 50)[:3] == b"\xff\xd8\xff"  # training writes them
    with pytest.raises(hybridcodec.HybridCodecError, match="writes training files only"):
        hybridcodec.compress(photo, codec="jpeg", encoder="camera")


def _imports(module: str) -> set[str]:
    """The hybridcodec modules ``module`` (a dotted name under the package,
    "tools.bench" for instance) imports, at any depth of its code, as dotted
    names ("tools" for the package itself)."""
    package = module.split(".")[:-1]
    tree = ast.parse((PACKAGE.joinpath(*module.split(".")).with_suffix(".py")).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hybridcodec."):
            found.add(node.module.removeprefix("hybridcodec."))
    return found


@pytest.mark.parametrize("module", RUNTIME)
def test_runtime_modules_never_import_the_tools(module):
    assert not [name for name in _imports(module) if name.split(".")[0] == "tools"], module


def test_the_boundary_check_sees_a_tool_import():
    assert "tools.bench" in _imports("cli") and "tools.training" in _imports("cli")
    assert {"coding", "tools.export"} <= _imports("tools.zoo_admin")


def test_the_package_has_no_import_cycle():
    modules = [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    modules += [f"tools.{p.stem}" for p in (PACKAGE / "tools").glob("*.py") if p.stem != "__init__"]
    graph = {m: _imports(m) & set(modules) for m in modules}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph[start])

    assert [m for m in modules if reaches(m, m)] == []


def test_the_cli_only_parses_arguments():
    cli = (PACKAGE / "cli.py").read_text()
    for name in ("def write_atomic", "def compress_file", "def decompress_file", "tempfile", "from .container",
                 "from .zoo import", "from . import zoo"):
        assert name not in cli, name


def test_manifest_marks_what_the_tables_use():
    manifest = zoo.manifest()
    assert set(manifest) <= {"models", "operating_points", "pre_edit", "plain_files"}  # evidence lives in results/
    used = {row.get("post") for table in manifest["operating_points"].values() for row in table}
    used |= {name for pair in manifest.get("pre_edit", {}).values() for name in pair.values()}
    used |= set(manifest.get("plain_files", {}).values())
    newest_light = {e.light_of: e.name for e in zoo.entries() if e.light_of}  # light: the last added serves
    used |= {light for full, light in newest_light.items() if full in used}
    used |= {e.name for e in zoo.entries() if e.variant_of in used}  # an int8 twin serves where its network does
    for entry in zoo.entries():
        assert entry.status == ("current" if entry.name in used else "superseded"), entry.name


def test_lookups_are_cached_and_naming_a_file_does_not_change_it(photo):
    assert zoo.entries() is zoo.entries()
    parsed = hybridcodec.pipeline.encode(photo, "jpeg", 30).hc
    from hybridcodec.container import unpack

    raw = unpack(hybridcodec.compress(photo, "jpeg", 30))
    assert raw.header.model("post").name == ""  # the file stores a shipped model by hash alone
    named = zoo.named(raw)
    assert named.header.model("post").name and raw.header.model("post").name == ""
    assert named.header.model("post") == parsed.header.model("post")


def test_rate_control_scores_a_16_bit_image_at_8_bits(photo):
    """Trial files are compared with the image as coded (8 bits), not the
    16-bit original (which scored every candidate about -43 dB)."""
    from hybridcodec import ratecontrol

    wide = photo.astype(np.uint16) * 257
    best = ratecontrol.reach_psnr(wide, "webp", 30.0)
    assert psnr(photo, hybridcodec.decompress(best.data)) >= 30.0
    assert len(best.data) < len(hybridcodec.compress(photo, "webp", 95, scale=1))
