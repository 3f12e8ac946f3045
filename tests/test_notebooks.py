"""The notebooks themselves run under nbmake (`make test`); here, how they are kept."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "training", "rate_distortion"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_never_reading_shared(path):
    book = json.loads(path.read_text())
    for cell in book["cells"]:
        assert not cell.get("outputs"), f"{path.name} has outputs"
        assert "shared/" not in "".join(cell["source"])
