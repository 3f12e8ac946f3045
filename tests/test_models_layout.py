"""models/ keeps the superseded networks apart (issue #39, item 7): a
current network's files in models/, a superseded one's in
models/superseded/, and the zoo finds both."""

import importlib.util
from pathlib import Path

from hybridcodec import zoo

ROOT = Path(__file__).resolve().parent.parent


def _sort_models():
    spec = importlib.util.spec_from_file_location("sort_models", ROOT / "scripts" / "sort_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_network_lies_where_its_status_puts_it():
    assert _sort_models().misplaced() == [], "run python scripts/sort_models.py"


def test_the_zoo_finds_superseded_and_current_networks():
    superseded = [e for e in zoo.entries() if e.status == "superseded"]
    current = [e for e in zoo.entries() if e.status == "current"]
    assert superseded and current
    for entry in superseded:
        assert entry.onnx_path.parent.name == "superseded" and entry.onnx_path.is_file()
        assert not entry.file or entry.path.parent.name == "superseded" and entry.path.is_file()
    for entry in current:
        assert entry.onnx_path.parent == zoo.weights_dir() and entry.onnx_path.is_file()


def test_misplaced_lists_a_file_in_the_wrong_folder(tmp_path):
    (tmp_path / "superseded").mkdir()
    (tmp_path / "manifest.json").write_text(
        '{"models": [{"name": "old", "file": "old.keras", "onnx": "old.onnx", "card": "old.json",'
        ' "status": "superseded"}, {"name": "new", "file": "", "onnx": "new.onnx", "card": "new.json",'
        ' "status": "current"}]}')
    for name in ("old.keras", "superseded/old.onnx", "superseded/old.json", "new.onnx", "superseded/new.json"):
        (tmp_path / name).write_bytes(b"")
    assert _sort_models().misplaced(tmp_path) == [(tmp_path / "old.keras", tmp_path / "superseded" / "old.keras"),
                                                   (tmp_path / "superseded" / "new.json", tmp_path / "new.json")]
